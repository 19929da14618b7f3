"""Distances of rows to centres for ``transform``: accurate, and exactly 0 where a row is a centre.

The expanded form ||x||^2 - 2 x.c + ||c||^2 is fast (a GEMM) but loses digits to
cancellation when ||x - c||^2 is small next to ||x||^2 + ||c||^2: in float32 a row's
distance to itself came out as 5e-4. Here it is computed in float64 on row blocks
(scikit-learn upcasts float32 the same way), and the few pairs that lose more than 20
of float64's 53 bits are recomputed from their differences. Float32 results are then
within rounding of the true distance; float64 ones are scikit-learn's, but exact for
close pairs. Memory: float64 blocks of ``BLOCK`` rows, never a copy of X or an
(n, K, d) temporary.
"""

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import scipy.sparse as sp

from . import _engine

BLOCK = 512
# Pairs whose expanded squared distance is at most this share of ||x||^2 + ||c||^2 are
# recomputed from differences; elsewhere its relative error is below ~2**22 float64
# epsilons (1e-9; float32 rounds at 6e-8).
CANCEL = 2.0**-20
# Differences recomputed per batch: bounds the (pairs, d) temporary.
PAIRS = 4096


def _rows64(X, lo, hi, scale):
    """Rows lo:hi of X in float64, each times ``scale`` when given."""
    xb = X[lo:hi].astype(np.float64)
    if scale is None:
        return xb
    if sp.issparse(xb):
        return sp.csr_matrix(xb.multiply(scale[lo:hi, None]))
    xb *= scale[lo:hi, None]
    return xb


def _block(X, C, c_sq, scale, lo, hi, out):
    xb = _rows64(X, lo, hi, scale)
    if sp.issparse(xb):
        x_sq = np.asarray(xb.multiply(xb).sum(axis=1)).ravel()
        d2 = np.asarray(xb @ C.T)
    else:
        x_sq = np.einsum("ij,ij->i", xb, xb)
        d2 = xb @ C.T
    d2 *= -2
    d2 += x_sq[:, None]
    d2 += c_sq
    rows, cols = np.nonzero(d2 <= CANCEL * (x_sq[:, None] + c_sq))
    for s in range(0, rows.size, PAIRS):
        r, c = rows[s:s + PAIRS], cols[s:s + PAIRS]
        diff = (xb[r].toarray() if sp.issparse(xb) else xb[r]) - C[c]
        d2[r, c] = np.einsum("ij,ij->i", diff, diff)
    np.maximum(d2, 0, out=d2)
    out[lo:hi] = d2


def sq_distances(X, centers, row_scale=None):
    """Squared Euclidean distances, float64, (n_samples, n_clusters), of the rows of X
    (dense or CSR; each times ``row_scale`` when given) to ``centers``.

    A row equal to a centre (after scaling) is at exactly 0 from it.
    """
    C = np.ascontiguousarray(centers, dtype=np.float64)
    c_sq = np.einsum("ij,ij->i", C, C)
    n = X.shape[0]
    out = np.empty((n, C.shape[0]))
    starts = range(0, n, BLOCK)

    def run(lo):
        _block(X, C, c_sq, row_scale, lo, min(lo + BLOCK, n), out)

    threads = min(len(starts), os.cpu_count() or 1)
    # One BLAS thread per block and blocks in parallel: the same rounding on any thread count.
    with _engine.single_threaded_blas():
        if threads <= 1:
            for lo in starts:
                run(lo)
        else:
            with ThreadPoolExecutor(threads) as pool:
                list(pool.map(run, starts))
    return out


def euclidean(X, centers):
    """Euclidean distances of the rows of X to ``centers``, in X's dtype."""
    return np.sqrt(sq_distances(X, centers)).astype(X.dtype, copy=False)
