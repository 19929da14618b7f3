"""Seeding: random rows, uniform in the bounding box, greedy k-means++ (and k-means||)."""

import numpy as np
import scipy.sparse as sp
from sklearn.utils import check_random_state

from . import _engine
from ._engine import Data
from ._kernels import dense as _dk
from ._kernels import sparse as _sk

INIT_NAMES = ("k-means++", "k-means||", "random", "random-uniform")


def _candidate_potentials(data, cand, closest):
    """Squared distances of every row to each candidate, and each candidate's potential."""
    cand = np.ascontiguousarray(cand, dtype=data.dtype)
    cand_sq = _engine.center_sq_norms(cand)
    dist = np.empty((data.n, cand.shape[0]), dtype=data.dtype)
    partial = np.zeros((_dk.n_sub_blocks(data.n), cand.shape[0]))
    if data.sparse:
        X = data.X
        _sk.candidate_sq_dist(X.data, X.indices, X.indptr, data.x_sq, np.ascontiguousarray(cand.T),
                              cand_sq, closest, data.w, dist, partial)
    else:
        _dk.candidate_sq_dist(data.X, data.x_sq, cand, cand_sq, closest, data.w, dist, partial)
    return dist, partial.sum(axis=0)


def _kmeans_plusplus(data, n_clusters, random_state, n_local_trials=None):
    """Greedy k-means++ on prepared data; returns (centers, indices)."""
    n = data.n
    if n_local_trials is None:
        n_local_trials = 2 + int(np.log(n_clusters))
    w = data.w.astype(np.float64)
    p = w / w.sum()
    indices = np.empty(n_clusters, dtype=np.int64)
    indices[0] = random_state.choice(n, p=p)
    # No point is closer than +inf before the first centre exists.
    closest = np.full(n, np.inf, dtype=data.dtype)
    dist, _ = _candidate_potentials(data, data.rows(indices[:1]), closest)
    closest = dist[:, 0].copy()
    pot = float((w * closest).sum())
    for c in range(1, n_clusters):
        if pot <= 0:
            # Every point already coincides with a centre: the rest are duplicates.
            cand_ids = random_state.choice(n, size=n_local_trials, p=p)
        else:
            rand_vals = random_state.uniform(size=n_local_trials) * pot
            cumulative = np.cumsum(w * closest)
            cand_ids = np.searchsorted(cumulative, rand_vals)
            np.clip(cand_ids, None, n - 1, out=cand_ids)
        dist, pots = _candidate_potentials(data, data.rows(cand_ids), closest)
        best = int(np.argmin(pots))
        indices[c] = cand_ids[best]
        np.minimum(closest, dist[:, best], out=closest)
        pot = float((w * closest).sum())
    return data.rows(indices), indices


def _kmeans_parallel(data, n_clusters, random_state, oversampling=2.0, n_rounds=5):
    """k-means|| (Bahmani et al., 2012): a few rounds of oversampling, then k-means++ on the candidates.

    Each round keeps every row independently with probability
    ``min(1, l * w * d^2 / phi)`` (l = oversampling * K), so it is one pass over the
    rows: the same block assignment the Lloyd step uses, which lets it run
    distributed. Candidates are weighted by the rows nearest to them and reduced to
    K centres with weighted greedy k-means++ and a short weighted Lloyd.
    """
    from . import _engine
    from ._lloyd import lloyd

    w = data.w.astype(np.float64)
    first = random_state.choice(data.n, p=w / w.sum())
    cand = [data.rows([first])]
    labels, closest, _ = _engine.assign(data, cand[0])
    owner = np.zeros(data.n, dtype=np.int64)
    n_cand = 1
    ell = oversampling * n_clusters
    for _ in range(n_rounds):
        phi = float((w * closest).sum())
        if phi <= 0:
            break  # every row coincides with a candidate
        p = np.minimum(1.0, ell * w * closest / phi)
        picked = np.flatnonzero(random_state.uniform(size=data.n) < p)
        if picked.size == 0:
            continue
        new = data.rows(picked)
        lab, dist, _ = _engine.assign(data, new)
        closer = dist < closest
        closest = np.where(closer, dist, closest)
        owner = np.where(closer, n_cand + lab, owner)
        cand.append(new)
        n_cand += picked.size
    cand = np.concatenate(cand)
    cand_w = np.bincount(owner, weights=w, minlength=n_cand)
    keep = cand_w > 0
    if np.count_nonzero(keep) < n_clusters:
        return _kmeans_plusplus(data, n_clusters, random_state)[0]
    cdata = _engine.Data(np.ascontiguousarray(cand[keep]), cand_w[keep].astype(data.dtype))
    centers = _kmeans_plusplus(cdata, n_clusters, random_state)[0]
    return lloyd(cdata, centers, max_iter=30, tol=0.0)["centers"]


