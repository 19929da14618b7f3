"""MiniBatchKMeans: scikit-learn's mini-batch k-means on the block engine."""

import warnings

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from . import _engine, _loop
from ._kernels import family as _fk
from ._kmeans import _BaseKMeans, warn_if_fewer_distinct
from ._methods import SquaredEuclidean
from ._progress import Progress, unscale
from ._validation import check_float, check_int, check_sample_weight, scale_by
from .backends import LocalBackend, is_dask_array


def _ldexp(value, e):
    """value * 2**e in float64 (inf beyond it, as the true value is)."""
    with np.errstate(over="ignore"):
        return float(np.ldexp(np.float64(value), e))


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
                 init_size=None, n_init="auto", reassignment_ratio=0.01, backend="auto"):
        super().__init__(n_clusters, init=init, n_init=n_init, max_iter=max_iter, tol=tol,
                         verbose=verbose, random_state=random_state, backend=backend)
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

    # -- helpers as scikit-learn's --------------------------------------------------------
    def _init_on_subset(self, backend, n_clusters, init, random_state, X):
        sub = backend
        if self._init_size < backend.n:
            sub = backend.take(random_state.randint(0, backend.n, self._init_size))
            sub = LocalBackend(sub) if np.any(sub.w > 0) else backend  # all weightless: seed on all
        return self._init_centers(sub, n_clusters, init, random_state, X)

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
        X : {array-like, sparse CSR matrix, dask array} of shape (n_samples, n_features)
        y : ignored
        sample_weight : array-like of shape (n_samples,), optional
            Batches are drawn with probability proportional to it.
        """
        backend, X_user = self._open(X, sample_weight, fitting=True)
        n = backend.n
        K, init, n_init = self._check_params(n, backend.d)
        self._check_minibatch_params(n)
        backend, e = self._scale(backend, *([init] if isinstance(init, np.ndarray) else []))
        init = self._scaled_init(X_user, init, e)
        self._tol = self._tolerance(backend)  # scikit-learn's _tolerance
        random_state = check_random_state(self.random_state)

        valid = backend.take(random_state.randint(0, n, self._init_size))
        best_inertia = None
        for run in range(n_init):
            self._say_init(run, n_init)
            centers = self._init_on_subset(backend, K, init, random_state, X_user)
            inertia = _engine.assign(valid, centers)[2]
            self._say_init(run, n_init, inertia, e)
            if best_inertia is None or inertia < best_inertia:
                init_centers, best_inertia = centers, inertia

        self._counts = np.zeros(K)
        self._ewa_inertia = self._ewa_inertia_min = None
        self._no_improvement = 0
        self._n_since_last_reassign = 0
        centers, history = self._steps(backend, init_centers, random_state, e)
        self.cluster_centers_ = scale_by(centers, -e)
        self._n_features_out = K
        self.n_steps_ = len(history)
        self.n_iter_ = int(np.ceil(len(history) * self._batch_size / n))
        self.history_ = np.array([_ldexp(v, -2 * e) for v in history], dtype=np.float64)
        if self.compute_labels:
            labels, inertia, counts = _loop.finish(SquaredEuclidean(K), backend, centers)
            self.labels_ = labels.compute() if is_dask_array(labels) and not is_dask_array(X) else labels
            warn_if_fewer_distinct(counts, K)
        else:
            total_weight = float(backend.weights().sum())
            ewa = self._ewa_inertia if self._ewa_inertia is not None else history[-1] / total_weight
            inertia = ewa * total_weight
        self.inertia_ = _ldexp(inertia, -2 * e)
        return self

    def _steps(self, backend, centers, random_state, e):
        """The mini-batch steps from ``centers``: (final centres, history).

        Batches are drawn block by block (all of X is one block in-process): a visit to a
        block of n_b rows takes about n_b / batch_size steps, each on ``batch_size`` of
        its rows drawn with replacement with probability proportional to their weight,
        and the blocks are visited in a random order, pass after pass.
        """
        b = self._batch_size
        n_steps = (self.max_iter * backend.n) // b
        total_weight = float(backend.weights().sum())
        unit = np.ones(b, dtype=backend.dtype)
        idx = np.empty(b, dtype=np.intp)
        history = []
        while len(history) < n_steps:
            for block in backend.blocks_in_order(random_state):
                w = block.w.astype(np.float64)
                if not np.any(w > 0):
                    continue
                # As numpy's RandomState.choice(n_b, b, p=w / sum(w)), without its set-up per step.
                cdf = (w / w.sum()).cumsum()
                cdf /= cdf[-1]
                per_visit = n_steps if backend.n_blocks == 1 else max(1, round(block.n / b))
                for _ in range(per_visit):
                    _fk.draw_rows(cdf, random_state.random_sample(b), idx)  # = cdf.searchsorted(.., "right")
                    rows = block.X[idx] if block.sparse else np.take(block.X, idx, axis=0)
                    batch_inertia, new = minibatch_step(_engine.Data(rows, unit), centers, self._counts,
                                                        random_state, self._random_reassign(),
                                                        self.reassignment_ratio, self.verbose)
                    diff = float(((new - centers) ** 2).sum()) if self._tol > 0 else 0.0
                    centers = new
                    history.append(batch_inertia / b * total_weight)
                    if (self._converged(len(history) - 1, n_steps, backend.n, diff, batch_inertia, e)
                            or len(history) >= n_steps):
                        return centers, history
        return centers, history

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
            centers = self._init_on_subset(LocalBackend(data), K, self._scaled_init(X, init, e),
                                           self._random_state, X)
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
