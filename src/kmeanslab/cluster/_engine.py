"""In-process engine: one Lloyd step as a map over row blocks and a reduce.

:func:`lloyd_block` is the unit of work: rows in, per-cluster sums / weights / SSE
out. The in-process loop calls it on all of X; a distributed backend calls the
same function on each block of rows and adds the results.
"""

import contextlib
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ._kernels import dense as _dk
from ._kernels import sparse as _sk

_blas = None
# Bound on the rounding of an expanded squared distance, relative to ||x||^2 + ||c||^2:
# keys closer than twice this are near-ties, and bounds are widened by it.
ERR = {np.dtype(np.float32): 1e-4, np.dtype(np.float64): 1e-12}


def single_threaded_blas():
    """Context in which BLAS runs on one thread (our kernels parallelise around it)."""
    global _blas
    if _blas is None:
        import scipy.linalg.cython_blas  # noqa: F401  (scipy's BLAS: load it, so that it is limited too)
        from threadpoolctl import ThreadpoolController

        _blas = ThreadpoolController()
    if not _blas.select(user_api="blas"):
        return contextlib.nullcontext()
    return _blas.limit(limits=1, user_api="blas")


def center_sq_norms(centers):
    """||c||^2 of a few rows; numpy, since waking a thread pool costs more than the work."""
    return np.einsum("ij,ij->i", centers, centers)


class Data:
    """X prepared once per fit: CSR or C-contiguous dense, squared row norms, weights."""

    def __init__(self, X, sample_weight):
        self.sparse = sp.issparse(X)
        self.X = X
        self.w = sample_weight
        self.dtype = X.dtype
        self.n, self.d = X.shape
        self.x_sq = _sk.row_sq_norms(X.data, X.indptr) if self.sparse else _dk.row_sq_norms(X)

    def byte_copy(self):
        """X as bytes for bound computations, computed once: (Q, scale, q_sq, q_err) with
        x'_i = scale * Q[i], q_sq[i] = ||x'_i||^2 and q_err[i] >= ||x_i - x'_i||; None
        when X is sparse or its values are not within BYTE_COPY_REL_ERR of 256 levels
        (MNIST's are: pixels / 255)."""
        if not hasattr(self, "_byte_copy"):
            self._byte_copy = None if self.sparse else _byte_copy(self.X, self.x_sq)
        return self._byte_copy

    def rows(self, idx):
        """Rows ``idx`` as a dense array of X's dtype."""
        sub = self.X[np.asarray(idx)]
        return sub.toarray() if self.sparse else np.array(sub)


# A byte copy of X is used when every row is this close to it, relative to the largest norm.
BYTE_COPY_REL_ERR = 1e-5


def _byte_copy(X, x_sq):
    """See :meth:`Data.byte_copy`. Grid steps tried: the largest value / 255, 1 / 255, 1."""
    from ._validation import max_abs

    top = max_abs(X)
    limit = BYTE_COPY_REL_ERR * np.sqrt(float(x_sq.max()))

    def quantize(rows, scale):
        Q = np.empty(rows.shape, dtype=np.uint8)
        q_sq, q_err = np.empty(rows.shape[0]), np.empty(rows.shape[0])
        _dk.byte_copy(rows, scale, Q, q_sq, q_err)
        return Q, scale, q_sq, q_err

    for step in (top / 255, 1 / 255, 1.0):
        scale = X.dtype.type(step)
        if top == 0 or top > 255.5 * step or quantize(X[:1024], scale)[3].max() > limit:
            continue  # a look at a few rows first
        copy = quantize(X, scale)
        return copy if copy[3].max() <= limit else None
    return None


@dataclass
class BlockStats:
    labels: np.ndarray  # (n,) int32
    mind: np.ndarray  # (n,) squared distance to the assigned centre (expanded form)
    sse: float  # weighted sum of mind
    sums: np.ndarray  # (K, d) float64, weighted per-cluster sums (None when not asked)
    weights: np.ndarray  # (K,) float64, weight per cluster (None when not asked)


def _run(data, centers, accumulate):
    centers = np.ascontiguousarray(centers, dtype=data.dtype)
    k = centers.shape[0]
    n, d = data.n, data.d
    slots = _dk.n_slots(n, k, d)
    labels = np.empty(n, dtype=np.int32)
    mind = np.empty(n, dtype=data.dtype)
    sse_part = np.zeros(slots)
    sums_part = np.zeros((slots, k, d) if accumulate else (slots, 0, 0))
    c_sq = center_sq_norms(centers)
    err = ERR[np.dtype(data.dtype)]
    if data.sparse:
        X = data.X
        CT = np.ascontiguousarray(centers.T)
        _sk.lloyd_csr(X.data, X.indices, X.indptr, data.w, CT, centers, c_sq, data.x_sq, err,
                      labels, mind, sse_part, sums_part)
    else:
        _dk.lloyd_pass(data.X, data.w, centers, c_sq, data.x_sq, err, labels, mind, sse_part,
                       sums_part)
    sse = float(sse_part.sum())
    if not accumulate:
        return BlockStats(labels, mind, sse, None, None)
    return BlockStats(labels, mind, sse, reduce_slots(sums_part), _cluster_weights(data, labels, k))


def slot_sums(data, k):
    """Zeroed per-slot partial sums for ``k`` clusters (see ``_kernels.dense``)."""
    return np.zeros((_dk.n_slots(data.n, k, data.d), k, data.d))


def reduce_slots(sums_part):
    sums = sums_part[0]
    for s in range(1, sums_part.shape[0]):  # fixed order: independent of the thread count
        sums += sums_part[s]
    return sums


def _cluster_weights(data, labels, k):
    return np.bincount(labels, weights=data.w.astype(np.float64), minlength=k)


def assign(data, centers):
    """Labels of the nearest centres, squared distances to them, and their weighted sum."""
    stats = _run(data, centers, accumulate=False)
    return stats.labels, stats.mind, stats.sse


def lloyd_block(data, centers):
    """Assign the rows of ``data`` to ``centers`` and reduce them to per-cluster statistics."""
    return _run(data, centers, accumulate=True)


def exact_sq_dist(data, centers, labels):
    """||x_i - c_{labels_i}||^2 for every row, computed without cancellation."""
    centers = np.ascontiguousarray(centers, dtype=data.dtype)
    out = np.empty(data.n, dtype=np.float64 if data.sparse else data.dtype)
    if data.sparse:
        X = data.X
        c_sq = center_sq_norms(centers).astype(np.float64)
        _sk.exact_sq_dist(X.data, X.indices, X.indptr, centers, c_sq, labels, out)
    else:
        _dk.exact_sq_dist(data.X, centers, labels, out)
    return out


def exact_sse(data, centers, labels):
    """Weighted SSE of ``labels`` under ``centers``, summed in float64 in a fixed order."""
    d2 = exact_sq_dist(data, centers, labels).astype(np.float64)
    # numpy's pairwise sum, not BLAS dot: BLAS splits the sum by thread count.
    return float((d2 * data.w).sum())
