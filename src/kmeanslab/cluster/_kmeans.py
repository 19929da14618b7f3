"""KMeans and k_means, and what every estimator shares: parameter checks, the backend a
fit runs on, the n_init driver and its attributes, predict / transform / score."""

import warnings

import numpy as np
from sklearn.base import (BaseEstimator, ClassNamePrefixFeaturesOutMixin, ClusterMixin,
                          TransformerMixin)
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from . import _distances, _engine, _loop
from ._methods import SquaredEuclidean
from ._progress import Progress
from ._seeding import INIT_NAMES, check_init_array, init_centers
from ._validation import (as_csr, check_finite_X, check_float, check_int, check_sample_weight,
                          check_verbose, check_X_form, scale_by, scale_exponent)
from .backends import LocalBackend, is_dask_array

ALGORITHMS = ("lloyd", "elkan", "hamerly", "auto")
BACKENDS = ("auto", "local", "dask")


def _ldexp(value, e):
    """float(value) * 2**e, exactly; +-inf where the result is beyond float64."""
    with np.errstate(over="ignore"):
        return float(np.ldexp(np.float64(value), e))


def warn_if_fewer_distinct(counts, n_clusters):
    """ConvergenceWarning when fewer clusters than asked for hold weight (duplicates in X)."""
    n_distinct = int(np.count_nonzero(counts))
    if n_distinct < n_clusters:
        warnings.warn(
            f"Number of distinct clusters ({n_distinct}) found smaller than n_clusters "
            f"({n_clusters}). Possibly due to duplicate points in X.", ConvergenceWarning, stacklevel=3)


def same_clustering(labels1, labels2):
    """Whether each cluster of ``labels1`` lies in one cluster of ``labels2`` (scikit-learn's
    ``_is_same_clustering``: the same partition up to a renaming, in practice)."""
    labels1, labels2 = np.asarray(labels1), np.asarray(labels2)
    return np.unique(np.stack([labels1, labels2]), axis=1).shape[1] == np.unique(labels1).size


