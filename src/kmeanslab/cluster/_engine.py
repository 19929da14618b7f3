"""The engine on one block of rows: prepared data and the steps computed on it.

:func:`lloyd_block` is the unit of work: rows in, per-cluster sums / weights / SSE
out (:func:`soft_step` and :func:`l1_assign` the same for the family). A backend calls
these on each block of rows where it lives (in-process: all of X is one block) and
adds the results in block order.
"""

import contextlib
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import scipy.sparse as sp

from .. import _core
from ._kernels import ERR  # noqa: F401  (the near-tie window: the steppers read it here)
from ._kernels import dense as _dk
from ._kernels import family as _fk
from ._kernels import sparse as _sk
from ._validation import max_abs

_blas = None


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


@dataclass(frozen=True, eq=False)
class Data:
    """Rows prepared once: CSR or C-contiguous dense X, their weights, squared row norms.

    Immutable: what a fit decides about its data (scaling, tolerance, rows set aside)
    is decided before and held by the fit (see ``_loop``), not attached here. A block
    of a Dask array is one of these too.
    """

    X: object
    w: np.ndarray
    x_sq: np.ndarray = None

    def __post_init__(self):
        if self.x_sq is None:
            X = self.X
            x_sq = _sk.row_sq_norms(X.data, X.indptr) if sp.issparse(X) else _dk.row_sq_norms(X)
            object.__setattr__(self, "x_sq", x_sq)

    @property
    def sparse(self):
        return sp.issparse(self.X)

    @property
    def dtype(self):
        return self.X.dtype

    @property
    def n(self):
        return self.X.shape[0]

    @property
    def d(self):
        return self.X.shape[1]

    def with_weights(self, w):
        """The same rows with other weights (X and the norms are shared, not copied)."""
        return Data(self.X, w, self.x_sq)

    @cached_property
    def byte_copy(self):
        """X as bytes for bound computations, computed once: (Q, scale, q_sq, q_err) with
        x'_i = scale * Q[i], q_sq[i] = ||x'_i||^2 and q_err[i] >= ||x_i - x'_i||; None
        when X is sparse or its values are not within BYTE_COPY_REL_ERR of 256 levels
        (MNIST's are: pixels / 255)."""
        return None if self.sparse else _byte_copy(self.X, self.x_sq)

    @cached_property
    def nonzeros(self):
        """X's non-zeros in CSR form (ptr, idx, val), computed once, for the kernels to read a
        mostly-zero row's non-zeros there rather than find them in X on every pass; None
        when X is sparse, narrow, not mostly zero, or the copy would exceed NONZEROS_SHARE
        of X's memory (MNIST: 84 MB beside 220 MB)."""
        if self.sparse or self.d < _core.SPARSE_MIN_D:
            return None
        counts = _dk.count_nonzeros(self.X)
        if np.mean(counts * _core.SPARSE_DEN <= self.d) < 0.5:
            return None
        if counts.sum() * (4 + self.X.itemsize) > NONZEROS_SHARE * self.X.nbytes:
            return None
        return _dk.copy_nonzeros(self.X, counts)

    def built_nonzeros(self):
        """The copy of X's non-zeros if a multi-pass user has made it (one pass does not)."""
        return self.__dict__.get("nonzeros")

    def drop_nonzeros(self):
        """Free the copy of X's non-zeros (a later ``nonzeros`` makes it again)."""
        self.__dict__.pop("nonzeros", None)

    def rows(self, idx):
        """Rows ``idx`` as a dense array of X's dtype."""
        sub = self.X[np.asarray(idx)]
        return sub.toarray() if self.sparse else np.array(sub)


# X's copy of its non-zeros (Data.nonzeros) is made when it takes at most this share of X's memory.
NONZEROS_SHARE = 0.5

# A byte copy of X is used when every row is this close to it, relative to the largest norm.
BYTE_COPY_REL_ERR = 1e-5


def _byte_copy(X, x_sq):
    """See :meth:`Data.byte_copy`. Grid steps tried: the largest value / 255, 1 / 255, 1."""
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
        # a step of a fit (sums wanted) makes the copy of X's non-zeros; a lone assignment uses it if made
        nz = data.nonzeros if accumulate else data.built_nonzeros()
        _dk.lloyd_pass(data.X, data.w, centers, c_sq, data.x_sq, err, labels, mind, sse_part,
                       sums_part, nz)
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


