"""A run's folder: arrays, figures, report and metrics.json, written all or none."""

import numpy as np

from .._io import atomic_save_npy, atomic_write_json, checkpoint, interrupt_guard, staged_folder


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


def write_run(out, result, pipeline, labels, ds, X_train, summary):
    """All of the run's files or none: written aside, then moved into ``out`` together
    (metrics.json last: its presence marks a complete run)."""
    with interrupt_guard(), staged_folder(out, last=("metrics.json",)) as stage:
        _write_files(stage, result, pipeline, labels, ds, X_train, summary)


def _write_files(out, result, pipeline, labels, ds, X_train, summary):
    from .. import metrics, plots
    from . import report

    model, pre = pipeline.named_steps["cluster"], pipeline.named_steps["preprocess"]
    embedded = "embed" in pipeline.named_steps
    atomic_save_npy(out / "centroids.npy", model.cluster_centers_)
    atomic_save_npy(out / "labels.npy", labels["train"])
    if "test" in labels:
        atomic_save_npy(out / "test_labels.npy", labels["test"])

    k = model.cluster_centers_.shape[0]
    if embedded:
        # Centres live in the embedding: show what they stand for, the mean member image.
        centers = pixel_means(ds.X_train, labels["train"], k)
        title = f"mean image of each cluster's members (centres are in the {result['config']['embed']} space)"
    else:
        centers = model.cluster_centers_
        if hasattr(pre, "inverse_transform") and type(pre).__name__ != "FunctionTransformer":
            centers = pre.inverse_transform(centers)  # show centroids as the images they stand for
        title = None
    titles = None
    if summary is not None:
        titles = [f"{maj} · {pur:.2f}" if size else "empty"
                  for maj, pur, size in zip(summary["majority"], summary["purity"], summary["size"])]
    plots.plot_centroids(centers, image_shape=ds.image_shape, titles=titles, path=out / "centroids.png",
                         title=title)
    plots.plot_loss(model.history_, ylabel="objective (SSE)", path=out / "loss.png",
                    title=f"{result['estimator']['class']}: objective per iteration")
    if ds.y_train is not None:
        cm = metrics.contingency_matrix(ds.y_train, labels["train"], n_clusters=k)
        plots.plot_contingency(cm.matrix, class_names=[str(c) for c in cm.classes],
                               path=out / "contingency.png", title="train: class x cluster")
    dist = metrics.center_distances(X_train, labels["train"], model.cluster_centers_)
    checkpoint("write")
    report.member_figures(out, ds.X_train, labels["train"], dist, k, ds.image_shape,
                          summary=summary, seed=result["config"]["seed"])
    report.write_run_report(out, result)
    atomic_write_json(out / "metrics.json", result)
