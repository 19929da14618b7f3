"""KMeans and k_means: thin estimator code over the engine in ``_engine``."""

import sys
import warnings

import numpy as np
from sklearn.base import (BaseEstimator, ClassNamePrefixFeaturesOutMixin, ClusterMixin,
                          TransformerMixin)
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_array, check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from . import _distances, _engine
from ._lloyd import lloyd, update_centers  # noqa: F401  (update_centers: shared with the family)
from ._validation import (as_csr, check_finite_X, check_float, check_int, check_sample_weight,
                          check_verbose, check_X_form, mean_variance, scale_by, scale_exponent)
from .init import INIT_NAMES, check_init_array, init_centers

ALGORITHMS = ("lloyd", "elkan", "hamerly", "auto")
BACKENDS = ("auto", "local", "dask")


def _is_dask_array(X):
    """Whether X is a dask array, without importing dask (no dask loaded: it cannot be one)."""
    da = sys.modules.get("dask.array")
    return da is not None and isinstance(X, da.Array)


def check_X(X):
    """X as a float32/float64 C-ordered array or sorted CSR matrix; finite, 2-D, non-empty."""
    X = check_array(check_X_form(X), accept_sparse="csr", dtype=[np.float64, np.float32],
                    order="C", accept_large_sparse=False, ensure_all_finite=False)
    check_finite_X(X)
    return as_csr(X)


def _ldexp(value, e):
    """float(value) * 2**e, exactly; +-inf where the result is beyond float64."""
    with np.errstate(over="ignore"):
        return float(np.ldexp(np.float64(value), e))


def warn_if_fewer_distinct(labels, n_clusters):
    """ConvergenceWarning when fewer clusters than asked for hold a point (duplicates in X)."""
    n_distinct = int(np.count_nonzero(np.bincount(labels, minlength=n_clusters)))
    if n_distinct < n_clusters:
        warnings.warn(
            f"Number of distinct clusters ({n_distinct}) found smaller than n_clusters "
            f"({n_clusters}). Possibly due to duplicate points in X.", ConvergenceWarning, stacklevel=3)


def same_clustering(labels1, labels2):
    """Whether each cluster of ``labels1`` lies in one cluster of ``labels2`` (scikit-learn's
    ``_is_same_clustering``: the same partition up to a renaming, in practice)."""
    return np.unique(np.stack([labels1, labels2]), axis=1).shape[1] == np.unique(labels1).size


