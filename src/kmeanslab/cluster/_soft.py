"""SoftKMeans: k-means with soft assignments of stiffness beta, computed with log-sum-exp.

Full batch, the metric and update are ``_methods.Soft`` in everyone's loop (``_loop``);
with ``batch_size``, epochs of mini-batches (:func:`soft_minibatch`) over the backend's
blocks.
"""

import numpy as np
from sklearn.utils.validation import check_is_fitted

from . import _engine, _loop
from ._kmeans import _BaseKMeans
from ._methods import Soft
from ._validation import check_float, check_int


def _move(centers, sums, mass, counts):
    """Each centre with mass moves to the mean of its old position (weight ``counts``) and
    the responsibility-weighted batch sums; ``counts`` grows by the batch mass."""
    new = np.array(centers, dtype=np.float64)
    ok = mass > 0
    total = counts[ok] + mass[ok]
    new[ok] = (new[ok] * counts[ok, None] + sums[ok]) / total[:, None]
    counts[ok] = total
    return new


def soft_minibatch(method, backend, centers, max_iter, tol, batch_size, random_state, say):
    """Mini-batch soft k-means: per epoch, the blocks in a random order, each in batches of a
    random permutation of its rows (all of X is one block in-process).

    Each batch moves every centre towards its responsibility-weighted batch mean at a
    rate of (batch mass) / (mass seen so far), as MiniBatchKMeans does with counts.
    ``history`` holds, per epoch, the sum of the batches' soft objectives (each at the
    centres it met): an estimate, not guaranteed monotone. The step size decays as
    1 / (mass seen), so centre shifts shrink slowly; instead the run stops when an
    epoch's objective is within ``tol`` (relative) of the previous epoch's.
    """
    counts = np.zeros(centers.shape[0])
    current = centers.astype(np.float64)
    history = []
    for it in range(max_iter):
        objective = 0.0
        for block in backend.blocks_in_order(random_state):
            b = min(batch_size, block.n)
            perm = random_state.permutation(block.n)
            for s in range(0, block.n, b):
                idx = np.sort(perm[s:s + b])
                st = _engine.soft_step(_engine.Data(block.X[idx], block.w[idx]), current, method.beta)
                objective += st.objective
                current = _move(current, st.sums, st.mass, counts)
        history.append(objective)
        say.iteration(it, objective, word="Epoch")
        if it and abs(history[-2] - objective) <= tol * abs(objective):
            if say.verbose:  # an objective of 0 (one row, say) has converged with no change
                change = abs(history[-2] - objective) / abs(objective) if objective else 0.0
                say.say(f"Converged at epoch {it}: relative change {change} within tolerance {tol}.")
            break
    centers = current.astype(backend.dtype)
    labels, inertia, counts = _loop.finish(method, backend, centers)
    return {"labels": labels, "inertia": inertia, "centers": centers, "n_iter": it + 1,
            "history": history, "counts": counts}


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
                 tol=1e-4, batch_size=None, verbose=0, random_state=None, backend="auto"):
        super().__init__(n_clusters, init=init, n_init=n_init, max_iter=max_iter, tol=tol,
                         verbose=verbose, random_state=random_state, backend=backend)
        self.beta = beta
        self.batch_size = batch_size

    def _check_params(self, n_samples, n_features):
        check_float(self.beta, "beta", min_value=0, exclusive=True)
        if self.batch_size is not None:
            check_int(self.batch_size, "batch_size", min_value=1)
        return super()._check_params(n_samples, n_features)

    def _beta(self, e):
        """beta for the data as fitted, X * 2**e, whose squared distances are * 4**e."""
        beta = np.ldexp(float(self.beta), -2 * e)
        # Clipped to normal floats: beyond them every row is uniform, or hard, either way.
        return float(np.clip(beta, np.finfo(np.float64).tiny, np.finfo(np.float64).max))

    def _method(self, backend, n_clusters, e):
        return Soft(n_clusters, self._beta(e))

    def _tolerance(self, backend):
        # Mini-batch: the relative change of an epoch's objective, as given.
        return super()._tolerance(backend) if self.batch_size is None else self.tol

    def _run_once(self, method, backend, centers, tol, random_state, say):
        if self.batch_size is None:
            return super()._run_once(method, backend, centers, tol, random_state, say)
        return soft_minibatch(method, backend, centers, self.max_iter, tol, self.batch_size,
                              random_state, say)

    def _assign(self, data, centers, e):
        return _engine.soft_step(data, centers, self._beta(e), accumulate=False).labels

    def _objective(self, data, centers, labels, e):
        return _engine.soft_step(data, centers, self._beta(e), accumulate=False).objective

    def predict_proba(self, X):
        """Responsibilities of each centre for each row of X, (n_samples, n_clusters); rows
        sum to 1 (a dask array: lazily)."""
        check_is_fitted(self)
        if self._on_dask(X):
            X = self._dask_input(X)
            return X.map_blocks(self.predict_proba, chunks=(X.chunks[0], (self.cluster_centers_.shape[0],)),
                                dtype=np.float64)
        data, centers, e = self._local(X)
        return _engine.soft_step(data, centers, self._beta(e), responsibilities=True, accumulate=False).resp
