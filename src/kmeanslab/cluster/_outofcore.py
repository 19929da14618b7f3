"""Mini-batch k-means on a dask array: :func:`fit_minibatch` streams the blocks to the
client one at a time (the next one fetched while the current one is used) and draws the
mini-batches from them. (Lazy files themselves are opened by :mod:`kmeanslab.data`.)
"""

import numpy as np


def _fetch(dd, b):
    """Start fetching block ``b`` (an ``_engine.Data``); returns a callable that waits for it."""
    from ._dask import _client

    client = _client()
    return dd.blocks[b].compute if client is None else client.compute(dd.blocks[b]).result


def fit_minibatch(est, X, sample_weight=None):
    """``MiniBatchKMeans.fit`` on a dask array: mini-batches drawn from its blocks.

    Initialisation and validation subsets are drawn from all rows as in-process. Each
    pass visits the blocks in a random order; a block of ``n_b`` rows gives about
    ``n_b / batch_size`` steps, each on ``batch_size`` rows drawn from it with
    replacement, with probability proportional to ``sample_weight``. Stopping rules,
    learning rates and reassignment are the in-process ones; ``labels_`` and
    ``inertia_`` come from one distributed pass.
    """
    from sklearn.utils import check_random_state

    from . import _dask, _engine
    from ._minibatch import minibatch_step

    X = _dask.as_dask(X)
    n = X.shape[0]
    K, init, n_init = est._check_params(n, X.shape[1])
    est._check_minibatch_params(n)
    dd = _dask.DaskData(X, sample_weight)
    est._tol = _dask.mean_variance(dd) * est.tol if est.tol else 0.0
    rs = check_random_state(est.random_state)
    b = est._batch_size

    def subset(size):  # random rows, in the order drawn (as in-process)
        uniq, inv = np.unique(rs.randint(0, n, size), return_inverse=True)
        w = None if dd.lazy_w is None else dd.lazy_w[uniq]
        rows, w = _dask.compute(dd, dd.X[uniq], w)
        return _engine.Data(np.ascontiguousarray(rows[inv]), np.ones(size, X.dtype) if w is None else w[inv])

    valid = subset(est._init_size)
    best = None
    for run in range(n_init):
        est._say_init(run, n_init)
        sub = subset(est._init_size) if est._init_size < n else valid
        centers = est._init_centers(sub if np.any(sub.w > 0) else valid, K, init, rs)
        inertia = _engine.assign(valid, centers)[2]
        est._say_init(run, n_init, inertia)
        if best is None or inertia < best[0]:
            best = (inertia, centers)
    centers = best[1]

    est._counts = np.zeros(K)
    est._ewa_inertia = est._ewa_inertia_min = None
    est._no_improvement = est._n_since_last_reassign = 0
    total_weight = float(n if dd.lazy_w is None else _dask.compute(dd, dd.lazy_w.sum(dtype=np.float64))[0])
    unit = np.ones(b, dtype=X.dtype)
    n_steps = (est.max_iter * n) // b
    history, step, done = [], 0, n_steps == 0
    while not done:
        order = rs.permutation(len(dd.blocks))
        pending = _fetch(dd, order[0])
        for j in range(len(order)):
            block = pending()
            if j + 1 < len(order):
                pending = _fetch(dd, order[j + 1])
            xb, w = block.X, block.w.astype(np.float64)
            if not np.any(w > 0):
                continue
            cdf = np.cumsum(w / w.sum())
            cdf /= cdf[-1]
            for _ in range(max(1, round(xb.shape[0] / b))):
                idx = cdf.searchsorted(rs.random_sample(b), side="right")
                batch = _engine.Data(xb[idx], unit)
                inertia, new = minibatch_step(batch, centers, est._counts, rs, est._random_reassign(),
                                              est.reassignment_ratio, est.verbose)
                diff = float(((new - centers) ** 2).sum()) if est._tol > 0 else 0.0
                centers = new
                history.append(inertia / b * total_weight)
                step += 1
                if est._converged(step - 1, n_steps, n, diff, inertia) or step >= n_steps:
                    done = True
                    break
            if done:
                break
    est.cluster_centers_ = centers
    est.n_features_in_ = X.shape[1]
    est._n_features_out = K
    est.n_steps_ = step
    est.n_iter_ = int(np.ceil(step * b / n))
    est.history_ = np.asarray(history, dtype=np.float64)
    if est.compute_labels:
        est.labels_, est.inertia_, _ = _dask.final_pass(dd, centers, centers)
    else:
        ewa = est._ewa_inertia if est._ewa_inertia is not None else history[-1] / total_weight
        est.inertia_ = ewa * total_weight
    return est