class _BaseKMeans(ClassNamePrefixFeaturesOutMixin, ClusterMixin, TransformerMixin, BaseEstimator):
    """Shared machinery: parameter checks, the n_init loop, predict / transform / score.

    Subclasses define :meth:`_run_once` (one seeded fit) and may override
    :meth:`_assign` and :meth:`_distances` for another metric.

    Data far from unit magnitude (say 1e30 or 1e-30 in float32, whose squares overflow
    or underflow) are handled by scaling X by a power of two into a safe range, which is
    exact, and scaling the results back. An estimator opts in by declaring how its
    results scale when X is multiplied by s: the objective (``inertia_``, ``history_``,
    ``score``) by s ** ``_objective_degree`` and ``transform``'s distances by
    s ** ``_distance_degree`` (2 and 1 for squared Euclidean k-means, 1 and 1 for L1,
    0 and 0 for cosine). Parameters in units of X (a stiffness, say) must then be
    converted inside the fit: ``data.scale_exp`` holds e, the data being X * 2**e.
    None (the default) leaves X as it is.
    """

    _default_n_init = 10
    _objective_degree = None
    _distance_degree = None

    def __init__(self, n_clusters=8, *, init="k-means++", n_init="auto", max_iter=300, tol=1e-4,
                 verbose=0, random_state=None):
        self.n_clusters = n_clusters
        self.init = init
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.verbose = verbose
        self.random_state = random_state

    # -- parameters -------------------------------------------------------------------
    def _check_params(self, n_samples, n_features):
        K = check_int(self.n_clusters, "n_clusters", min_value=1)
        if K > n_samples:
            raise ValueError(f"n_samples={n_samples} should be >= n_clusters={K}")
        check_int(self.max_iter, "max_iter", min_value=1)
        check_float(self.tol, "tol", min_value=0)
        check_verbose(self.verbose)
        n_init = check_int(self.n_init, "n_init", min_value=1, allow=("auto",))
        init = self.init
        if isinstance(init, str):
            if init not in self._init_names():
                raise ValueError(f"init={init!r} is not one of {list(self._init_names())}")
        elif not callable(init):
            init = check_init_array(init, K, n_features)
        if n_init == "auto":
            n_init = 1 if (isinstance(init, np.ndarray) or init in ("k-means++", "k-means||")) \
                else self._default_n_init
        elif isinstance(init, np.ndarray) and n_init != 1:
            warnings.warn(
                f"Explicit initial center position passed: performing only one init in "
                f"{type(self).__name__} instead of n_init={n_init}.", RuntimeWarning, stacklevel=3)
            n_init = 1
        return K, init, n_init

    def _init_names(self):
        return INIT_NAMES

    def _check_fit_data(self, data, n_clusters):
        """Checks of the prepared data that only a fit needs (none here)."""

    # -- fitting ----------------------------------------------------------------------
    def _validate_X(self, X, reset):
        X = validate_data(self, check_X_form(X), accept_sparse="csr",
                          dtype=[np.float64, np.float32], order="C", accept_large_sparse=False,
                          ensure_all_finite=False, reset=reset)
        check_finite_X(X)
        return as_csr(X)

    def _scale_exponent(self, X, *others):
        """e for which X * 2**e (and ``others``, as much) is in the safe range; 0 if not opted in."""
        if self._objective_degree is None:
            return 0
        return scale_exponent(X.dtype, X, *others)

    def _scaled_init(self, X, init, e):
        """``init`` for the data X * 2**e: arrays scaled, a callable still given the caller's X."""
        if e == 0 or isinstance(init, str):
            return init
        if not callable(init):
            return scale_by(init, e)
        user_init = init

        def scaled_init(_, n_clusters, random_state):
            centers = user_init(X, n_clusters, random_state=random_state)
            return scale_by(check_init_array(centers, n_clusters, X.shape[1],
                                             name="the array returned by init"), e)

        return scaled_init

    def _prepare(self, X, sample_weight):
        return _engine.Data(X, check_sample_weight(sample_weight, X.shape[0], X.dtype))

    def fit(self, X, y=None, sample_weight=None):
        """Compute the clustering of X.

        Parameters
        ----------
        X : {array-like, sparse CSR matrix} of shape (n_samples, n_features)
        y : ignored
        sample_weight : array-like of shape (n_samples,), optional
        """
        X = self._validate_X(X, reset=True)
        K, init, n_init = self._check_params(X.shape[0], X.shape[1])
        e = self._scale_exponent(X, *([init] if isinstance(init, np.ndarray) else []))
        init = self._scaled_init(X, init, e)
        data = self._prepare(scale_by(X, e), sample_weight)
        data.scale_exp = e
        self._check_fit_data(data, K)
        random_state = check_random_state(self.random_state)
        best = None
        for run in range(n_init):
            centers0 = self._init_centers(data, K, init, random_state)
            if self.verbose:
                print("Initialization complete")  # as scikit-learn (see _progress)
            result = self._run_once(data, centers0, random_state)
            # As scikit-learn: a lower inertia replaces the best run only with another
            # clustering (the same one found again differs by rounding alone).
            if best is None or (result["inertia"] < best["inertia"]
                                and not same_clustering(result["labels"], best["labels"])):
                best = result
        warn_if_fewer_distinct(best["labels"], K)
        p = self._objective_degree or 0
        self.cluster_centers_ = scale_by(best["centers"], -e)
        self.labels_ = best["labels"]
        self.inertia_ = _ldexp(best["inertia"], -p * e)
        self.n_iter_ = best["n_iter"]
        self.history_ = np.array([_ldexp(v, -p * e) for v in best["history"]], dtype=np.float64)
        self._n_features_out = K
        return self

    # k-means++ with pooled candidates (fast); False: scikit-learn's draws, one pass a step.
    _pooled_seeding = True

    def _init_centers(self, data, n_clusters, init, random_state):
        return init_centers(data, n_clusters, init, random_state, pooled=self._pooled_seeding)

    def _run_once(self, data, centers, random_state):  # pragma: no cover - abstract
        raise NotImplementedError

    # -- using a fitted model ---------------------------------------------------------
    def _assign(self, data, centers):
        """Labels of the nearest centres for prepared data."""
        return _engine.assign(data, centers)[0]

    def _objective(self, data, centers, labels):
        return _engine.exact_sse(data, centers, labels)

    def _distances(self, X, centers):
        """Euclidean distances of each row of X to each centre, (n_samples, n_clusters);
        exactly 0 from a row to an equal centre (see ``_distances``)."""
        return _distances.euclidean(X, centers)

    def predict(self, X, sample_weight=None):
        """Index of the nearest cluster centre for each row of X."""
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        e = self._scale_exponent(X, self.cluster_centers_)
        data = self._prepare(scale_by(X, e), None)
        data.scale_exp = e
        return self._assign(data, scale_by(self.cluster_centers_, e))

    def fit_predict(self, X, y=None, sample_weight=None):
        return self.fit(X, sample_weight=sample_weight).labels_

    def transform(self, X):
        """Distances of each row of X to each cluster centre."""
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        e = self._scale_exponent(X, self.cluster_centers_)
        centers = scale_by(self.cluster_centers_, e).astype(X.dtype, copy=False)
        return scale_by(self._distances(scale_by(X, e), centers), -(self._distance_degree or 0) * e)

    def fit_transform(self, X, y=None, sample_weight=None):
        return self.fit(X, sample_weight=sample_weight).transform(X)

    def score(self, X, y=None, sample_weight=None):
        """Opposite of the objective of X under the fitted centres (higher is better)."""
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        e = self._scale_exponent(X, self.cluster_centers_)
        data = self._prepare(scale_by(X, e), sample_weight)
        data.scale_exp = e
        centers = scale_by(self.cluster_centers_, e)
        labels = self._assign(data, centers)
        return -_ldexp(self._objective(data, centers, labels), -(self._objective_degree or 0) * e)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


