"""KMedians: clustering under the Manhattan (L1) distance with coordinate-wise medians."""

import numpy as np

from . import _engine
from ._kernels import dense as _dk
from ._kernels import family as _fk
from ._kmeans import _BaseKMeans
from ._lloyd import center_shift
from ._progress import Progress
from ._validation import mean_variance


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


def reseed_empty(labels, mind, w, n_clusters):
    """Labels with each empty cluster given one of the points farthest from its centre.

    As in k-means: a moved point costs 0 in its new cluster and the median of the
    cluster it left is recomputed, so the L1 objective cannot go up. Returns the
    labels (a copy when changed) and whether anything moved.
    """
    weights = np.bincount(labels, weights=w, minlength=n_clusters)
    empty = np.flatnonzero(weights <= 0)
    if not empty.size:
        return labels, False
    dist = np.where(w > 0, mind.astype(np.float64), -1.0)
    far = np.argsort(-dist, kind="stable")[: empty.size]
    far = far[dist[far] > 0]  # a point already on its centre gains nothing by moving
    labels = labels.copy()
    labels[far] = empty[: far.size]
    return labels, bool(far.size)


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


def kmedians(data, centers, max_iter, tol, verbose=0):
    """Alternate L1 assignment and median update from ``centers``.

    Neither step raises the weighted L1 objective; ``history`` holds it after each
    assignment. Stops when labels no longer change or the total squared centre
    shift is at most ``tol``.
    """
    K = centers.shape[0]
    labels_old = None
    history = []
    strict = False
    say = Progress(verbose, getattr(data, "scale_exp", 0), degree=1)
    for it in range(max_iter):
        labels, mind, obj = l1_assign(data, centers)
        history.append(obj)
        labels, moved = reseed_empty(labels, mind, data.w, K)
        new_centers = weighted_medians(data, labels, centers)
        shift = center_shift(new_centers, centers)
        centers = new_centers
        say.iteration(it, obj)
        if not moved and labels_old is not None and np.array_equal(labels, labels_old):
            say.strict(it)
            strict = True
            break
        if shift <= tol:
            say.within_tol(it, shift, tol)
            break
        labels_old = labels
    if not strict:
        labels, mind, obj = l1_assign(data, centers)
    return {"labels": labels, "inertia": obj, "centers": centers, "n_iter": it + 1,
            "history": history}


class KMedians(_BaseKMeans):
    """K-medians: k-means under the Manhattan distance, with scikit-learn's API.

    Each row goes to the centre nearest in L1, and each centre moves to the
    coordinate-wise weighted median of its rows, which minimises the cluster's sum
    of L1 distances (a mean would not). Dense and sparse CSR input.

    Parameters
    ----------
    n_clusters : int, default=8
    init : {"k-means++", "random", "random-uniform"}, callable or array, default="k-means++"
        As :class:`KMeans` (k-means++ samples by squared Euclidean distance: a seeding
        heuristic; the iterations are pure L1).
    n_init : "auto" or int, default="auto"
        Seeded runs; the one with the lowest L1 objective is kept.
    max_iter : int, default=300
    tol : float, default=1e-4
        Threshold on the total squared centre shift, relative to the mean per-feature
        variance of X (as :class:`KMeans`).
    verbose : int or bool, default=0
        As :class:`KMeans` (the inertia printed is the L1 objective).
    random_state : int, RandomState or None

    Attributes
    ----------
    cluster_centers_ : ndarray of shape (n_clusters, n_features)
    labels_ : ndarray of shape (n_samples,)
    inertia_ : float
        Weighted sum of L1 distances of the rows to their centre.
    n_iter_ : int
    history_ : ndarray
        L1 objective after each assignment step; never increasing.
    """

    # X * s gives L1 objective and distances * s: fits of extreme magnitudes run on X
    # scaled by a power of two (see _BaseKMeans).
    _objective_degree = 1
    _distance_degree = 1

    def __init__(self, n_clusters=8, *, init="k-means++", n_init="auto", max_iter=300, tol=1e-4,
                 verbose=0, random_state=None):
        super().__init__(n_clusters, init=init, n_init=n_init, max_iter=max_iter, tol=tol,
                         verbose=verbose, random_state=random_state)

    def _prepare(self, X, sample_weight):
        data = super()._prepare(X, sample_weight)
        data.tol = mean_variance(X) * self.tol if self.tol else 0.0
        return data

    def _run_once(self, data, centers, random_state):
        return kmedians(data, centers, self.max_iter, data.tol, self.verbose)

    def _assign(self, data, centers):
        return l1_assign(data, centers)[0]

    def _objective(self, data, centers, labels):
        dist = l1_assign(data, centers, distances=True)[3][np.arange(data.n), labels]
        return float((dist.astype(np.float64) * data.w).sum())

    def _distances(self, X, centers):
        """L1 distances of each row of X to each centre, (n_samples, n_clusters)."""
        return l1_assign(_engine.Data(X, np.ones(X.shape[0], X.dtype)), centers, distances=True)[3]
