"""SphericalKMeans: k-means under cosine similarity, rows and centres on the unit sphere.

The metric and update are ``_methods.Cosine`` on unit rows; the loop is everyone's.
"""

import warnings

import numpy as np
import scipy.sparse as sp

from . import _distances, _engine, _loop
from ._kmeans import _BaseKMeans
from ._methods import Cosine
from ._validation import check_sample_weight, scale_by, scale_exponent


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
    return _normalize(X)


def _normalize(X):
    # sklearn.preprocessing costs ~0.1 s to import: loaded when a spherical fit needs it,
    # not by ``from kmeanslab import KMeans``.
    from sklearn.preprocessing import normalize

    return normalize(X, copy=True)


def _inverse_norms(X):
    """1 / ||x|| of each row in float64, 0 for all-zero rows."""
    norms = _row_norms(X)
    inv = np.zeros_like(norms)
    np.divide(1.0, norms, out=inv, where=norms > 0)
    return inv


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
    n_init, max_iter, verbose, random_state, backend : as :class:`KMeans`
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
                 verbose=0, random_state=None, backend="auto"):
        super().__init__(n_clusters, init=init, n_init=n_init, max_iter=max_iter, tol=tol,
                         verbose=verbose, random_state=random_state, backend=backend)

    def _prepare(self, X, sample_weight):
        """Unit rows; all-zero rows get weight 0 (no pull on any centre, never a seed), their
        count, first index and own weight kept in ``self._zero`` for the fit's objective."""
        X = _safe_range(X)
        zero = _row_norms(X) == 0
        w = check_sample_weight(sample_weight, X.shape[0], X.dtype)
        self._zero = (int(zero.sum()), int(np.argmax(zero)), float(w[zero].astype(np.float64).sum()))
        if zero.any():
            w = w.copy()
            w[zero] = 0
        return _engine.Data(_normalize(X), w)

    def _prepare_dask(self, X, sample_weight):
        import dask
        import dask.array as da

        X = X.map_blocks(lambda b: _normalize(_safe_range(b)), dtype=X.dtype)
        zero = (X * X).sum(axis=1) == 0
        w = (da.ones(X.shape[0], chunks=(X.chunks[0],), dtype=X.dtype) if sample_weight is None
             else da.asarray(sample_weight).astype(X.dtype).rechunk((X.chunks[0],)))
        count, first, weight = dask.compute(zero.sum(), da.argmax(zero), da.where(zero, w, 0).sum(dtype=np.float64))
        self._zero = (int(count), int(first), float(weight))
        return X, da.where(zero, 0, w)

    def _check_fit_data(self, backend, n_clusters):
        count, first, _ = self._zero
        if not count:
            return
        n_rest = backend.n - count
        if n_rest < n_clusters:
            raise ValueError(
                f"X has {count} all-zero row(s) of {backend.n}, which have no direction; "
                f"the {n_rest} other row(s) are fewer than n_clusters={n_clusters}")
        warnings.warn(
            f"X has {count} all-zero row(s) of {backend.n} (the first is row {first}): cosine "
            "similarity is undefined for them, so they are given similarity 0 to every centre "
            "(label 0, cosine distance 1, which they add to the inertia) and left out of the "
            "centre updates.", UserWarning, stacklevel=3)

    def _tolerance(self, backend):
        return _loop.mean_variance(backend, skip_zero_rows=True) * self.tol if self.tol else 0.0

    def _method(self, backend, n_clusters, e):
        return Cosine(n_clusters, self._zero[2])

    def _init_centers(self, backend, n_clusters, init, random_state, X):
        centers = super()._init_centers(backend, n_clusters, init, random_state, X)
        if not isinstance(init, np.ndarray):
            zero = np.flatnonzero(_row_norms(centers) == 0)
            if zero.size:  # a generated centre at the origin (random-uniform): take a row
                w = backend.weights()  # all-zero rows have none
                centers = centers.copy()
                centers[zero] = backend.gather_rows(random_state.choice(backend.n, size=zero.size,
                                                                        p=w / w.sum()))
        return unit_rows(centers, name="init").astype(backend.dtype, copy=False)

    def _assign(self, data, centers, e):
        labels = _engine.assign(data, centers)[0]
        labels[data.x_sq == 0] = 0
        return labels

    def _objective(self, data, centers, labels, e):
        return _engine.exact_sse(data, centers, labels) / 2 + self._zero[2]

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