class KMeans(_BaseKMeans):
    """K-means clustering with scikit-learn's API, on a fast block engine.

    Parameters
    ----------
    n_clusters : int, default=8
    init : {"k-means++", "random", "random-uniform"}, callable or array of shape (n_clusters, n_features)
        "random" picks rows of X, "random-uniform" draws uniformly in the data's bounding box;
        a callable is called as ``init(X, n_clusters, random_state=...)``.
    n_init : "auto" or int, default="auto"
        Number of seeded runs; the one with lowest inertia is kept. "auto" is 1 for
        k-means++ and an explicit array, 10 otherwise.
    max_iter : int, default=300
    tol : float, default=1e-4
        Convergence threshold on the total squared centre shift, relative to the mean
        per-feature variance of X (as scikit-learn).
    verbose : int or bool, default=0
        When > 0, print scikit-learn's progress lines on stdout ("Initialization
        complete", the inertia of each iteration, why it stopped).
    random_state : int, RandomState or None
    copy_x : bool, default=True
        Accepted for scikit-learn compatibility; X is never modified.
    algorithm : {"lloyd", "elkan", "hamerly", "auto"}, default="auto"
        All give the labels of Lloyd's algorithm. "hamerly" (one lower bound per row)
        and "elkan" (one per row and centre) skip distance computations with the
        triangle inequality once points settle; "auto" picks Hamerly below 16 centres
        and Elkan from there (Hamerly when Elkan's bounds would exceed 256 MB).
        Sparse input always runs plain Lloyd.
    backend : {"auto", "local", "dask"}, default="auto"
        Where the work runs. "auto": on Dask when X is a ``dask.array`` (each Lloyd
        iteration one map over its row blocks; ``predict`` / ``transform`` return dask
        arrays, lazily), in-process otherwise. "dask" also sends in-memory X to Dask;
        "local" computes a dask X into memory. On Dask, "k-means++" seeds with k-means||.

    Attributes
    ----------
    cluster_centers_, labels_, inertia_, n_iter_ : as scikit-learn
    history_ : ndarray
        Objective (weighted SSE) of each iteration's assignment step; never increasing.
    """

    def __init__(self, n_clusters=8, *, init="k-means++", n_init="auto", max_iter=300, tol=1e-4,
                 verbose=0, random_state=None, copy_x=True, algorithm="auto", backend="auto"):
        super().__init__(n_clusters, init=init, n_init=n_init, max_iter=max_iter, tol=tol,
                         verbose=verbose, random_state=random_state)
        self.copy_x = copy_x
        self.algorithm = algorithm
        self.backend = backend

    def _on_dask(self, X, fitting=False):
        if self.backend not in BACKENDS:
            raise ValueError(f"backend={self.backend!r} is not one of {list(BACKENDS)}")
        return self.backend != "local" and (_is_dask_array(X) or (fitting and self.backend == "dask"))

    def fit(self, X, y=None, sample_weight=None):
        if self._on_dask(X, fitting=True):
            from . import _dask

            return _dask.fit_kmeans(self, X, sample_weight)
        return super().fit(X, y, sample_weight)

    fit.__doc__ = _BaseKMeans.fit.__doc__

    def predict(self, X, sample_weight=None):
        if self._on_dask(X):
            from . import _dask

            check_is_fitted(self)
            return _dask.predict(_dask.as_dask(X, self.n_features_in_), self.cluster_centers_)
        return super().predict(X, sample_weight)

    predict.__doc__ = _BaseKMeans.predict.__doc__

    def transform(self, X):
        if self._on_dask(X):
            from . import _dask

            check_is_fitted(self)
            return _dask.transform(_dask.as_dask(X, self.n_features_in_), self.cluster_centers_)
        return super().transform(X)

    transform.__doc__ = _BaseKMeans.transform.__doc__

    def score(self, X, y=None, sample_weight=None):
        if self._on_dask(X):
            from . import _dask

            check_is_fitted(self)
            return _dask.score(_dask.as_dask(X, self.n_features_in_), self.cluster_centers_, sample_weight)
        return super().score(X, y, sample_weight)

    score.__doc__ = _BaseKMeans.score.__doc__

    def _check_params(self, n_samples, n_features):
        if self.algorithm not in ALGORITHMS:
            raise ValueError(f"algorithm={self.algorithm!r} is not one of {list(ALGORITHMS)}")
        params = super()._check_params(n_samples, n_features)
        self._algorithm = self.algorithm
        if self.algorithm == "elkan" and params[0] == 1:
            warnings.warn("algorithm='elkan' doesn't make sense for a single cluster. Using "
                          "'lloyd' instead.", RuntimeWarning, stacklevel=4)  # scikit-learn's words
            self._algorithm = "lloyd"
        return params

    # Squared Euclidean objective, Euclidean distances: fitted on X scaled by a power of
    # two when its magnitude is extreme (see _BaseKMeans).
    _objective_degree = 2
    _distance_degree = 1

    def _prepare(self, X, sample_weight):
        data = super()._prepare(X, sample_weight)
        data.tol = mean_variance(X) * self.tol if self.tol else 0.0
        return data

    def _run_once(self, data, centers, random_state):
        return lloyd(data, centers, self.max_iter, data.tol, self.verbose, self._algorithm)


def k_means(X, n_clusters, *, sample_weight=None, init="k-means++", n_init="auto", max_iter=300,
            verbose=False, tol=1e-4, random_state=None, copy_x=True, algorithm="auto",
            return_n_iter=False):
    """Functional form of :class:`KMeans`: returns (centers, labels, inertia[, n_iter])."""
    est = KMeans(n_clusters=n_clusters, init=init, n_init=n_init, max_iter=max_iter,
                 verbose=int(verbose), tol=tol, random_state=random_state, copy_x=copy_x,
                 algorithm=algorithm).fit(X, sample_weight=sample_weight)
    out = (est.cluster_centers_, est.labels_, est.inertia_)
    return out + (est.n_iter_,) if return_n_iter else out
