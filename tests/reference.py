"""Slow, obviously-right float64 reference implementations (as stumpy's ``tests/naive.py``).

Every function works on dense float64 copies, by definition and without tricks: distances
by differences, argmin with the lowest index on ties, plain Python loops where a loop is
the definition. The engine (numba today, compiled C++ tomorrow) is tested against these,
never against another path of itself, so that a bug two paths share cannot hide.
"""

import numpy as np
import scipy.sparse as sp


def dense64(X):
    """X as a dense float64 array (CSR densified)."""
    return np.asarray(X.toarray() if sp.issparse(X) else X, dtype=np.float64)


def weights64(w, n):
    return np.ones(n) if w is None else np.asarray(w, dtype=np.float64)


def sq_dists(X, C):
    """(n, K) squared Euclidean distances, summed from the differences."""
    X, C = dense64(X), dense64(C)
    return ((X[:, None, :] - C[None, :, :]) ** 2).sum(axis=2)


def nearest(X, C):
    """Index of the exactly nearest centre of each row (lowest index on ties)."""
    return sq_dists(X, C).argmin(axis=1)


def assert_nearest(labels, X, C, rtol=1e-12):
    """Each label names a nearest centre: its exact distance is the smallest, up to float64
    rounding (two kernels may break a tie that float64 cannot resolve either way)."""
    d2 = sq_dists(X, C)
    own = d2[np.arange(len(d2)), labels]
    best = d2.min(axis=1)
    bad = np.flatnonzero(own > best + rtol * (best + (dense64(C) ** 2).sum(1).max()))
    assert bad.size == 0, f"rows {bad[:5]} not at a nearest centre"


def tolerance(X, tol):
    """scikit-learn's absolute tolerance: ``tol`` times the mean per-feature variance
    (unweighted, over every row)."""
    return float(np.mean(np.var(dense64(X), axis=0))) * tol if tol else 0.0


def lloyd_step(X, w, C):
    """One assignment: labels, weighted SSE, per-cluster weighted sums and weights."""
    X, C = dense64(X), dense64(C)
    w = weights64(w, len(X))
    labels = nearest(X, C)
    d2 = sq_dists(X, C)[np.arange(len(X)), labels]
    sums = np.zeros_like(C)
    np.add.at(sums, labels, w[:, None] * X)
    weights = np.bincount(labels, weights=w, minlength=len(C))
    return {"labels": labels, "sse": float((w * d2).sum()), "sums": sums, "weights": weights}


def relocate_and_update(X, w, C, labels, sums, weights):
    """New centres from a step's statistics, as the library documents it.

    Each cluster of zero weight takes one of the points farthest from their own (old)
    centre, weightless points never chosen, farthest first (lowest row index on equal
    distances), in the order of the empty clusters; the point leaves its cluster (its
    weight and sum are removed there) and is the new cluster's only member. A cluster
    that keeps no weight keeps its old centre. Returns (centres, relocated rows).
    """
    X, C = dense64(X), dense64(C)
    w = weights64(w, len(X))
    sums, weights = sums.copy(), weights.copy()
    empty = [j for j in range(len(C)) if weights[j] <= 0]
    own = sq_dists(X, C)[np.arange(len(X)), labels]
    candidates = sorted((i for i in range(len(X)) if w[i] > 0), key=lambda i: (-own[i], i))
    moved = candidates[:len(empty)]
    for i, b in zip(moved, empty):
        a = labels[i]
        sums[a] -= w[i] * X[i]
        weights[a] -= w[i]
        sums[b] = w[i] * X[i]
        weights[b] = w[i]
    centers = C.copy()
    for j in range(len(C)):
        if weights[j] > 0:
            centers[j] = sums[j] / weights[j]
    return centers, moved


