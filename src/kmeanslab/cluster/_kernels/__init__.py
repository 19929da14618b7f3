"""Thin Python faces of the compiled kernels (:mod:`kmeanslab._core`), grouped as the
engine calls them: ``dense``, ``sparse``, ``bounds`` (Hamerly / Elkan), ``family`` (L1,
medians, soft k-means, row draws). Each function coerces its inputs and hands over;
outputs are written in place."""
