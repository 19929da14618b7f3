"""SphericalKMeans: k-means under cosine similarity, rows and centres on the unit sphere."""

import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.preprocessing import normalize

from . import _distances, _engine
from ._kmeans import _BaseKMeans, update_centers
from ._lloyd import center_shift
from ._progress import Progress
from ._validation import mean_variance, scale_by, scale_exponent


def _row_norms(X):
    """||x|| of each row, from float64 products (a row stored densely or sparsely and
    one equal to it get the same norm only through the same path, see _distances)."""
    if sp.issparse(X):
        X = X.astype(np.float64)
        return np.sqrt(np.asarray(X.multiply(X).sum(axis=1)).ravel())
    return np.sqrt(np.einsum("ij,ij->i", X, X, dtype=np.float64))


def _safe_range(X):
    """X scaled by a power of two so that squares of its entries neither overflow nor
    underflow (directions do not change)."""
    return scale_by(X, scale_exponent(X.dtype, X))


def unit_rows(X, name="X"):
    """Rows of X scaled to unit length (dtype and sparsity kept); zero rows are an error."""
    X = _safe_range(X)
    zero = np.flatnonzero(_row_norms(X) == 0)
    if zero.size:
        raise ValueError(
            f"{name} has {zero.size} all-zero row(s) (the first is row {zero[0]}): they have "
            "no direction, so they cannot be centres of SphericalKMeans")
    return normalize(X, copy=True)


def unit_centers(centers, fallback):
    """Centres scaled to unit length; a zero-length one takes the matching ``fallback`` row."""
    centers = np.array(centers, dtype=np.float64)
    norms = _row_norms(centers)
    ok = norms > 0
    centers[ok] /= norms[ok, None]
    centers[~ok] = fallback[~ok]
    return centers


def _inverse_norms(X):
    """1 / ||x|| of each row in float64, 0 for all-zero rows."""
    norms = _row_norms(X)
    inv = np.zeros_like(norms)
    np.divide(1.0, norms, out=inv, where=norms > 0)
    return inv


def spherical_kmeans(data, centers, max_iter, tol, verbose=0):
    """Spherical k-means on unit rows from unit ``centers``.

    On the unit sphere ||x - c||^2 = 2 (1 - cos), so the engine's nearest centre is
    the most similar one, and the direction of the cluster's (weighted) sum is the
    centre that maximises its total similarity: neither step raises sum(1 - cos).
    An empty cluster takes the least similar point, as in KMeans; a sum of length 0
    keeps the old centre. Stops as :func:`~kmeanslab.cluster._lloyd.lloyd`.

    All-zero rows (``data.zero``) have weight 0 here, so they move no centre; they
    are labelled 0 and add ``data.zero_weight`` to the objective (see SphericalKMeans).
    """
    labels_old = None
    history = []
    strict = False
    say = Progress(verbose, degree=0)
    for it in range(max_iter):
        stats = _engine.lloyd_block(data, centers)
        stats.labels[data.zero] = 0
        objective = stats.sse / 2 + data.zero_weight
        history.append(objective)
        new = unit_centers(update_centers(data, stats, centers), centers).astype(data.dtype)
        shift = center_shift(new, centers)
        centers = new
        say.iteration(it, objective)
        if labels_old is not None and np.array_equal(stats.labels, labels_old):
            say.strict(it)
            strict = True
            break
        if shift <= tol:
            say.within_tol(it, shift, tol)
            break
        labels_old = stats.labels
    labels = stats.labels if strict else _assign(data, centers)
    inertia = _engine.exact_sse(data, centers, labels) / 2 + data.zero_weight
    return {"labels": labels, "inertia": inertia, "centers": centers, "n_iter": it + 1,
            "history": history}


def _assign(data, centers):
    labels = _engine.assign(data, centers)[0]
    labels[data.zero] = 0
    return labels


