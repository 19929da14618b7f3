"""SphericalKMeans: k-means under cosine similarity, rows and centres on the unit sphere."""

import logging

import numpy as np
import scipy.sparse as sp
from sklearn.preprocessing import normalize

from . import _engine
from ._kmeans import _BaseKMeans, update_centers
from ._validation import mean_variance, scale_by, scale_exponent

logger = logging.getLogger("kmeanslab")


def _row_norms(X):
    if sp.issparse(X):
        return np.sqrt(np.asarray(X.multiply(X).sum(axis=1), dtype=np.float64).ravel())
    return np.sqrt(np.einsum("ij,ij->i", X, X, dtype=np.float64))


def unit_rows(X, name="X"):
    """Rows of X scaled to unit length (dtype and sparsity kept); zero rows are an error.

    X is first scaled by a power of two into a safe range, so that the squares of huge
    or tiny entries neither overflow nor underflow (directions do not change).
    """
    X = scale_by(X, scale_exponent(X.dtype, X))
    zero = np.flatnonzero(_row_norms(X) == 0)
    if zero.size:
        raise ValueError(
            f"{name} has {zero.size} all-zero row(s) (the first is row {zero[0]}): cosine "
            "similarity is undefined for them, so SphericalKMeans cannot place them; "
            "drop them or use KMeans")
    return normalize(X, copy=True)


def unit_centers(centers, fallback):
    """Centres scaled to unit length; a zero-length one takes the matching ``fallback`` row."""
    centers = np.array(centers, dtype=np.float64)
    norms = _row_norms(centers)
    ok = norms > 0
    centers[ok] /= norms[ok, None]
    centers[~ok] = fallback[~ok]
    return centers


def spherical_kmeans(data, centers, max_iter, tol, verbose=0):
    """Spherical k-means on unit rows from unit ``centers``.

    On the unit sphere ||x - c||^2 = 2 (1 - cos), so the engine's nearest centre is
    the most similar one, and the direction of the cluster's (weighted) sum is the
    centre that maximises its total similarity: neither step raises sum(1 - cos).
    An empty cluster takes the least similar point, as in KMeans; a sum of length 0
    keeps the old centre. Stops as :func:`~kmeanslab.cluster._kmeans.lloyd`.
    """
    labels_old = None
    history = []
    strict = False
    for it in range(max_iter):
        stats = _engine.lloyd_block(data, centers)
        history.append(stats.sse / 2)
        new = unit_centers(update_centers(data, stats, centers), centers).astype(data.dtype)
        shift = float(((new.astype(np.float64) - centers) ** 2).sum())
        centers = new
        if verbose:
            logger.info("Iteration %d, objective %.6g, centre shift %.3g", it + 1, stats.sse / 2,
                        shift)
        if labels_old is not None and np.array_equal(stats.labels, labels_old):
            strict = True
            break
        if shift <= tol:
            break
        labels_old = stats.labels
    labels = stats.labels if strict else _engine.assign(data, centers)[0]
    inertia = _engine.exact_sse(data, centers, labels) / 2
    return {"labels": labels, "inertia": inertia, "centers": centers, "n_iter": it + 1,
            "history": history}


class SphericalKMeans(_BaseKMeans):
    """Spherical k-means: clustering by cosine similarity, with scikit-learn's API.

    Rows are scaled to unit length (all-zero rows raise a ValueError), each goes to
    the centre of largest cosine similarity, and each centre is the unit vector along
    the weighted sum of its rows. Dense and sparse CSR input.

    Parameters
    ----------
    n_clusters : int, default=8
    init : {"k-means++", "random", "random-uniform"}, callable or array, default="k-means++"
        Seeding on the normalised rows (k-means++ by chordal distance, which orders
        points as cosine distance does); initial centres are normalised.
    n_init, max_iter, verbose, random_state : as :class:`KMeans`
    tol : float, default=1e-4
        Threshold on the total squared centre shift, relative to the mean per-feature
        variance of the normalised rows.

    Attributes
    ----------
    cluster_centers_ : ndarray of shape (n_clusters, n_features)
        Unit vectors.
    labels_ : ndarray of shape (n_samples,)
    inertia_ : float
        Weighted sum of cosine distances 1 - cos(x_i, c_{labels_i}).
    n_iter_ : int
    history_ : ndarray
        The objective after each assignment step; never increasing.
    """

    def __init__(self, n_clusters=8, *, init="k-means++", n_init="auto", max_iter=300, tol=1e-4,
                 verbose=0, random_state=None):
        super().__init__(n_clusters, init=init, n_init=n_init, max_iter=max_iter, tol=tol,
                         verbose=verbose, random_state=random_state)

    def _prepare(self, X, sample_weight):
        data = super()._prepare(unit_rows(X), sample_weight)
        data.tol = mean_variance(data.X) * self.tol if self.tol else 0.0
        return data

    def _init_centers(self, data, n_clusters, init, random_state):
        centers = super()._init_centers(data, n_clusters, init, random_state)
        if not isinstance(init, np.ndarray):
            zero = np.flatnonzero(_row_norms(centers) == 0)
            if zero.size:  # a generated centre at the origin (random-uniform): take a row
                centers = centers.copy()
                centers[zero] = data.rows(random_state.randint(0, data.n, zero.size))
        return unit_rows(centers, name="init").astype(data.dtype, copy=False)

    def _run_once(self, data, centers, random_state):
        return spherical_kmeans(data, centers, self.max_iter, data.tol, self.verbose)

    def _objective(self, data, centers, labels):
        return _engine.exact_sse(data, centers, labels) / 2

    def _distances(self, X, centers):
        """Cosine distances 1 - cos of each row of X to each centre, (n_samples, n_clusters)."""
        with _engine.single_threaded_blas():  # the same rounding on any thread count
            sim = unit_rows(X) @ np.asarray(centers, dtype=X.dtype).T
        return np.clip(1 - np.asarray(sim), 0, 2).astype(X.dtype, copy=False)
