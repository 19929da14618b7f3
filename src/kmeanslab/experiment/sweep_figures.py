"""A sweep's figures: curves against k or β (means over seeds with min–max bands), and,
for a grid that varies no number (metric, algorithm, init, preprocessing), each cell's
contingency matrix and centroids side by side.

Every value drawn is a cell's metric as :mod:`kmeanslab.metrics` computed it; the knees
come from :func:`.choosek.knee`.
"""

from pathlib import Path

import numpy as np

SWEEP_CURVES = (("purity", "purity"), ("gini", "Gini impurity"),
                ("accuracy_majority", "accuracy (majority vote)"), ("accuracy_hungarian", "accuracy (Hungarian)"),
                ("nmi", "NMI"), ("ari", "ARI"))
BETA_CURVES = (("sse", "SSE"), ("purity", "purity"), ("gini", "Gini impurity"),
               ("accuracy_majority", "accuracy (majority vote)"), ("accuracy_hungarian", "accuracy (Hungarian)"),
               ("nmi", "NMI"))
NUMBER_AXES = ("k", "beta")
BAND = "mean over seeds, band = min–max"
MAX_CELLS_SHOWN = 8


def _series(records, x_axis, xs, group_axes, value):
    """{group label or "": array (n_seeds, len(xs))} of ``value(result)``; NaN where missing."""
    seeds = sorted({p["seed"] for p, _ in records})
    groups = {}
    for p, r in records:
        label = ", ".join(f"{a}={p[a]}" for a in group_axes)
        arr = groups.setdefault(label, np.full((len(seeds), len(xs)), np.nan))
        v = value(r)
        arr[seeds.index(p["seed"]), xs.index(p[x_axis])] = np.nan if v is None else v
    return groups


def _metric(split, key):
    return lambda r: r["metrics"].get(split, {}).get(key)


def categorical(axes):
    """The varying axes when none of them is a number (seeds aside), else []."""
    varying = [a for a in axes if len(axes[a]) > 1 and a != "seed"]
    return varying if varying and not any(a in NUMBER_AXES for a in varying) else []


def sweep_figures(out, records, axes, splits, choose_k=None):
    """Write the sweep's figures into ``out``; returns (file name, caption) pairs.

    k varies: elbow.png (train SSE, each curve's knee starred) and k_<metric>.png for
    purity, Gini, majority-vote and Hungarian accuracy, NMI, ARI (train and test). β
    varies: beta_<metric>.png. With choose-k answers: choose_<criterion>.png. Only
    categorical axes vary: cells_contingency.png and cells_centroids.png.
    """
    from .. import plots
    from .choosek import CRITERIA, knee

    out = Path(out)
    varying = [a for a in axes if len(axes[a]) > 1]
    made = []

    def curve(name, caption, x_axis, ylabel, parts, mark=None, mark_label=None, logx=False):
        xs = sorted(axes[x_axis])
        group_axes = [a for a in varying if a not in (x_axis, "seed")]
        ys = {}
        for prefix, value in parts:
            for g, arr in _series(records, x_axis, xs, group_axes, value).items():
                ys[" ".join(s for s in (prefix, g) if s) or ylabel] = arr
        knees = None
        if mark == "knee":
            mark = None
            knees = {n: knee(xs, np.nanmean(arr, axis=0)) for n, arr in ys.items()}
            knees = {n: x for n, x in knees.items() if x is not None} or None
            if knees is None:
                caption = caption.split(" (knee")[0] + " (no knee: fewer than 3 values of k)"
        plots.plot_curve(xs, ys, x_axis, ylabel, path=out / name, mark_x=mark, mark_label=mark_label,
                         logx=logx, title=caption, knees=knees)
        made.append((name, f"{caption} ({BAND})"))

    if len(axes["k"]) > 1:
        curve("elbow.png", "elbow: train SSE vs k (knee starred: farthest point from the chord)", "k",
              "SSE (train)", [("", _metric("train", "sse"))], mark="knee")
        for key, label in SWEEP_CURVES:
            curve(f"k_{key}.png", f"{label} vs k", "k", label, [(s, _metric(s, key)) for s in splits])
    if len(axes.get("beta", ())) > 1:
        for key, label in BETA_CURVES:
            use = ["train"] if key == "sse" else splits
            curve(f"beta_{key}.png", f"{label} vs β", "beta", label, [(s, _metric(s, key)) for s in use],
                  logx=min(axes["beta"]) > 0)
    if choose_k and len(axes["k"]) > 1:
        for crit, high in CRITERIA.items():
            pick = choose_k[0]["picks"][crit] if len(choose_k) == 1 else None
            curve(f"choose_{crit}.png", f"{crit.replace('_', '–').title()} vs k "
                  f"({'higher' if high else 'lower'} is better)", "k", crit,
                  [("", lambda r, c=crit: (r.get("criteria") or {}).get(c))], mark=pick,
                  mark_label=None if pick is None else f"pick: k = {pick}")
    made += cell_figures(out, records, axes)
    return made


def cell_figures(out, records, axes):
    """Side-by-side contingency matrices and centroid strips, one per cell (first seed),
    for grids that vary only categories; returns (file name, caption) pairs."""
    from .. import plots

    shown = categorical(axes)
    first = min(axes["seed"])
    cells = [(p, r) for p, r in records if p["seed"] == first and r.get("contingency")][:MAX_CELLS_SHOWN]
    if not shown or not cells:
        return []
    names = [", ".join(f"{a}={p[a]}" for a in shown) for p, _ in cells]
    classes = cells[0][1]["contingency"]["classes"]
    seed_note = f" (seed {first})" if len(axes["seed"]) > 1 else ""
    made = []
    if all(r["contingency"]["classes"] == classes for _, r in cells):
        plots.plot_contingencies([r["contingency"]["matrix"] for _, r in cells], names,
                                 class_names=[str(c) for c in classes], path=out / "cells_contingency.png",
                                 title="train: class × cluster, per cell" + seed_note)
        made.append(("cells_contingency.png", "train: class × cluster counts of each cell" + seed_note))
    shape = cells[0][1].get("image_shape")
    if shape and all(r.get("centroids") for _, r in cells):
        titles = [[f"{c}: {m}" for c, m in enumerate(r["contingency"]["majority"])] for _, r in cells]
        plots.plot_centroid_rows([r["centroids"] for _, r in cells], shape, names, titles=titles,
                                 path=out / "cells_centroids.png",
                                 title="centroids of each cell (cluster id: majority class)" + seed_note)
        made.append(("cells_centroids.png", "centroids of each cell: cluster id: majority class" + seed_note))
    return made
