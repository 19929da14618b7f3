"""Seeding: random rows, uniform in the bounding box, greedy k-means++, k-means||.

k-means++ works on in-memory rows; k-means||, random rows and the bounding box go
through the backend interface, so one function serves in-process and Dask fits.
"""

import numpy as np
from sklearn.utils import check_random_state

from . import _engine, _methods
from ._engine import Data
from ._kernels import dense as _dk
from ._kernels import sparse as _sk
from ._loop import run
from ._methods import SquaredEuclidean
from ._validation import check_int, check_sample_weight, check_X
from .backends import LocalBackend

INIT_NAMES = ("k-means++", "k-means||", "random", "random-uniform")


# Seeding draws candidates into a pool whose distances to every row come from one
# pass over X; at most this many candidates (and this many bytes of distances).
POOL_MAX = 64
POOL_BYTES = 64 * 2**20


def _candidate_sq_dist(data, cand):
    """(m, n) squared distances of every row to each of ``m`` candidate rows."""
    cand = np.ascontiguousarray(cand, dtype=data.dtype)
    cand_sq = _engine.center_sq_norms(cand)
    out = np.empty((cand.shape[0], data.n), dtype=data.dtype)
    if data.sparse:
        X = data.X
        _sk.candidate_sq_dist(X.data, X.indices, X.indptr, data.x_sq, np.ascontiguousarray(cand.T),
                              cand_sq, out)
    else:
        # X's copy of its non-zeros if made (a KMeans fit makes it before seeding;
        # kmeans_plusplus alone does not: its few passes do not pay for the copy)
        _dk.candidate_sq_dist(data.X, data.x_sq, cand, cand_sq, out, data.built_nonzeros())
    return out


def _keep_best(ids, dist, cols, closest, w):
    """Of candidates ``ids[cols]``, the row lowering the potential most; ``closest`` updated."""
    best = cols[np.argmin(_dk.potentials(dist, cols, closest, w))]
    np.minimum(closest, dist[best], out=closest)
    return ids[best]


