"""Seeding on Dask: k-means|| as passes over the row blocks, and the simple inits.

Mirrors :mod:`init`: the same block assignment (``_engine.assign``) updates each row's
nearest candidate, the same weighted k-means++ and Lloyd reduce the gathered
candidates in-process.
"""

import dask
import numpy as np

from . import _engine
from ._dask import _sum, compute, tree


def _block_weight(data):
    return float(np.sum(data.w, dtype=np.float64))


def _pick_row(data, u):
    """The row at cumulative weight ``u`` within the block (a weighted draw's second half)."""
    i = min(int(np.searchsorted(np.cumsum(data.w, dtype=np.float64), u, side="right")), data.n - 1)
    return data.rows([i])


def _par_update(data, state, cand, base):
    """k-means||: distance to the nearest candidate so far and its index, after ``cand``."""
    lab, dist, _ = _engine.assign(data, cand)
    if state is None:
        return dist, lab.astype(np.int64) + base
    closest, owner = state
    closer = dist < closest
    return np.where(closer, dist, closest), np.where(closer, base + lab, owner)


def _par_phi(data, state):
    return float((data.w.astype(np.float64) * state[0]).sum())


def _par_sample(data, state, seed, scale):
    """Rows kept with probability min(1, l w d^2 / phi) (``scale`` = l / phi), seeded per block."""
    p = np.minimum(1.0, scale * data.w.astype(np.float64) * state[0])
    rs = np.random.RandomState(np.random.SeedSequence(seed).generate_state(4))
    return data.rows(np.flatnonzero(rs.uniform(size=data.n) < p))


def _concat(*xs):
    return np.concatenate(xs)


def _par_weights(data, state, n_cand):
    return np.bincount(state[1], weights=data.w.astype(np.float64), minlength=n_cand)


def kmeans_parallel(dd, n_clusters, random_state, oversampling=2.0, n_rounds=5):
    """k-means|| over the blocks, as :func:`init._kmeans_parallel`.

    Each round is one pass that samples every row independently (a RandomState per
    round and block, derived from one seed drawn from ``random_state``) and one pass
    that updates each row's nearest candidate with ``_engine.assign``. The weighted
    k-means++ and Lloyd on the gathered candidates run in-process.
    """
    from .init import _kmeans_plusplus
    from ._lloyd import lloyd as local_lloyd

    seed = int(random_state.randint(np.iinfo(np.int32).max))
    bw = np.asarray(compute(dd, *dd.map(_block_weight)), dtype=np.float64)
    cum = np.cumsum(bw)
    u = random_state.uniform() * cum[-1]
    b = min(int(np.searchsorted(cum, u, side="right")), len(bw) - 1)
    first = compute(dd, dask.delayed(_pick_row)(dd.blocks[b], u - (cum[b] - bw[b])))[0]
    cands = [first]
    state = dask.persist(*dd.map(_par_update, None, dask.delayed(first), 0))
    n_cand = 1
    ell = oversampling * n_clusters
    for r in range(n_rounds):
        phi = compute(dd, tree(dd.map(_par_phi, per_block=[(s,) for s in state]), _sum))[0]
        if phi <= 0:
            break  # every row coincides with a candidate
        seeds = [((seed, r, blk),) for blk in range(len(state))]
        picked = compute(dd, tree(dd.map(_par_sample, ell / phi,
                                         per_block=[(s,) + t for s, t in zip(state, seeds)]), _concat))[0]
        if picked.shape[0] == 0:
            continue
        new = dask.delayed(picked)
        state = dask.persist(*dd.map(_par_update, new, n_cand, per_block=[(s,) for s in state]))
        cands.append(picked)
        n_cand += picked.shape[0]
    cand = np.concatenate(cands)
    cand_w = compute(dd, tree(dd.map(_par_weights, n_cand, per_block=[(s,) for s in state]), _sum))[0]
    keep = cand_w > 0
    if np.count_nonzero(keep) < n_clusters:
        return random_rows(dd, n_clusters, random_state)
    cdata = _engine.Data(np.ascontiguousarray(cand[keep]), cand_w[keep].astype(dd.dtype))
    centers = _kmeans_plusplus(cdata, n_clusters, random_state)[0]
    return local_lloyd(cdata, centers, max_iter=30, tol=0.0)["centers"]


def _weights(dd):
    return np.ones(dd.n) if dd.lazy_w is None else compute(dd, dd.lazy_w)[0].astype(np.float64)


def random_rows(dd, n_clusters, random_state):
    """As ``init._random_rows``: rows drawn with probability proportional to their weight."""
    w = _weights(dd)
    replace = np.count_nonzero(w) < n_clusters
    idx = random_state.choice(dd.n, size=n_clusters, replace=replace, p=w / w.sum())
    order = np.argsort(idx, kind="stable")
    rows = np.empty((n_clusters, dd.d), dtype=dd.dtype)
    rows[order] = compute(dd, dd.X[idx[order]])[0]
    return rows


def init_centers(dd, n_clusters, init, random_state):
    """Initial centres for a validated ``init``; k-means++ is served by k-means|| here."""
    if isinstance(init, str):
        if init in ("k-means++", "k-means||"):
            centers = kmeans_parallel(dd, n_clusters, random_state)
        elif init == "random":
            centers = random_rows(dd, n_clusters, random_state)
        elif init == "random-uniform":
            lo, hi = compute(dd, dd.X.min(axis=0), dd.X.max(axis=0))
            u = random_state.uniform(size=(n_clusters, dd.d))
            centers = lo + u * (hi - lo)
        else:  # pragma: no cover - rejected by parameter validation
            raise ValueError(f"init={init!r}")
    elif callable(init):
        from .init import check_init_array

        centers = init(dd.X, n_clusters, random_state=random_state)
        centers = check_init_array(np.asarray(centers), n_clusters, dd.d, name="the array returned by init")
    else:
        centers = init
    return np.ascontiguousarray(centers, dtype=dd.dtype)
