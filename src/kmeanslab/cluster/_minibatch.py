"""MiniBatchKMeans: scikit-learn's mini-batch k-means on the block engine."""

import warnings

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from . import _engine
from ._kernels import family as _fk
from ._kmeans import _BaseKMeans, warn_if_fewer_distinct, _is_dask_array
from ._progress import Progress, unscale
from ._validation import (SAFE_EXPONENTS, check_float, check_int, check_sample_weight, max_abs,
                          mean_variance, scale_by, scale_exponent)


def _ldexp(value, e):
    """value * 2**e in float64 (inf beyond it, as the true value is)."""
    with np.errstate(over="ignore"):
        return float(np.ldexp(np.float64(value), e))


def _subset(data, idx, w=None):
    return _engine.Data(data.X[idx], data.w[idx] if w is None else w)


def minibatch_step(batch, centers, counts, random_state, reassign=False, reassignment_ratio=0.01,
                   verbose=0):
    """One mini-batch update; returns (batch inertia, new centres). Updates ``counts``.

    Each centre moves to the weighted mean of its old position, weighted by its
    count so far, and of the batch rows assigned to it: the per-centre learning
    rate is (batch weight) / (count). With ``reassign``, centres whose count is
    below ``reassignment_ratio`` times the largest jump to random batch rows
    (at most half the batch), and their counts are raised to the smallest other
    count so that they are not reassigned again at once (as scikit-learn).
    """
    stats = _engine.lloyd_block(batch, centers)
    new = np.array(centers, dtype=np.float64)
    got = stats.weights > 0
    counts_new = counts[got] + stats.weights[got]
    new[got] = (new[got] * counts[got, None] + stats.sums[got]) / counts_new[:, None]
    counts[got] = counts_new
    if reassign and reassignment_ratio > 0:
        to_reassign = counts < reassignment_ratio * counts.max()
        if to_reassign.sum() > 0.5 * batch.n:
            to_reassign[np.argsort(counts)[int(0.5 * batch.n):]] = False
        n_reassigns = int(to_reassign.sum())
        if n_reassigns:
            picked = random_state.choice(batch.n, replace=False, size=n_reassigns)
            new[to_reassign] = batch.rows(picked)
            if verbose:  # scikit-learn's line (see _progress)
                print(f"[MiniBatchKMeans] Reassigning {n_reassigns} cluster centers.")
            if n_reassigns < counts.size:  # (all of them only with reassignment_ratio > 1)
                counts[to_reassign] = np.min(counts[~to_reassign])
    return stats.sse, new.astype(batch.dtype)