def _kmeans_plusplus(data, n_clusters, random_state, n_local_trials=None, pooled=True):
    """Greedy k-means++ on prepared data; returns (centers, indices).

    Each step keeps, of ``n_local_trials`` candidates drawn with probability
    proportional to w * D^2 (D: distance to the nearest centre so far), the one that
    lowers the potential sum(w * D^2) most (as scikit-learn).

    ``pooled=False``: one pass over X per step, drawing from ``random_state`` exactly
    as scikit-learn does (so the same seed picks the same rows).

    ``pooled=True``: candidates for several steps come from one pass over X: a pool is drawn from
    the current D^2 and its distances to every row computed at once (register-tiled
    dot products); the steps then run on those distances alone. A pool candidate
    drawn when its squared distance was P is accepted at a later step, where it is
    D^2, with probability D^2 / P (rejection sampling), so every accepted candidate
    is an exact draw from that step's distribution; rejected ones are discarded.
    """
    n = data.n
    if n_local_trials is None:
        n_local_trials = 2 + int(np.log(n_clusters))
    w = data.w.astype(np.float64)
    p = w / w.sum()
    indices = np.empty(n_clusters, dtype=np.int64)
    indices[0] = random_state.choice(n, p=p)
    closest = _candidate_sq_dist(data, data.rows(indices[:1]))[0]
    pool_max = int(max(n_local_trials, min(POOL_MAX, POOL_BYTES // (n * data.dtype.itemsize))))
    # Accepted candidates of the step under way (kept when a pool runs out mid-step).
    held_ids = np.empty(0, dtype=np.int64)
    held_dist = np.empty((0, n), dtype=data.dtype)
    acceptance = 1.0
    c = 1
    while c < n_clusters:
        cumulative = np.cumsum(w * closest)
        total = float((w * closest).sum()) if not pooled else cumulative[-1]
        if total <= 0:
            # Every row of positive weight coincides with a centre: the rest are repeats.
            indices[c] = random_state.choice(n, size=n_local_trials, p=p)[0]
            c += 1
            continue
        if not pooled:
            ids = np.minimum(np.searchsorted(cumulative, random_state.uniform(size=n_local_trials) * total),
                             n - 1)
            indices[c] = _keep_best(ids, _candidate_sq_dist(data, data.rows(ids)),
                                    np.arange(ids.size), closest, w)
            c += 1
            continue
        need = (n_clusters - c) * n_local_trials - held_ids.size
        size = int(min(pool_max, np.ceil(need / max(acceptance, 0.25) * 1.05)))
        draws = random_state.uniform(size=(size, 2))
        ids = np.minimum(np.searchsorted(cumulative, draws[:, 0] * total), n - 1)
        proposed = closest[ids].astype(np.float64)  # D^2 each was drawn under
        ids = np.concatenate([held_ids, ids])
        dist = np.concatenate([held_dist, _candidate_sq_dist(data, data.rows(ids[held_ids.size:]))])
        accepted = list(range(held_ids.size))
        tested = taken = 0
        for q in range(held_ids.size, ids.size):
            tested += 1
            i = ids[q]
            if not (w[i] > 0 and draws[q - held_ids.size, 1] * proposed[q - held_ids.size] < closest[i]):
                continue
            taken += 1
            accepted.append(q)
            if len(accepted) == n_local_trials:
                indices[c] = _keep_best(ids, dist, np.array(accepted, dtype=np.int64), closest, w)
                accepted = []
                c += 1
                if c == n_clusters:
                    break
        acceptance = taken / max(tested, 1)
        held_ids = ids[accepted]
        held_dist = dist[accepted]
    return data.rows(indices), indices


# -- k-means|| over any backend --------------------------------------------------------------

def _par_update(data, cache, cand, base, state=None):
    """k-means||: each row's squared distance to its nearest candidate so far, and that
    candidate's index, after candidates ``cand`` (numbered from ``base``) joined."""
    lab, dist, _ = _engine.assign(data, cand)
    if state is None:
        return dist, lab.astype(np.int64) + base
    closest, owner = state
    closer = dist < closest
    return np.where(closer, dist, closest), np.where(closer, base + lab, owner)


def _par_phi(data, cache, state):
    return float((data.w.astype(np.float64) * state[0]).sum())


def _par_sample(data, cache, scale, seed, r, state, b):
    """Rows kept with probability min(1, scale w d^2), drawn from a RandomState of its own
    for round ``r`` and block ``b`` (so the draws do not depend on where blocks run)."""
    p = np.minimum(1.0, scale * data.w.astype(np.float64) * state[0])
    rs = np.random.RandomState(np.random.SeedSequence((seed, r, b)).generate_state(4))
    return data.rows(np.flatnonzero(rs.uniform(size=data.n) < p))


def _par_weights(data, cache, n_cand, state):
    return np.bincount(state[1], weights=data.w.astype(np.float64), minlength=n_cand)


def kmeans_parallel(backend, n_clusters, random_state, oversampling=2.0, n_rounds=5):
    """k-means|| (Bahmani et al., 2012): a few rounds of oversampling, then k-means++ on the candidates.

    A first candidate is drawn with probability proportional to the weights; each round
    then keeps every row independently with probability ``min(1, l * w * d^2 / phi)``
    (l = oversampling * K; d: distance to the nearest candidate; phi: the sum of w d^2),
    which is one pass over the blocks, and one more updates each row's nearest
    candidate. The candidates, weighted by the rows nearest to them, are reduced to K
    centres in-process by weighted greedy k-means++ and a short weighted Lloyd. With
    fewer than K candidates holding weight (duplicates), the seeds are random rows.
    """
    seed = int(random_state.randint(np.iinfo(np.int32).max))
    w = backend.weights()
    first = backend.gather_rows([random_state.choice(backend.n, p=w / w.sum())])
    cands = [first]
    state = backend.map_keep(_par_update, first, 0)
    n_cand = 1
    ell = oversampling * n_clusters
    for r in range(n_rounds):
        phi = backend.map_reduce(_par_phi, per_block=[(s,) for s in state], combine=_methods.add)
        if phi <= 0:
            break  # every row coincides with a candidate
        picked = backend.map_reduce(_par_sample, ell / phi, seed, r,
                                    per_block=[(s, b) for b, s in enumerate(state)], combine=_methods.concat)
        if picked.shape[0] == 0:
            continue
        state = backend.map_keep(_par_update, picked, n_cand, per_block=[(s,) for s in state])
        cands.append(picked)
        n_cand += picked.shape[0]
    cand = np.concatenate(cands)
    cand_w = backend.map_reduce(_par_weights, n_cand, per_block=[(s,) for s in state], combine=_methods.add)
    keep = cand_w > 0
    if np.count_nonzero(keep) < n_clusters:
        return _random_rows(backend, n_clusters, random_state)
    cdata = Data(np.ascontiguousarray(cand[keep]), cand_w[keep].astype(backend.dtype))
    centers = _kmeans_plusplus(cdata, n_clusters, random_state)[0]
    return run(SquaredEuclidean(n_clusters), LocalBackend(cdata), centers, 30, 0.0)["centers"]


# -- the simple seeds -------------------------------------------------------------------------

def _random_rows(backend, n_clusters, random_state):
    """Rows drawn with probability proportional to their weight (with replacement only when
    fewer rows than clusters have weight)."""
    w = backend.weights()
    replace = np.count_nonzero(w) < n_clusters
    idx = random_state.choice(backend.n, size=n_clusters, replace=replace, p=w / w.sum())
    return backend.gather_rows(idx)


def _extremes(data, cache):
    X = data.X
    lo = np.asarray(X.min(axis=0).todense() if data.sparse else X.min(axis=0)).ravel()
    hi = np.asarray(X.max(axis=0).todense() if data.sparse else X.max(axis=0)).ravel()
    return lo, hi


def _widen(*parts):
    return (np.min([p[0] for p in parts], axis=0), np.max([p[1] for p in parts], axis=0))


def _uniform(backend, n_clusters, random_state):
    lo, hi = backend.map_reduce(_extremes, combine=_widen)
    u = random_state.uniform(size=(n_clusters, backend.d))
    return (lo + u * (hi - lo)).astype(backend.dtype)


def init_centers(backend, n_clusters, init, random_state, pooled=True, X=None):
    """Initial centres of shape (n_clusters, d) and the rows' dtype, for a validated ``init``.

    "k-means++" is greedy k-means++ on in-memory rows (``pooled``: candidates of several
    steps share a pass, see :func:`_kmeans_plusplus`) and k-means|| on rows spread over
    blocks; a callable gets ``X`` (the caller's data).
    """
    if isinstance(init, str):
        data = backend.local_data
        if init == "k-means++" and data is not None:
            centers = _kmeans_plusplus(data, n_clusters, random_state, pooled=pooled)[0]
        elif init in ("k-means++", "k-means||"):
            centers = kmeans_parallel(backend, n_clusters, random_state)
        elif init == "random":
            centers = _random_rows(backend, n_clusters, random_state)
        elif init == "random-uniform":
            centers = _uniform(backend, n_clusters, random_state)
        else:  # pragma: no cover - rejected by parameter validation
            raise ValueError(f"init={init!r} is not one of {INIT_NAMES}")
    elif callable(init):
        centers = init(X, n_clusters, random_state=random_state)
        centers = check_init_array(centers, n_clusters, backend.d, name="the array returned by init")
    else:
        centers = init
    return np.ascontiguousarray(centers, dtype=backend.dtype)


def check_init_array(init, n_clusters, n_features, name="init"):
    """Validate an array of initial centres: shape (n_clusters, n_features), finite."""
    arr = np.asarray(init)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be a numeric array, got dtype {arr.dtype}")
    if arr.ndim != 2 or arr.shape != (n_clusters, n_features):
        message = (f"{name} has shape {arr.shape}; expected (n_clusters, n_features) = "
                   f"({n_clusters}, {n_features})")
        if arr.ndim == 2:  # then scikit-learn's words, which code and tests in the wild match
            what = (f"clusters {n_clusters}" if arr.shape[0] != n_clusters
                    else f"features of the data {n_features}")
            message += (f". The shape of the initial centers {arr.shape} does not match the "
                        f"number of {what}.")
        raise ValueError(message)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinity")
    return arr


def kmeans_plusplus(X, n_clusters, *, sample_weight=None, x_squared_norms=None, random_state=None,
                    n_local_trials=None):
    """Greedy k-means++ seeding, as ``sklearn.cluster.kmeans_plusplus``.

    Each step draws ``n_local_trials`` candidates (default 2 + log K) with probability
    proportional to the squared distance to the nearest centre so far, and keeps the
    one that lowers the potential most. Candidates of many steps share one pass over
    X (see ``_kmeans_plusplus``): the same distribution as scikit-learn's, but other
    rows for the same seed.

    Returns
    -------
    centers : ndarray of shape (n_clusters, n_features)
    indices : ndarray of shape (n_clusters,)
        Rows of X chosen as centres.
    """
    X = check_X(X)
    n_clusters = check_int(n_clusters, "n_clusters", min_value=1)
    if n_clusters > X.shape[0]:
        raise ValueError(f"n_samples={X.shape[0]} should be >= n_clusters={n_clusters}.")
    if n_local_trials is not None:
        n_local_trials = check_int(n_local_trials, "n_local_trials", min_value=1)
    w = check_sample_weight(sample_weight, X.shape[0], X.dtype)
    x_sq = None
    if x_squared_norms is not None:
        x_sq = np.ascontiguousarray(x_squared_norms, dtype=X.dtype)
        if x_sq.shape != (X.shape[0],):
            length = (f". The length of x_squared_norms {x_sq.shape[0]} should be equal to the "
                      f"length of n_samples {X.shape[0]}." if x_sq.ndim == 1 else "")
            raise ValueError(f"x_squared_norms has shape {x_sq.shape}; expected "
                             f"({X.shape[0]},) (one per row of X){length}")
    return _kmeans_plusplus(Data(X, w, x_sq), n_clusters, check_random_state(random_state), n_local_trials)
