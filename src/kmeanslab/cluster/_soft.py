"""SoftKMeans: k-means with soft assignments of stiffness beta, computed with log-sum-exp."""

from dataclasses import dataclass

import numpy as np
from sklearn.utils.validation import check_is_fitted

from . import _engine
from ._kernels import dense as _dk
from ._kernels import family as _fk
from ._kmeans import _BaseKMeans
from ._lloyd import center_shift
from ._progress import Progress
from ._validation import check_float, check_int, mean_variance, scale_by

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
        with _engine.single_threaded_blas():
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


def _move(centers, sums, mass, counts=None):
    """Responsibility-weighted means; a centre with no mass stays where it is (never NaN).

    With ``counts`` (mini-batch), the old centre enters with weight ``counts`` and
    ``counts`` is increased by the batch mass.
    """
    new = np.array(centers, dtype=np.float64)
    ok = mass > 0
    if counts is None:
        new[ok] = sums[ok] / mass[ok, None]
    else:
        total = counts[ok] + mass[ok]
        new[ok] = (new[ok] * counts[ok, None] + sums[ok]) / total[:, None]
        counts[ok] = total
    return new


def soft_kmeans(data, centers, beta, max_iter, tol, verbose=0):
    """Full-batch soft k-means (EM with fixed, equal, isotropic components).

    Each step lowers (never raises) the soft objective; ``history`` holds it at the
    start of each step. Stops when the total squared centre shift is at most ``tol``.
    """
    history = []
    say = Progress(verbose, getattr(data, "scale_exp", 0))
    for it in range(max_iter):
        st = soft_step(data, centers, beta)
        history.append(st.objective)
        new = _move(centers, st.sums, st.mass).astype(data.dtype)
        shift = center_shift(new, centers)
        centers = new
        say.iteration(it, st.objective)
        if shift <= tol:
            say.within_tol(it, shift, tol)
            break
    final = soft_step(data, centers, beta, accumulate=False)
    return {"labels": final.labels, "inertia": final.objective, "centers": centers,
            "n_iter": it + 1, "history": history}


def soft_kmeans_minibatch(data, centers, beta, max_iter, tol, batch_size, random_state, verbose=0):
    """Mini-batch soft k-means: per epoch, one pass over a random permutation in batches.

    Each batch moves every centre towards its responsibility-weighted batch mean at a
    rate of (batch mass) / (mass seen so far), as MiniBatchKMeans does with counts.
    ``history`` holds, per epoch, the sum of the batches' soft objectives (each at the
    centres it met): an estimate, not guaranteed monotone. The step size decays as
    1 / (mass seen), so centre shifts shrink slowly; instead the run stops when an
    epoch's objective is within ``tol`` (relative) of the previous epoch's.
    """
    n = data.n
    b = min(batch_size, n)
    counts = np.zeros(centers.shape[0])
    current = centers.astype(np.float64)
    history = []
    say = Progress(verbose, getattr(data, "scale_exp", 0))
    for it in range(max_iter):
        perm = random_state.permutation(n)
        objective = 0.0
        for s in range(0, n, b):
            idx = np.sort(perm[s:s + b])
            batch = _engine.Data(data.X[idx], data.w[idx])
            st = soft_step(batch, current, beta)
            objective += st.objective
            current = _move(current, st.sums, st.mass, counts)
        history.append(objective)
        say.iteration(it, objective, word="Epoch")
        if it and abs(history[-2] - objective) <= tol * abs(objective):
            if verbose:  # an objective of 0 (one row, say) has converged with no change
                change = abs(history[-2] - objective) / abs(objective) if objective else 0.0
                say.say(f"Converged at epoch {it}: relative change {change} within tolerance {tol}.")
            break
    centers = current.astype(data.dtype)
    final = soft_step(data, centers, beta, accumulate=False)
    return {"labels": final.labels, "inertia": final.objective, "centers": centers,
            "n_iter": it + 1, "history": history}


