"""A run's folder: arrays, figures, report and metrics.json, written all or none, into a
folder that holds nothing else of ours (or the same run, which it replaces)."""

import json
import shutil
from pathlib import Path

import numpy as np

from .config import OBJECTIVES
from .._io import atomic_save_npy, atomic_write_json, checkpoint, interrupt_guard, staged_folder

RUN_FILES = ("report.html", "metrics.json", "centroids.npy", "labels.npy", "test_labels.npy",
             "predictions.npy", "test_predictions.npy", "centroids.png", "loss.png", "contingency.png",
             "contingency_test.png", "samples.png", "typical.png", "atypical.png")
SWEEP_FILES = ("report.html", "sweep.csv", "sweep.md", "sweep.json", "choose_k.json", "cells")
SWEEP_PATTERNS = ("elbow.png", "k_*.png", "beta_*.png", "choose_*.png", "cells_*.png")


class FolderInUse(ValueError):
    """The output folder holds a different run or a sweep (``--force`` replaces it)."""


def _ours(out, names, patterns=()):
    found = [out / n for n in names if (out / n).exists()]
    return found + [p for pat in patterns for p in sorted(out.glob(pat))]


def _differences(old, new):
    keys = [k for k in dict.fromkeys(list(old) + list(new)) if k != "out" and old.get(k) != new.get(k)]
    return ", ".join(f"{k} {old.get(k)!r} -> {new.get(k)!r}" for k in keys[:4]) + (" ..." if len(keys) > 4 else "")


def claim_folder(out, kind, config, force=False, replace_run=False):
    """Check that ``out`` may receive a ``kind`` ("run" or "sweep") of ``config`` (a
    RunConfig dict); returns the paths of ours already there, to remove once the new
    files are in (those the new outputs do not replace).

    A run folder may be replaced by the same run (equal settings, ``out`` aside); a
    sweep folder receives the cells of any sweep (they are keyed by their settings).
    Anything else of ours, a different run, a sweep under a run or a run under a sweep,
    is refused unless ``force``: one folder never mixes the outputs of two experiments.
    ``replace_run`` (the default folder, runs/latest): a different run is replaced too.
    """
    out = Path(out)
    if not out.is_dir():
        return []
    run_files, sweep_files = _ours(out, RUN_FILES[1:]), _ours(out, SWEEP_FILES[1:], SWEEP_PATTERNS)
    has_run, has_sweep = (out / "metrics.json").is_file(), bool(sweep_files)
    stale, problem = [], None
    if kind == "run":
        stale = run_files + sweep_files + _ours(out, ("report.html",))
        if has_sweep:
            problem = "holds a sweep (sweep.csv, cells/ ...)"
        elif has_run:
            try:
                old = json.loads((out / "metrics.json").read_text()).get("config", {})
            except (OSError, ValueError):
                old = None
            if not replace_run and (old is None or {k: v for k, v in old.items() if k != "out"} !=
                                    {k: v for k, v in config.items() if k != "out"}):
                problem = ("holds a different run (" + (_differences(old, config) if old is not None
                                                          else "unreadable metrics.json") + ")")
        elif stale:
            problem = f"holds {', '.join(p.name for p in stale[:3])} from another experiment"
    else:
        stale = run_files if has_run else []
        if has_run:
            problem = "holds a run (metrics.json ...)"
    if problem and not force:
        raise FolderInUse(f"{out} {problem}; pass --force (force=True) to replace it, "
                          "or choose another --out")
    return stale