# -- the k-means family: soft responsibilities, L1 ------------------------------------------

# exp(-x) is exactly 0 in float64 beyond this: such terms are skipped, not computed.
_EXP_UNDERFLOW = 745.0


@dataclass
class SoftStats:
    labels: np.ndarray  # (n,) int32, nearest centre (= largest responsibility)
    resp: np.ndarray  # (n, K) float64 responsibilities, or None when not asked
    objective: float  # weighted soft objective F (see SoftKMeans)
    sums: np.ndarray  # (K, d) float64 responsibility-weighted sums, or None
    mass: np.ndarray  # (K,) float64 responsibility mass per centre, or None


def soft_step(data, centers, beta, *, responsibilities=False, accumulate=True):
    """E-step on prepared data: labels, soft objective, optional responsibilities and sums."""
    centers = np.ascontiguousarray(centers, dtype=data.dtype)
    K = centers.shape[0]
    n, d = data.n, data.d
    slots = _dk.n_slots(n, K, d)
    labels = np.empty(n, dtype=np.int32)
    resp = np.empty((n, K) if responsibilities else (0, K))
    obj_part = np.zeros(slots)
    sums_part = np.zeros((slots, K, d) if accumulate else (slots, 0, 0))
    mass_part = np.zeros((slots, K) if accumulate else (slots, 0))
    c_sq = _dk.row_sq_norms(centers)
    CT = np.ascontiguousarray(centers.T)
    beta = float(beta)
    cap = _EXP_UNDERFLOW / beta
    if data.sparse:
        X = data.X
        _fk.soft_csr(X.data, X.indices, X.indptr, data.w, CT, c_sq, data.x_sq, beta, cap, labels,
                     resp, obj_part, sums_part, mass_part)
    else:
        with single_threaded_blas():
            _fk.soft_dense(data.X, data.w, CT, c_sq, data.x_sq, beta, cap, labels, resp, obj_part,
                           sums_part, mass_part)
    objective = float(obj_part.sum())
    if not accumulate:
        return SoftStats(labels, resp if responsibilities else None, objective, None, None)
    sums, mass = sums_part[0], mass_part[0]
    for s in range(1, slots):  # fixed order: independent of the thread count
        sums += sums_part[s]
        mass += mass_part[s]
    return SoftStats(labels, resp if responsibilities else None, objective, sums, mass)


def l1_assign(data, centers, distances=False):
    """Nearest centre in L1 of each row: labels, L1 distances, their weighted sum; and,
    with ``distances``, the (n_samples, n_clusters) distances of X's dtype."""
    centers = np.ascontiguousarray(centers, dtype=data.dtype)
    c_abs = np.abs(centers.astype(np.float64)).sum(axis=1)
    labels = np.empty(data.n, dtype=np.int32)
    mind = np.empty(data.n, dtype=data.dtype)
    sse_part = np.zeros(_dk.n_slots(data.n, 1, 1))
    dist = np.empty((data.n if distances else 0, centers.shape[0]), dtype=data.dtype)
    if data.sparse:
        X = data.X
        _fk.l1_assign_csr(X.data, X.indices, X.indptr, data.w, centers, c_abs, labels, mind,
                          sse_part, dist)
    else:
        _fk.l1_assign(data.X, data.w, centers, labels, mind, sse_part, dist)
    out = labels, mind, float(sse_part.sum())
    return out + (dist,) if distances else out


def weighted_medians(data, labels, old_centers):
    """Coordinate-wise weighted median of each cluster; a weightless cluster keeps its centre."""
    K = old_centers.shape[0]
    order = np.argsort(labels, kind="stable")
    if not data.sparse:  # the sparse kernel weighs the implicit zeros, so keeps every row
        order = order[data.w[order] > 0]
    starts = np.searchsorted(labels[order], np.arange(K + 1)).astype(np.int64)
    out = np.array(old_centers, dtype=np.float64)
    if data.sparse:
        Xs = data.X[order].tocsc()
        Xs.sort_indices()
        _fk.medians_csc(Xs.data, Xs.indices, Xs.indptr, data.w[order].astype(np.float64),
                        starts, out)
    else:
        _fk.medians_dense(data.X, data.w, order, starts, out)
    return out.astype(data.dtype)