def _random_rows(data, n_clusters, random_state):
    w = data.w.astype(np.float64)
    n_positive = int(np.count_nonzero(w))
    replace = n_positive < n_clusters
    idx = random_state.choice(data.n, size=n_clusters, replace=replace, p=w / w.sum())
    return data.rows(idx)


def _uniform(data, n_clusters, random_state):
    X = data.X
    lo = np.asarray(X.min(axis=0).todense() if sp.issparse(X) else X.min(axis=0)).ravel()
    hi = np.asarray(X.max(axis=0).todense() if sp.issparse(X) else X.max(axis=0)).ravel()
    u = random_state.uniform(size=(n_clusters, data.d))
    return (lo + u * (hi - lo)).astype(data.dtype)


def init_centers(data, n_clusters, init, random_state):
    """Initial centres of shape (n_clusters, d) and X's dtype, for a validated ``init``."""
    if isinstance(init, str):
        if init == "k-means++":
            centers = _kmeans_plusplus(data, n_clusters, random_state)[0]
        elif init == "k-means||":
            centers = _kmeans_parallel(data, n_clusters, random_state)
        elif init == "random":
            centers = _random_rows(data, n_clusters, random_state)
        elif init == "random-uniform":
            centers = _uniform(data, n_clusters, random_state)
        else:  # pragma: no cover - rejected by parameter validation
            raise ValueError(f"init={init!r} is not one of {INIT_NAMES}")
    elif callable(init):
        centers = init(data.X, n_clusters, random_state=random_state)
        centers = check_init_array(centers, n_clusters, data.d, name="the array returned by init")
    else:
        centers = init
    return np.ascontiguousarray(centers, dtype=data.dtype)


def check_init_array(init, n_clusters, n_features, name="init"):
    """Validate an array of initial centres: shape (n_clusters, n_features), finite."""
    arr = np.asarray(init)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be a numeric array, got dtype {arr.dtype}")
    if arr.ndim != 2 or arr.shape != (n_clusters, n_features):
        raise ValueError(
            f"{name} has shape {arr.shape}; expected (n_clusters, n_features) = "
            f"({n_clusters}, {n_features})"
        )
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinity")
    return arr


def kmeans_plusplus(X, n_clusters, *, sample_weight=None, x_squared_norms=None, random_state=None,
                    n_local_trials=None):
    """Greedy k-means++ seeding, as ``sklearn.cluster.kmeans_plusplus``.

    Each step draws ``n_local_trials`` candidates (default 2 + log K) with probability
    proportional to the squared distance to the nearest centre so far, and keeps the
    one that lowers the potential most.

    Returns
    -------
    centers : ndarray of shape (n_clusters, n_features)
    indices : ndarray of shape (n_clusters,)
        Rows of X chosen as centres.
    """
    from ._kmeans import check_X
    from ._validation import check_int, check_sample_weight

    X = check_X(X)
    n_clusters = check_int(n_clusters, "n_clusters", min_value=1)
    if n_clusters > X.shape[0]:
        raise ValueError(f"n_clusters={n_clusters} must be <= n_samples={X.shape[0]}")
    if n_local_trials is not None:
        n_local_trials = check_int(n_local_trials, "n_local_trials", min_value=1)
    w = check_sample_weight(sample_weight, X.shape[0], X.dtype)
    data = Data(X, w)
    if x_squared_norms is not None:
        x_sq = np.ascontiguousarray(x_squared_norms, dtype=X.dtype)
        if x_sq.shape != (X.shape[0],):
            raise ValueError(f"x_squared_norms has shape {x_sq.shape}; expected ({X.shape[0]},)")
        data.x_sq = x_sq
    return _kmeans_plusplus(data, n_clusters, check_random_state(random_state), n_local_trials)