class MiniBatchKMeans(_BaseKMeans):
    """Mini-batch k-means with scikit-learn's parameters and semantics.

    Each step draws ``batch_size`` rows with replacement, with probability
    proportional to ``sample_weight``, assigns them on the shared block engine and
    moves every centre towards its rows at a rate of 1 / (rows it has seen). Stops
    after ``max_iter`` passes' worth of steps, when the exponentially smoothed batch
    inertia has not improved for ``max_no_improvement`` steps, or (``tol`` > 0) when
    the squared centre change of a step is at most ``tol`` times the mean feature
    variance.

    Parameters
    ----------
    n_clusters : int, default=8
    init : {"k-means++", "random", "random-uniform"}, callable or array, default="k-means++"
        Computed on ``init_size`` random rows.
    max_iter : int, default=100
        Maximum number of passes over the data (in steps: ``max_iter * n // batch_size``).
    batch_size : int, default=1024
    verbose : int or bool, default=0
        When > 0, print scikit-learn's progress lines on stdout (each init's inertia,
        each step's batch inertia, why it stopped, reassignments).
    compute_labels : bool, default=True
        Compute ``labels_`` and the exact ``inertia_`` on the whole data at the end.
    random_state : int, RandomState or None
    tol : float, default=0.0
    max_no_improvement : int or None, default=10
    init_size : int or None, default=None
        Rows used per initialisation (default ``3 * batch_size``, at least
        ``3 * n_clusters``); the inits are compared on another such random subset.
    n_init : "auto" or int, default="auto"
        Initialisations tried (1 for k-means++ and arrays, 3 otherwise); only the best
        is run, as in scikit-learn.
    reassignment_ratio : float, default=0.01

    Attributes
    ----------
    cluster_centers_, labels_, inertia_, n_iter_, n_steps_ : as scikit-learn
    history_ : ndarray
        ``fit``: the inertia of each step's batch scaled to the whole data (mean
        batch inertia times the total weight), a noisy estimate of the full
        inertia; ``partial_fit`` appends the inertia of each chunk it is given.
    """

    _default_n_init = 3
    # Data of extreme magnitude is fitted as X * 2**e (see _BaseKMeans); fit and
    # partial_fit scale it themselves.
    _objective_degree = 2
    _distance_degree = 1

    # Seeding runs on ``init_size`` rows, where one pass per k-means++ step costs little;
    # drawing as scikit-learn does keeps a run identical to sklearn's from the same seed.
    _pooled_seeding = False

    def __init__(self, n_clusters=8, *, init="k-means++", max_iter=100, batch_size=1024, verbose=0,
                 compute_labels=True, random_state=None, tol=0.0, max_no_improvement=10,
                 init_size=None, n_init="auto", reassignment_ratio=0.01):
        super().__init__(n_clusters, init=init, n_init=n_init, max_iter=max_iter, tol=tol,
                         verbose=verbose, random_state=random_state)
        self.batch_size = batch_size
        self.compute_labels = compute_labels
        self.max_no_improvement = max_no_improvement
        self.init_size = init_size
        self.reassignment_ratio = reassignment_ratio

    # -- parameters -------------------------------------------------------------------
    def _check_minibatch_params(self, n_samples):
        batch_size = check_int(self.batch_size, "batch_size", min_value=1)
        if self.max_no_improvement is not None:
            check_int(self.max_no_improvement, "max_no_improvement", min_value=0)
        check_float(self.reassignment_ratio, "reassignment_ratio", min_value=0)
        if not isinstance(self.compute_labels, (bool, np.bool_)):
            raise TypeError(f"compute_labels must be a bool, got {self.compute_labels!r}")
        self._batch_size = min(batch_size, n_samples)
        K = self.n_clusters
        if self.init_size is None:
            init_size = 3 * self._batch_size
            if init_size < K:
                init_size = 3 * K
        else:
            init_size = check_int(self.init_size, "init_size", min_value=1)
            if init_size < K:
                warnings.warn(f"init_size={init_size} should be larger than n_clusters={K}. "
                              "Setting it to min(3*n_clusters, n_samples)", RuntimeWarning,
                              stacklevel=3)
                init_size = 3 * K
        self._init_size = min(init_size, n_samples)

    def _prepare_scaled(self, X, sample_weight, init):
        """The prepared data X * 2**e, and e, as ``_BaseKMeans.fit`` (see _scale_exponent).

        The squared row norms that preparing computes anyway bound max|x| (max|x|^2 <=
        max ||x||^2 <= d max|x|^2): when both ends lie inside the safe range with a
        factor of 2 to spare, e is 0 without the two passes over X that max|x| costs.
        """
        data = self._prepare(X, sample_weight)
        others = [init] if isinstance(init, np.ndarray) else []
        x_sq = float(data.x_sq.max()) if data.n else 0.0
        if 0 < x_sq < np.inf:
            lo, hi = SAFE_EXPONENTS[np.dtype(X.dtype)]
            m_init = max((max_abs(a) for a in others), default=0.0)
            m_lo, m_hi = max(np.sqrt(x_sq / X.shape[1]), m_init), max(np.sqrt(x_sq), m_init)
            if lo < np.frexp(m_lo)[1] and np.frexp(m_hi)[1] < hi:
                return data, 0
        e = scale_exponent(X.dtype, X, *others)
        return (self._prepare(scale_by(X, e), sample_weight) if e else data), e

    # -- helpers as scikit-learn's --------------------------------------------------------
    def _init_on_subset(self, data, n_clusters, init, random_state):
        sub = data
        if self._init_size < data.n:
            sub = _subset(data, random_state.randint(0, data.n, self._init_size))
            if not np.any(sub.w > 0):  # all drawn rows weightless: seed on everything
                sub = data
        return self._init_centers(sub, n_clusters, init, random_state)

    def _random_reassign(self):
        """Reassign every 10 * n_clusters rows seen, and whenever a centre has no count."""
        self._n_since_last_reassign += self._batch_size
        if (self._counts == 0).any() or self._n_since_last_reassign >= 10 * self.n_clusters:
            self._n_since_last_reassign = 0
            return True
        return False

    def _say_init(self, run, n_init, inertia=None, e=0):
        """scikit-learn's lines before and after (with its validation ``inertia``) each init."""
        if self.verbose:
            print(f"Init {run + 1}/{n_init} with method {self.init}" if inertia is None
                  else f"Inertia for init {run + 1}/{n_init}: {unscale(inertia, e)}")

    def _converged(self, step, n_steps, n_samples, centers_squared_diff, batch_inertia, e=0):
        """Early stopping on the smoothed batch inertia or on the centre change.

        With ``verbose``, prints scikit-learn's lines (steps numbered from 1; values in
        the caller's units: the data are X * 2**e).
        """
        batch_inertia /= self._batch_size
        say = Progress(self.verbose, e)
        step += 1
        if step == 1:  # the first batch's inertia is that of the initialisation
            say.say(f"Minibatch step {step}/{n_steps}: mean batch inertia: "
                    f"{unscale(batch_inertia, e)}")
            return False
        if self._ewa_inertia is None:
            self._ewa_inertia = batch_inertia
        else:
            alpha = min(self._batch_size * 2.0 / (n_samples + 1), 1.0)
            self._ewa_inertia = self._ewa_inertia * (1 - alpha) + batch_inertia * alpha
        say.say(f"Minibatch step {step}/{n_steps}: mean batch inertia: "
                f"{unscale(batch_inertia, e)}, ewa inertia: "
                f"{unscale(self._ewa_inertia, e)}")
        if self._tol > 0.0 and centers_squared_diff <= self._tol:
            say.say(f"Converged (small centers change) at step {step}/{n_steps}")
            return True
        if self._ewa_inertia_min is None or self._ewa_inertia < self._ewa_inertia_min:
            self._no_improvement = 0
            self._ewa_inertia_min = self._ewa_inertia
        else:
            self._no_improvement += 1
        if self.max_no_improvement is not None and self._no_improvement >= self.max_no_improvement:
            say.say(f"Converged (lack of improvement in inertia) at step {step}/{n_steps}")
            return True
        return False

    # -- fitting ----------------------------------------------------------------------
    def fit(self, X, y=None, sample_weight=None):
        """Compute the centres on X by mini-batches.

        Parameters
        ----------
        X : {array-like, sparse CSR matrix} of shape (n_samples, n_features)
        y : ignored
        sample_weight : array-like of shape (n_samples,), optional
            Batches are drawn with probability proportional to it.
        """
        if _is_dask_array(X):
            from ._outofcore import fit_minibatch

            return fit_minibatch(self, X, sample_weight)
        X = self._validate_X(X, reset=True)
        n = X.shape[0]
        K, init, n_init = self._check_params(n, X.shape[1])
        self._check_minibatch_params(n)
        data, e = self._prepare_scaled(X, sample_weight, init)
        init = self._scaled_init(X, init, e)
        self._tol = mean_variance(data.X) * self.tol if self.tol else 0.0  # sklearn's _tolerance
        random_state = check_random_state(self.random_state)
        b = self._batch_size

        valid = _subset(data, random_state.randint(0, n, self._init_size))
        best_inertia = None
        for run in range(n_init):
            self._say_init(run, n_init)
            centers = self._init_on_subset(data, K, init, random_state)
            inertia = _engine.assign(valid, centers)[2]
            self._say_init(run, n_init, inertia, e)
            if best_inertia is None or inertia < best_inertia:
                init_centers, best_inertia = centers, inertia
        centers = init_centers

        self._counts = np.zeros(K)
        self._ewa_inertia = self._ewa_inertia_min = None
        self._no_improvement = 0
        self._n_since_last_reassign = 0
        total_weight = float(np.sum(data.w))
        # As numpy's RandomState.choice(n, b, p=w / sum(w)), without its O(n) set-up per step.
        cdf = (data.w / np.sum(data.w)).astype(np.float64).cumsum()
        cdf /= cdf[-1]
        unit = np.ones(b, dtype=X.dtype)
        idx = np.empty(b, dtype=np.intp)
        n_steps = (self.max_iter * n) // b
        history = []
        i = -1
        for i in range(n_steps):
            _fk.draw_rows(cdf, random_state.random_sample(b), idx)  # = cdf.searchsorted(.., "right")
            batch = _engine.Data(data.X[idx] if data.sparse else np.take(data.X, idx, axis=0), unit)
            batch_inertia, new = minibatch_step(batch, centers, self._counts, random_state,
                                                self._random_reassign(), self.reassignment_ratio,
                                                self.verbose)
            diff = float(((new - centers) ** 2).sum()) if self._tol > 0 else 0.0
            centers = new
            history.append(batch_inertia / b * total_weight)
            if self._converged(i, n_steps, n, diff, batch_inertia, e):
                break

        self.cluster_centers_ = scale_by(centers, -e)
        self._n_features_out = K
        self.n_steps_ = i + 1
        self.n_iter_ = int(np.ceil((i + 1) * b / n))
        self.history_ = np.array([_ldexp(v, -2 * e) for v in history], dtype=np.float64)
        if self.compute_labels:
            self.labels_ = _engine.assign(data, centers)[0]
            inertia = _engine.exact_sse(data, centers, self.labels_)
            warn_if_fewer_distinct(self.labels_, K)
        else:
            ewa = self._ewa_inertia if self._ewa_inertia is not None else history[-1] / total_weight
            inertia = ewa * total_weight
        self.inertia_ = _ldexp(inertia, -2 * e)
        return self

    def predict(self, X, sample_weight=None):
        if _is_dask_array(X):  # a dask array in, a dask array out, lazily
            from . import _dask

            check_is_fitted(self)
            return _dask.predict(_dask.as_dask(X, self.n_features_in_), self.cluster_centers_)
        return super().predict(X, sample_weight)

    predict.__doc__ = _BaseKMeans.predict.__doc__

    def transform(self, X):
        if _is_dask_array(X):
            from . import _dask

            check_is_fitted(self)
            return _dask.transform(_dask.as_dask(X, self.n_features_in_), self.cluster_centers_)
        return super().transform(X)

    transform.__doc__ = _BaseKMeans.transform.__doc__

    def partial_fit(self, X, y=None, sample_weight=None):
        """Update the centres with one mini-batch (a chunk of data that has arrived).

        Parameters
        ----------
        X : {array-like, sparse CSR matrix} of shape (n_samples, n_features)
        y : ignored
        sample_weight : array-like of shape (n_samples,), optional
        """
        has_centers = hasattr(self, "cluster_centers_")
        X = self._validate_X(X, reset=not has_centers)
        self._random_state = getattr(self, "_random_state", check_random_state(self.random_state))
        w = check_sample_weight(sample_weight, X.shape[0], X.dtype)
        self.n_steps_ = getattr(self, "n_steps_", 0)
        if has_centers:
            e = self._scale_exponent(X, self.cluster_centers_)
            data = _engine.Data(scale_by(X, e), w)
            centers = scale_by(self.cluster_centers_, e)
        else:
            K, init, _ = self._check_params(X.shape[0], X.shape[1])
            self._check_minibatch_params(X.shape[0])
            e = self._scale_exponent(X, *([init] if isinstance(init, np.ndarray) else []))
            data = _engine.Data(scale_by(X, e), w)
            centers = self._init_on_subset(data, K, self._scaled_init(X, init, e),
                                           self._random_state)
            self._counts = np.zeros(K)
            self._n_since_last_reassign = 0
            self.history_ = np.zeros(0)
        inertia, centers = minibatch_step(data, centers, self._counts, self._random_state,
                                          self._random_reassign(), self.reassignment_ratio,
                                          self.verbose)
        self.cluster_centers_ = scale_by(centers, -e)
        if self.compute_labels:
            self.labels_ = _engine.assign(data, centers)[0]
            self.inertia_ = _ldexp(_engine.exact_sse(data, centers, self.labels_), -2 * e)
        self.history_ = np.append(getattr(self, "history_", np.zeros(0)), _ldexp(inertia, -2 * e))
        self.n_steps_ += 1
        self._n_features_out = self.cluster_centers_.shape[0]
        return self
