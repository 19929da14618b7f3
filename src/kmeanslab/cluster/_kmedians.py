"""KMedians: clustering under the Manhattan (L1) distance with coordinate-wise medians.

The metric and update are ``_methods.Manhattan``; the loop is everyone's (``_loop``).
"""

import numpy as np

from . import _engine
from ._kmeans import _BaseKMeans
from ._methods import Manhattan


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
    backend : {"auto", "local", "dask"}, default="auto"
        As :class:`KMeans`; on Dask the medians are found exactly by a radix selection
        over the blocks (a few passes per step).

    Attributes
    ----------
    cluster_centers_ : ndarray of shape (n_clusters, n_features)
    labels_ : ndarray of shape (n_samples,)
        The nearest centre (in L1) of each row, under the final centres.
    inertia_ : float
        Weighted sum of L1 distances of the rows to their final centre.
    n_iter_ : int
    history_ : ndarray
        L1 objective after each assignment step; never increasing.
    """

    # X * s gives L1 objective and distances * s: fits of extreme magnitudes run on X
    # scaled by a power of two (see _BaseKMeans).
    _objective_degree = 1
    _distance_degree = 1

    def __init__(self, n_clusters=8, *, init="k-means++", n_init="auto", max_iter=300, tol=1e-4,
                 verbose=0, random_state=None, backend="auto"):
        super().__init__(n_clusters, init=init, n_init=n_init, max_iter=max_iter, tol=tol,
                         verbose=verbose, random_state=random_state, backend=backend)

    def _method(self, backend, n_clusters, e):
        return Manhattan(n_clusters)

    def _assign(self, data, centers, e):
        return _engine.l1_assign(data, centers)[0]

    def _objective(self, data, centers, labels, e):
        dist = _engine.l1_assign(data, centers, distances=True)[3][np.arange(data.n), labels]
        return float((dist.astype(np.float64) * data.w).sum())

    def _distances(self, X, centers):
        """L1 distances of each row of X to each centre, (n_samples, n_clusters)."""
        return _engine.l1_assign(_engine.Data(X, np.ones(X.shape[0], X.dtype)), centers, distances=True)[3]