class _BaseKMeans(ClassNamePrefixFeaturesOutMixin, ClusterMixin, TransformerMixin, BaseEstimator):
    """Shared machinery: parameter checks, the backend, the n_init driver, predict /
    transform / score. A subclass contributes its method (``_method``: metric and centre
    update, see ``_methods``) and, where its metric needs it, how rows are prepared.

    Data far from unit magnitude (say 1e30 or 1e-30 in float32, whose squares overflow
    or underflow) are handled by scaling X by a power of two into a safe range, which is
    exact, and scaling the results back. An estimator opts in by declaring how its
    results scale when X is multiplied by s: the objective (``inertia_``, ``history_``,
    ``score``) by s ** ``_objective_degree`` and ``transform``'s distances by
    s ** ``_distance_degree`` (2 and 1 for squared Euclidean k-means, 1 and 1 for L1).
    None (the default) leaves X as it is.

    ``backend``: "auto" fits on Dask when X is a dask array (each step one map over its
    row blocks) and in-process otherwise; "dask" also sends in-memory X to Dask,
    "local" computes a dask X into memory. ``predict`` / ``transform`` of a dask array
    return dask arrays, lazily.
    """

    _default_n_init = 10
    _objective_degree = None
    _distance_degree = None

    def __init__(self, n_clusters=8, *, init="k-means++", n_init="auto", max_iter=300, tol=1e-4,
                 verbose=0, random_state=None, backend="auto"):
        self.n_clusters = n_clusters
        self.init = init
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.verbose = verbose
        self.random_state = random_state
        self.backend = backend

    # -- parameters -------------------------------------------------------------------
    def _check_params(self, n_samples, n_features):
        K = check_int(self.n_clusters, "n_clusters", min_value=1)
        if K > n_samples:
            raise ValueError(f"n_samples={n_samples} should be >= n_clusters={K}.")
        check_int(self.max_iter, "max_iter", min_value=1)
        check_float(self.tol, "tol", min_value=0)
        check_verbose(self.verbose)
        n_init = check_int(self.n_init, "n_init", min_value=1, allow=("auto",))
        init = self.init
        if isinstance(init, str):
            if init not in INIT_NAMES:
                raise ValueError(f"init={init!r} is not one of {list(INIT_NAMES)}")
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

    # -- where the rows are -----------------------------------------------------------
    def _on_dask(self, X, fitting=False):
        if self.backend not in BACKENDS:
            raise ValueError(f"backend={self.backend!r} is not one of {list(BACKENDS)}")
        return self.backend != "local" and (is_dask_array(X) or (fitting and self.backend == "dask"))

    def _validate_X(self, X, reset):
        if is_dask_array(X):  # backend="local": computed into memory
            X = X.compute()
        X = validate_data(self, check_X_form(X), accept_sparse="csr",
                          dtype=[np.float64, np.float32], order="C", accept_large_sparse=False,
                          ensure_all_finite=False, reset=reset)
        check_finite_X(X)
        return as_csr(X)

    def _prepare(self, X, sample_weight):
        """Rows as the metric wants them (see SphericalKMeans), in memory."""
        return _engine.Data(X, check_sample_weight(sample_weight, X.shape[0], X.dtype))

    def _prepare_dask(self, X, sample_weight):
        """Rows as the metric wants them, on Dask: (lazy X, lazy or in-memory weights)."""
        return X, sample_weight

    def _open(self, X, sample_weight, fitting):
        """(backend holding X's rows, X as the caller's init callable should see it)."""
        if self._on_dask(X, fitting):
            from .backends.dask import DaskBackend, as_dask

            X = as_dask(X, None if fitting else self.n_features_in_)
            if fitting:
                self.n_features_in_ = X.shape[1]
                if hasattr(self, "feature_names_in_"):
                    del self.feature_names_in_
            return DaskBackend(*self._prepare_dask(X, sample_weight)), X
        X = self._validate_X(X, reset=fitting)
        return LocalBackend(self._prepare(X, sample_weight)), X

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

    def _scale(self, backend, *others):
        """(backend of X * 2**e, e) with e putting X (and ``others``) in the safe range."""
        if self._objective_degree is None:
            return backend, 0
        e = _loop.scale_exponent(backend, *others)
        return backend.scaled(e), e

    # -- fitting ----------------------------------------------------------------------
    def fit(self, X, y=None, sample_weight=None):
        """Compute the clustering of X.

        Parameters
        ----------
        X : {array-like, sparse CSR matrix, dask array} of shape (n_samples, n_features)
        y : ignored
        sample_weight : array-like of shape (n_samples,), optional
        """
        backend, X_user = self._open(X, sample_weight, fitting=True)
        K, init, n_init = self._check_params(backend.n, backend.d)
        backend, e = self._scale(backend, *([init] if isinstance(init, np.ndarray) else []))
        init = self._scaled_init(X_user, init, e)
        self._check_fit_data(backend, K)
        method = self._method(backend, K, e)
        tol = self._tolerance(backend)
        random_state = check_random_state(self.random_state)
        say = Progress(self.verbose, e, degree=method.degree, period=method.period)
        best = None
        for run in range(n_init):
            backend.new_run()
            try:
                centers0 = self._init_centers(backend, K, init, random_state, X_user)
                say.say("Initialization complete")
                result = self._run_once(method, backend, centers0, tol, random_state, say)
            finally:
                backend.end_run()
            # As scikit-learn: a lower inertia replaces the best run only with another
            # clustering (the same one found again differs by rounding alone).
            if best is None or (result["inertia"] < best["inertia"]
                                and not same_clustering(result["labels"], best["labels"])):
                best = result
        warn_if_fewer_distinct(best["counts"], K)
        p = self._objective_degree or 0
        self.cluster_centers_ = scale_by(best["centers"], -e)
        labels = best["labels"]
        self.labels_ = labels.compute() if is_dask_array(labels) and not is_dask_array(X) else labels
        self.inertia_ = _ldexp(best["inertia"], -p * e)
        self.n_iter_ = best["n_iter"]
        self.history_ = np.array([_ldexp(v, -p * e) for v in best["history"]], dtype=np.float64)
        self._n_features_out = K
        return self

    def _check_fit_data(self, backend, n_clusters):
        """Checks of the prepared rows that only a fit needs (none here)."""

    def _tolerance(self, backend):
        """The absolute tolerance: ``tol`` times the mean per-feature variance (as scikit-learn)."""
        return _loop.mean_variance(backend) * self.tol if self.tol else 0.0

    # k-means++ with pooled candidates (fast); False: scikit-learn's draws, one pass a step.
    _pooled_seeding = True

    def _init_centers(self, backend, n_clusters, init, random_state, X):
        return init_centers(backend, n_clusters, init, random_state, self._pooled_seeding, X)

    def _run_once(self, method, backend, centers, tol, random_state, say):
        return _loop.run(method, backend, centers, self.max_iter, tol, say)

    def _method(self, backend, n_clusters, e):  # pragma: no cover - abstract
        raise NotImplementedError

    # -- using a fitted model (in memory; a dask array block by block) ------------------
    def _local(self, X, sample_weight=None):
        """(prepared rows of X * 2**e, centres * 2**e, e) for predict / score."""
        X = self._validate_X(X, reset=False)
        e = self._scale_exponent(X, self.cluster_centers_)
        return self._prepare(scale_by(X, e), sample_weight), scale_by(self.cluster_centers_, e), e

    def _scale_exponent(self, X, *others):
        return 0 if self._objective_degree is None else scale_exponent(X.dtype, X, *others)

    def _assign(self, data, centers, e):
        """Labels of the nearest centres for prepared data."""
        return _engine.assign(data, centers)[0]

    def _objective(self, data, centers, labels, e):
        return _engine.exact_sse(data, centers, labels)

    def _distances(self, X, centers):
        """Euclidean distances of each row of X to each centre, (n_samples, n_clusters);
        exactly 0 from a row to an equal centre (see ``_distances``)."""
        return _distances.euclidean(X, centers)

    def _dask_input(self, X):
        """X as a dask array of whole rows (its blocks then go through the in-memory path)."""
        from .backends.dask import as_dask

        return as_dask(X, self.n_features_in_)

    def predict(self, X, sample_weight=None):
        """Index of the nearest cluster centre for each row of X (a dask array: lazily)."""
        check_is_fitted(self)
        if self._on_dask(X):
            return self._dask_input(X).map_blocks(self.predict, dtype=np.int32, drop_axis=1)
        data, centers, e = self._local(X)
        return self._assign(data, centers, e)

    def fit_predict(self, X, y=None, sample_weight=None):
        return self.fit(X, sample_weight=sample_weight).labels_

    def transform(self, X):
        """Distances of each row of X to each cluster centre (a dask array: lazily)."""
        check_is_fitted(self)
        if self._on_dask(X):
            X = self._dask_input(X)
            return X.map_blocks(self.transform, chunks=(X.chunks[0], (self.cluster_centers_.shape[0],)),
                                dtype=X.dtype)
        X = self._validate_X(X, reset=False)
        e = self._scale_exponent(X, self.cluster_centers_)
        centers = scale_by(self.cluster_centers_, e).astype(X.dtype, copy=False)
        return scale_by(self._distances(scale_by(X, e), centers), -(self._distance_degree or 0) * e)

    def fit_transform(self, X, y=None, sample_weight=None):
        return self.fit(X, sample_weight=sample_weight).transform(X)

    def score(self, X, y=None, sample_weight=None):
        """Opposite of the objective of X under the fitted centres (higher is better)."""
        check_is_fitted(self)
        if self._on_dask(X):
            import dask

            X = self._dask_input(X)
            ws = ([None] * X.numblocks[0] if sample_weight is None else
                  [np.asarray(sample_weight)[o:o + s] for o, s in
                   zip(np.cumsum((0,) + X.chunks[0][:-1]), X.chunks[0])])
            parts = [dask.delayed(self.score)(xb, None, wb) for xb, wb in zip(X.to_delayed().ravel(), ws)]
            return float(sum(dask.compute(*parts)))
        data, centers, e = self._local(X, sample_weight)
        labels = self._assign(data, centers, e)
        return -_ldexp(self._objective(data, centers, labels, e), -(self._objective_degree or 0) * e)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