class SoftKMeans(_BaseKMeans):
    """Soft k-means: every row belongs to every centre with responsibility
    r_ik proportional to exp(-beta ||x_i - c_k||^2), and centres are the
    responsibility-weighted means.

    Responsibilities are computed around each row's nearest centre (log-sum-exp), so
    no beta and no scale of the data underflows to 0/0: large beta gives hard
    assignments and KMeans's answer, small beta pulls all centres towards the mean.

    The objective is the free energy

        F = sum_i w_i * -(1/beta) * log( (1/K) * sum_k exp(-beta ||x_i - c_k||^2) ),

    the negative log-likelihood (up to constants, in units of 1/beta) of a mixture of
    K equal-weight isotropic Gaussians of variance 1 / (2 beta). Each full-batch step
    is an EM step, so F never increases. min_k ||x_i - c_k||^2 <= F_i <=
    min_k ||x_i - c_k||^2 + log(K) / beta: F is the k-means inertia in the limit.

    Parameters
    ----------
    n_clusters : int, default=8
    beta : float, default=1.0
        Stiffness (> 0), in units of 1 / (squared distance of X).
    init, n_init, max_iter, verbose, random_state : as :class:`KMeans`
    tol : float, default=1e-4
        Full batch: threshold on the total squared centre shift of a step, relative to
        the mean per-feature variance of X (as :class:`KMeans`). Mini-batch: relative
        change of the objective from one epoch to the next.
    batch_size : int or None, default=None
        None: full-batch EM steps. An int: mini-batch steps of that many rows (an
        iteration is then one pass over the data) for data too large for full passes.

    Attributes
    ----------
    cluster_centers_ : ndarray of shape (n_clusters, n_features)
    labels_ : ndarray of shape (n_samples,)
        Centre of largest responsibility (the nearest).
    inertia_ : float
        The soft objective F of the final centres.
    n_iter_ : int
    history_ : ndarray
        F at the start of each iteration (full batch: never increasing).
    """

    # X * s gives objective * s**2 and distances * s, once beta / s**2 is used: fits of
    # extreme magnitudes run on X scaled by a power of two (see _BaseKMeans, _beta).
    _objective_degree = 2
    _distance_degree = 1

    def __init__(self, n_clusters=8, *, beta=1.0, init="k-means++", n_init="auto", max_iter=300,
                 tol=1e-4, batch_size=None, verbose=0, random_state=None):
        super().__init__(n_clusters, init=init, n_init=n_init, max_iter=max_iter, tol=tol,
                         verbose=verbose, random_state=random_state)
        self.beta = beta
        self.batch_size = batch_size

    def _check_params(self, n_samples, n_features):
        check_float(self.beta, "beta", min_value=0, exclusive=True)
        if self.batch_size is not None:
            check_int(self.batch_size, "batch_size", min_value=1)
        return super()._check_params(n_samples, n_features)

    def _prepare(self, X, sample_weight):
        data = super()._prepare(X, sample_weight)
        data.tol = mean_variance(X) * self.tol if self.tol else 0.0
        return data

    def _beta(self, data):
        """beta for the data as prepared: X * 2**e has squared distances * 4**e."""
        beta = np.ldexp(float(self.beta), -2 * getattr(data, "scale_exp", 0))
        # Clipped to normal floats: beyond them every row is uniform, or hard, either way.
        return float(np.clip(beta, np.finfo(np.float64).tiny, np.finfo(np.float64).max))

    def _run_once(self, data, centers, random_state):
        beta = self._beta(data)
        if self.batch_size is None:
            return soft_kmeans(data, centers, beta, self.max_iter, data.tol, self.verbose)
        return soft_kmeans_minibatch(data, centers, beta, self.max_iter, self.tol,
                                     self.batch_size, random_state, self.verbose)

    def _assign(self, data, centers):
        return soft_step(data, centers, self._beta(data), accumulate=False).labels

    def _objective(self, data, centers, labels):
        return soft_step(data, centers, self._beta(data), accumulate=False).objective

    def predict_proba(self, X):
        """Responsibilities of each centre for each row of X, (n_samples, n_clusters); rows sum to 1."""
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        e = self._scale_exponent(X, self.cluster_centers_)
        data = self._prepare(scale_by(X, e), None)
        data.scale_exp = e
        return soft_step(data, scale_by(self.cluster_centers_, e), self._beta(data),
                         responsibilities=True, accumulate=False).resp
