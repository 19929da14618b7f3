"""Choosing k: the elbow's knee and internal criteria over the cells of a sweep.

Criteria (computed per cell by :func:`criteria`, on the training rows in the space that
was clustered): silhouette on a seeded sample (higher is better), Calinski–Harabasz
(higher is better) and Davies–Bouldin (lower is better), all from ``sklearn.metrics``;
the elbow is read off the SSE curve by :func:`knee`.
"""

import numpy as np

__all__ = ["knee", "criteria", "choose_k", "CRITERIA"]

# name -> (cell key, best is max?)
CRITERIA = {"silhouette": True, "calinski_harabasz": True, "davies_bouldin": False}


def knee(x, y):
    """The knee of a decreasing curve: the point farthest from the chord joining its ends.

    Both axes are scaled to [0, 1] first, so the answer does not depend on units. Returns
    the x of the knee, or None with fewer than 3 finite points (no bend to find).
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if x.size < 3:
        return None
    order = np.argsort(x)
    x, y = x[order], y[order]
    xs = (x - x[0]) / ((x[-1] - x[0]) or 1.0)
    ys = (y - y.min()) / ((y.max() - y.min()) or 1.0)
    # Distance to the line through (xs0, ys0), (xs1, ys1), up to a constant factor.
    dx, dy = xs[-1] - xs[0], ys[-1] - ys[0]
    dist = np.abs(dy * (xs - xs[0]) - dx * (ys - ys[0]))
    best = int(np.argmax(dist))
    return x[best].item() if dist[best] > 0 else None


def criteria(X, labels, k, seed, sample=2000):
    """Silhouette (on ``sample`` rows drawn with ``seed``), Calinski–Harabasz and
    Davies–Bouldin of one clustering; None where undefined (fewer than 2 clusters)."""
    from sklearn import metrics as skm

    out = dict.fromkeys(CRITERIA)
    if k < 2 or len(np.unique(labels)) < 2:
        return out
    n = X.shape[0]
    idx = np.sort(np.random.RandomState(seed).choice(n, min(sample, n), replace=False))
    n_sampled = len(np.unique(labels[idx]))
    if 2 <= n_sampled <= len(idx) - 1:
        out["silhouette"] = float(skm.silhouette_score(X[idx], labels[idx]))
    out["calinski_harabasz"] = float(skm.calinski_harabasz_score(X, labels))
    out["davies_bouldin"] = float(skm.davies_bouldin_score(X, labels))
    return out


def _mean(values):
    values = [v for v in values if v is not None]
    return float(np.mean(values)) if values else None


def choose_k(records, group_axes):
    """Which k each criterion picks, per group of the other varying axes.

    Parameters
    ----------
    records : list of (params, result)
        Finished sweep cells; ``result["criteria"]`` present when they were computed.
    group_axes : list of str
        Axes other than k and seed that vary; one answer per combination.

    Returns
    -------
    list of dict: ``group`` (label), ``rows`` (per k: mean over seeds of ``sse`` on
    train and each criterion) and ``picks`` (criterion -> k; ``elbow`` from :func:`knee`).
    """
    groups = {}
    for params, result in records:
        key = tuple(params.get(a) for a in group_axes)
        groups.setdefault(key, {}).setdefault(params["k"], []).append(result)
    answers = []
    for key, by_k in groups.items():
        rows = []
        for k in sorted(by_k):
            res = by_k[k]
            row = {"k": k, "sse": _mean([r["metrics"]["train"]["sse"] for r in res])}
            for name in CRITERIA:
                row[name] = _mean([(r.get("criteria") or {}).get(name) for r in res])
            rows.append(row)
        picks = {"elbow": knee([r["k"] for r in rows], [r["sse"] for r in rows])}
        if picks["elbow"] is not None:
            picks["elbow"] = int(picks["elbow"])
        for name, high in CRITERIA.items():
            scored = [(r[name], r["k"]) for r in rows if r[name] is not None]
            picks[name] = (max(scored) if high else min(scored))[1] if scored else None
        label = ", ".join(f"{a}={v}" for a, v in zip(group_axes, key))
        answers.append({"group": label, "rows": rows, "picks": picks})
    return answers