def remove_stale(stale, written):
    """Remove the files of a replaced experiment that the new one did not write."""
    for path in stale:
        if path.name in written:
            continue
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def plain(obj):
    """JSON-ready copy: numpy scalars/arrays to Python, non-finite floats to None."""
    if isinstance(obj, dict):
        return {str(k): plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return plain(obj.tolist())
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    return repr(obj)


def pixel_means(X, labels, k):
    """Mean of each cluster's members in the original feature space (NaN for empty clusters)."""
    import scipy.sparse as sp

    counts = np.bincount(labels, minlength=k).astype(np.float64)
    onehot = sp.csr_matrix((np.ones(len(labels)), (labels, np.arange(len(labels)))), shape=(k, len(labels)))
    sums = np.asarray(onehot @ X, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return sums / counts[:, None]


def display_centers(front, model, X_raw, labels, embed=None):
    """The centres as the images they stand for, and a figure title saying what they are:
    mapped back through the preprocessing, or, when they live in an embedding, the mean
    of each cluster's members (then the title says so)."""
    k = model.cluster_centers_.shape[0]
    if embed:
        return (pixel_means(X_raw, labels, k),
                f"mean image of each cluster's members (centres are in the {embed} space)")
    centers = model.cluster_centers_
    pre = front.named_steps["preprocess"] if hasattr(front, "named_steps") else front
    if hasattr(pre, "inverse_transform") and type(pre).__name__ != "FunctionTransformer":
        centers = pre.inverse_transform(centers)
    return centers, None


def write_run(out, result, pipeline, labels, ds, X_train, summary, mappings=None, stale=()):
    """All of the run's files or none: written aside, then moved into ``out`` together
    (metrics.json last: its presence marks a complete run); then the files of a replaced
    experiment that were not rewritten are removed. Returns the names written."""
    with interrupt_guard():
        with staged_folder(out, last=("metrics.json",)) as stage:
            _write_files(stage, result, pipeline, labels, ds, X_train, summary, mappings)
            written = sorted(p.name for p in stage.iterdir())
        remove_stale(stale, written)
    return written


def _write_files(out, result, pipeline, labels, ds, X_train, summary, mappings):
    from .. import metrics, plots
    from . import report

    model, pre = pipeline.named_steps["cluster"], pipeline.named_steps["preprocess"]
    embedded = "embed" in pipeline.named_steps
    atomic_save_npy(out / "centroids.npy", model.cluster_centers_)
    atomic_save_npy(out / "labels.npy", labels["train"])
    if "test" in labels:
        atomic_save_npy(out / "test_labels.npy", labels["test"])
    if mappings is not None:  # the class each row is predicted to be (majority vote, learned on train)
        for split, name in (("train", "predictions.npy"), ("test", "test_predictions.npy")):
            if split in labels:
                atomic_save_npy(out / name, mappings["majority"].predict(labels[split]))

    k = model.cluster_centers_.shape[0]
    centers, title = display_centers(pre if not embedded else None, model, ds.X_train, labels["train"],
                                     result["config"]["embed"])
    titles = None
    if summary is not None:
        titles = [f"{c}: {maj} · {pur:.2f}" if size else f"{c}: empty"
                  for c, (maj, pur, size) in enumerate(zip(summary["majority"], summary["purity"], summary["size"]))]
    plots.plot_centroids(centers, image_shape=ds.image_shape, titles=titles, path=out / "centroids.png",
                         title=title or "centroids: cluster id: majority class · purity")
    objective = OBJECTIVES.get(result["config"]["algorithm"], "objective")
    n = result["dataset"]["n_train"]
    plots.plot_loss(model.history_, ylabel=f"{objective} (total over {n} rows)", path=out / "loss.png",
                    title=f"{result['estimator']['class']}: objective per iteration",
                    per_sample=metrics.per_sample(model.history_, n),
                    per_sample_label=f"mean {objective} per row" + (" (J_clust)" if objective == "SSE" else ""))
    for split, y, name in (("train", ds.y_train, "contingency.png"), ("test", ds.y_test, "contingency_test.png")):
        if y is not None and split in labels:
            cm = metrics.contingency_matrix(y, labels[split], n_clusters=k)
            plots.plot_contingency(cm.matrix, class_names=[str(c) for c in cm.classes], path=out / name,
                                   title=f"{split}: class x cluster" + (" (clusters of the fit on train)"
                                                                        if split == "test" else ""))
    dist = metrics.center_distances(X_train, labels["train"], model.cluster_centers_)
    checkpoint("write")
    report.member_figures(out, ds.X_train, labels["train"], dist, k, ds.image_shape,
                          summary=summary, seed=result["config"]["seed"])
    report.write_run_report(out, result)
    atomic_write_json(out / "metrics.json", result)