def lloyd_fit(X, w, C0, max_iter=300, tol=0.0):
    """Lloyd's algorithm with scikit-learn's stopping rule (``tol`` absolute).

    Each iteration assigns the rows to the current centres and moves the centres (with
    relocation). It stops strictly when the labels equal the previous iteration's, or
    when the total squared centre shift of the iteration is at most ``tol``; ``n_iter``
    counts the iterations run. After a stop on ``tol`` (or ``max_iter``) the labels are
    re-assigned to the final centres. ``history`` holds each step's SSE and ``shifts``
    each step's total squared shift, so tests can check a stop is not a near thing.
    """
    X = dense64(X)
    w = weights64(w, len(X))
    C = dense64(C0)
    labels_old = None
    history, shifts = [], []
    strict = False
    for it in range(max_iter):
        step = lloyd_step(X, w, C)
        history.append(step["sse"])
        new, _ = relocate_and_update(X, w, C, step["labels"], step["sums"], step["weights"])
        shifts.append(float(((new - C) ** 2).sum()))
        C = new
        labels = step["labels"]
        if labels_old is not None and np.array_equal(labels, labels_old):
            strict = True
            break
        if shifts[-1] <= tol:
            break
        labels_old = labels
    if not strict:
        labels = nearest(X, C)
    inertia = float((w * sq_dists(X, C)[np.arange(len(X)), labels]).sum())
    return {"labels": labels, "centers": C, "inertia": inertia, "n_iter": it + 1,
            "history": history, "shifts": shifts, "strict": strict}


# -- bounds -------------------------------------------------------------------------------

def bounds_violations(step, X, C):
    """Rows of a ``BoundsStep`` (after ``step(C)``) whose bounds do not hold.

    Bounds are stored relative to the drift of the centres (see ``_kernels.bounds``):
    ``upper[i] + cum[labels[i]]`` must be at least the exact distance of row i to its own
    centre; Elkan's ``lower[i, j] - cum[j]`` at most its exact distance to centre j;
    Hamerly's ``glow[i] - cum_max`` at most its exact distance to every other centre.
    Distances are those of the rows and centres as the engine holds them (X's dtype).
    Returns a dict of offending row indices per bound.
    """
    C = np.asarray(C, dtype=step.data.dtype)
    dist = np.sqrt(sq_dists(X, C))
    n = len(dist)
    labels = step.labels
    own = dist[np.arange(n), labels]
    bad = {"upper": np.flatnonzero(step.upper + step.cum[labels] < own)}
    if step.kind == "elkan":
        lower = step.lower.astype(np.float64) - step.cum[None, :]
        bad["lower"] = np.flatnonzero((lower > dist).any(axis=1))
    elif len(C) > 1:
        others = dist.copy()
        others[np.arange(n), labels] = np.inf
        bad["glow"] = np.flatnonzero(step.glow - step.cum_max > others.min(axis=1))
    return bad


# -- the k-means family -------------------------------------------------------------------

def weighted_median(values, weights):
    """Minimiser of sum_i w_i |v_i - x|; the midpoint where a whole interval minimises
    (the weight below it exactly half). Zero-weight values are as good as absent."""
    keep = np.asarray(weights, dtype=np.float64) > 0
    v = np.asarray(values, dtype=np.float64)[keep]
    wt = np.asarray(weights, dtype=np.float64)[keep]
    order = np.argsort(v, kind="stable")
    v, wt = v[order], wt[order]
    half = wt.sum() / 2
    cum = 0.0
    for q in range(len(v)):
        cum += wt[q]
        if cum == half:
            return 0.5 * (v[q] + v[q + 1])
        if cum > half:
            return v[q]
    raise ValueError("no positive weight")


def cluster_medians(X, w, labels, C_old):
    """Coordinate-wise weighted median of each cluster; a weightless cluster keeps its centre."""
    X = dense64(X)
    w = weights64(w, len(X))
    out = dense64(C_old).copy()
    for k in range(len(out)):
        rows = labels == k
        if w[rows].sum() > 0:
            out[k] = [weighted_median(X[rows, t], w[rows]) for t in range(X.shape[1])]
    return out


def soft_responsibilities(X, C, beta):
    """(responsibilities (n, K), per-row free energy F_i) of soft k-means at stiffness beta."""
    d2 = sq_dists(X, C)
    shifted = d2 - d2.min(axis=1, keepdims=True)
    e = np.exp(-beta * shifted)
    resp = e / e.sum(axis=1, keepdims=True)
    F = d2.min(axis=1) - np.log(e.mean(axis=1)) / beta
    return resp, F


def spherical_nearest(X, C):
    """Index of the centre of largest cosine similarity to each row (lowest index on ties)."""
    X, C = dense64(X), dense64(C)
    Xn = X / np.linalg.norm(X, axis=1, keepdims=True)
    Cn = C / np.linalg.norm(C, axis=1, keepdims=True)
    return (Xn @ Cn.T).argmax(axis=1)
