"""Distances of rows to centres for ``transform``: accurate, and exactly 0 where a row is a centre.

The expanded form ||x||^2 - 2 x.c + ||c||^2 is fast (a GEMM) but loses digits to
cancellation when ||x - c||^2 is small next to ||x||^2 + ||c||^2: in float32 a row's
distance to itself came out as 5e-4. Here it is computed in float64 on row blocks
(scikit-learn upcasts float32 the same way), and the few pairs that lose more than 20
of float64's 53 bits are recomputed from their differences. Float32 results are then
within rounding of the true distance; float64 ones are scikit-learn's, but exact for
close pairs. Memory: per thread, float64 buffers of ``BLOCK`` rows; never a copy of X
or an (n, K, d) temporary.
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
# Values (pairs x features) of the differences recomputed at a time: 32 MB of float64.
PAIR_VALUES = 2**22


class _Blocks:
    """One thread's buffers, and the work on one block of rows."""

    def __init__(self, X, C, c_sq, scale, root, out):
        self.X, self.C, self.c_sq, self.scale, self.root, self.out = X, C, c_sq, scale, root, out
        self.copy = X.dtype != np.float64 or scale is not None
        self.xb = np.empty((BLOCK, X.shape[1]) if self.copy and not sp.issparse(X) else (0, 0))
        self.d2 = np.empty((BLOCK, C.shape[0]))

    def rows(self, lo, hi):
        """Rows lo:hi in float64 (each times ``scale`` when given)."""
        X, scale = self.X, self.scale
        if sp.issparse(X):
            xb = X[lo:hi].astype(np.float64)
            return xb if scale is None else sp.csr_matrix(xb.multiply(scale[lo:hi, None]))
        if not self.copy:
            return X[lo:hi]
        xb = self.xb[:hi - lo]
        if scale is None:
            np.copyto(xb, X[lo:hi])
        else:
            np.multiply(X[lo:hi], scale[lo:hi, None], out=xb)
        return xb

    def run(self, lo, hi):
        xb, d2, C, c_sq = self.rows(lo, hi), self.d2[:hi - lo], self.C, self.c_sq
        if sp.issparse(xb):
            x_sq = np.asarray(xb.multiply(xb).sum(axis=1)).ravel()
            d2[...] = xb @ C.T
        else:
            x_sq = np.einsum("ij,ij->i", xb, xb)
            np.matmul(xb, C.T, out=d2)
        d2 *= -2
        d2 += x_sq[:, None]
        d2 += c_sq
        # Rows whose nearest centre is far enough cannot hold a pair to recompute.
        near = np.flatnonzero(d2.min(axis=1) <= CANCEL * (x_sq + c_sq.max(initial=0)))
        rows, cols = np.nonzero(d2[near] <= CANCEL * (x_sq[near, None] + c_sq))
        rows = near[rows]
        step = max(1, PAIR_VALUES // C.shape[1])
        for s in range(0, rows.size, step):
            r, c = rows[s:s + step], cols[s:s + step]
            diff = (xb[r].toarray() if sp.issparse(xb) else xb[r]) - C[c]
            d2[r, c] = np.einsum("ij,ij->i", diff, diff)
        np.maximum(d2, 0, out=d2)
        if self.root:
            np.sqrt(d2, out=d2)
        self.out[lo:hi] = d2


def sq_distances(X, centers, row_scale=None, root=False, dtype=np.float64):
    """Squared Euclidean distances (their roots with ``root``), (n_samples, n_clusters), of
    ``dtype``, of the rows of X (dense or CSR; each times ``row_scale`` when given) to
    ``centers``.

    A row equal to a centre (after scaling) is at exactly 0 from it.
    """
    C = np.ascontiguousarray(centers, dtype=np.float64)
    c_sq = np.einsum("ij,ij->i", C, C)
    n = X.shape[0]
    out = np.empty((n, C.shape[0]), dtype=dtype)
    starts = list(range(0, n, BLOCK))
    threads = max(1, min(len(starts), os.cpu_count() or 1))

    def work(t):  # blocks t, t + threads, ...: one set of buffers per thread
        blocks = _Blocks(X, C, c_sq, row_scale, root, out)
        for lo in starts[t::threads]:
            blocks.run(lo, min(lo + BLOCK, n))

    # One BLAS thread per block and blocks in parallel: the same rounding on any thread count.
    with _engine.single_threaded_blas():
        if threads == 1:
            work(0)
        else:
            with ThreadPoolExecutor(threads) as pool:
                list(pool.map(work, range(threads)))
    return out


def euclidean(X, centers):
    """Euclidean distances of the rows of X to ``centers``, in X's dtype."""
    return sq_distances(X, centers, root=True, dtype=X.dtype)
