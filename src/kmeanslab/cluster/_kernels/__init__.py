"""Thin Python faces of the compiled kernels (:mod:`kmeanslab._core`), grouped as the
engine calls them: ``dense``, ``sparse``, ``bounds`` (Hamerly / Elkan), ``family`` (L1,
medians, soft k-means, row draws). Each function coerces its inputs and hands over;
outputs are written in place."""

import numpy as np

# Bound on the rounding of an expanded squared distance, relative to ||x||^2 + ||c||^2:
# keys closer than twice this are near-ties, and bounds are widened by it.
ERR = {np.dtype(np.float32): 1e-4, np.dtype(np.float64): 1e-12}