class SphericalKMeans(_BaseKMeans):
    """Spherical k-means: clustering by cosine similarity, with scikit-learn's API.

    Rows are scaled to unit length, each goes to the centre of largest cosine
    similarity, and each centre is the unit vector along the weighted sum of its rows.
    Dense and sparse CSR input (TF-IDF, embeddings).

    All-zero rows (empty documents) have no direction. They are given cosine
    similarity 0 to every centre: label 0 (the lowest index among equally similar
    centres), cosine distance 1 to every centre in ``transform``, and 1 (times their
    weight) each in ``inertia_`` and ``score``. They move no centre and are never
    drawn as one, so the other rows are fitted as if they were absent; ``fit`` says
    how many there are in one warning.

    Parameters
    ----------
    n_clusters : int, default=8
    init : {"k-means++", "random", "random-uniform"}, callable or array, default="k-means++"
        Seeding on the normalised rows (k-means++ by chordal distance, which orders
        points as cosine distance does); initial centres are normalised (an array's
        rows must not be all zero).
    n_init, max_iter, verbose, random_state : as :class:`KMeans`
    tol : float, default=1e-4
        Threshold on the total squared centre shift, relative to the mean per-feature
        variance of the normalised (not all-zero) rows.

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
        X = _safe_range(X)
        zero = _row_norms(X) == 0
        data = super()._prepare(normalize(X, copy=True), sample_weight)
        # All-zero rows get weight 0 (no pull on any centre, never a seed) and count
        # their own weight, at distance 1, in the objective.
        data.zero = np.flatnonzero(zero)
        data.zero_weight = float(data.w[zero].astype(np.float64).sum())
        if data.zero.size:
            data.w = data.w.copy()
            data.w[zero] = 0
        rows = data.X[~zero] if data.zero.size else data.X
        data.tol = mean_variance(rows) * self.tol if self.tol and rows.shape[0] else 0.0
        return data

    def _check_fit_data(self, data, n_clusters):
        if not data.zero.size:
            return
        n_rest = data.n - data.zero.size
        if n_rest < n_clusters:
            raise ValueError(
                f"X has {data.zero.size} all-zero row(s) of {data.n}, which have no direction; "
                f"the {n_rest} other row(s) are fewer than n_clusters={n_clusters}")
        warnings.warn(
            f"X has {data.zero.size} all-zero row(s) of {data.n} (the first is row "
            f"{data.zero[0]}): cosine similarity is undefined for them, so they are given "
            "similarity 0 to every centre (label 0, cosine distance 1, which they add to the "
            "inertia) and left out of the centre updates.", UserWarning, stacklevel=3)

    def _init_centers(self, data, n_clusters, init, random_state):
        centers = super()._init_centers(data, n_clusters, init, random_state)
        if not isinstance(init, np.ndarray):
            zero = np.flatnonzero(_row_norms(centers) == 0)
            if zero.size:  # a generated centre at the origin (random-uniform): take a row
                centers = centers.copy()
                rows = np.setdiff1d(np.arange(data.n), data.zero)
                centers[zero] = data.rows(rows[random_state.randint(0, rows.size, zero.size)])
        return unit_rows(centers, name="init").astype(data.dtype, copy=False)

    def _run_once(self, data, centers, random_state):
        return spherical_kmeans(data, centers, self.max_iter, data.tol, self.verbose)

    def _assign(self, data, centers):
        return _assign(data, centers)

    def _objective(self, data, centers, labels):
        return _engine.exact_sse(data, centers, labels) / 2 + data.zero_weight

    def _distances(self, X, centers):
        """Cosine distances 1 - cos of each row of X to each centre, (n_samples, n_clusters).

        Computed as ||x/|x| - c/|c|||^2 / 2, accurately where it is small (see
        ``_distances``): a centre (or a multiple of it by a power of two) is at exactly 0
        from itself. All-zero rows are at 1 from every centre.
        """
        X = _safe_range(X)
        inv = _inverse_norms(X)
        # Centres normalised exactly as the rows are (the same path for their norms), so
        # that a row equal to a centre has the same unit vector.
        inv_c = _inverse_norms(sp.csr_matrix(centers) if sp.issparse(X) else centers)
        C = np.asarray(centers, dtype=np.float64) * inv_c[:, None]
        d = _distances.sq_distances(X, C, row_scale=inv)
        d *= 0.5
        d[inv == 0] = 1.0
        return np.clip(d, 0, 2).astype(X.dtype, copy=False)