class KMeans(_BaseKMeans):
    """K-means clustering with scikit-learn's API, on a fast block engine.

    Parameters
    ----------
    n_clusters : int, default=8
    init : {"k-means++", "k-means||", "random", "random-uniform"}, callable or array of shape (n_clusters, n_features)
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
        (below 64 when most rows are mostly zero, as MNIST's) and Elkan from there
        (Hamerly when Elkan's bounds would exceed 256 MB).
        Sparse input always runs plain Lloyd; on Dask, bounds need the blocks kept on
        the workers (they are when they fit in a quarter of their memory).
    backend : {"auto", "local", "dask"}, default="auto"
        Where the work runs (see the module's estimators): "auto" on Dask for a dask
        array, in-process otherwise. On Dask, "k-means++" seeds with k-means||.

    Attributes
    ----------
    cluster_centers_, labels_, inertia_, n_iter_ : as scikit-learn
    history_ : ndarray
        Objective (weighted SSE) of each iteration's assignment step; never increasing.
    """

    # Squared Euclidean objective, Euclidean distances: fitted on X scaled by a power of
    # two when its magnitude is extreme (see _BaseKMeans).
    _objective_degree = 2
    _distance_degree = 1

    def __init__(self, n_clusters=8, *, init="k-means++", n_init="auto", max_iter=300, tol=1e-4,
                 verbose=0, random_state=None, copy_x=True, algorithm="auto", backend="auto"):
        super().__init__(n_clusters, init=init, n_init=n_init, max_iter=max_iter, tol=tol,
                         verbose=verbose, random_state=random_state, backend=backend)
        self.copy_x = copy_x
        self.algorithm = algorithm

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

    def _method(self, backend, n_clusters, e):
        # Bounds live with their block: streamed blocks take full Lloyd passes.
        return SquaredEuclidean(n_clusters, self._algorithm if backend.keeps_blocks else "lloyd")

    def _init_centers(self, backend, n_clusters, init, random_state, X):
        data = backend.local_data
        if data is not None and isinstance(init, str) and init == "k-means++":
            # The steps read mostly-zero rows from X's copy of their non-zeros (Elkan may
            # drop it for memory, see _lloyd.BoundsStep): made first, k-means++'s passes
            # read it as well (MNIST, K=100: seeding 0.44 -> 0.33 s).
            data.nonzeros
        return super()._init_centers(backend, n_clusters, init, random_state, X)


def k_means(X, n_clusters, *, sample_weight=None, init="k-means++", n_init="auto", max_iter=300,
            verbose=False, tol=1e-4, random_state=None, copy_x=True, algorithm="auto",
            return_n_iter=False):
    """Functional form of :class:`KMeans`: returns (centers, labels, inertia[, n_iter])."""
    est = KMeans(n_clusters=n_clusters, init=init, n_init=n_init, max_iter=max_iter,
                 verbose=int(verbose), tol=tol, random_state=random_state, copy_x=copy_x,
                 algorithm=algorithm).fit(X, sample_weight=sample_weight)
    out = (est.cluster_centers_, est.labels_, est.inertia_)
    return out + (est.n_iter_,) if return_n_iter else out
