"""Figures: centroids, objective per iteration, contingency, samples, curves over k.

Each function builds a fresh :class:`matplotlib.figure.Figure` on the Agg canvas (never
pyplot: no global state, no GUI), returns it, and saves it when given ``path`` (PNG by
default, at 100 dpi, written to a temporary file beside it and renamed into place, so a
reader never sees half a file). The figures show themselves in Jupyter (they have a
PNG representation), with or without pyplot imported. Plots compute nothing of their own: every number shown,
titles included, is passed in (see :mod:`kmeanslab.metrics`).
"""

import math
import warnings
from numbers import Integral
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ._io import atomic_open

__all__ = [
    "plot_centroids", "plot_loss", "plot_contingency", "plot_samples", "plot_curve",
    "save_figure",
]  # fmt: skip

_DPI = 100
# Above this many rows or columns, cell annotations and per-cell ticks become unreadable.
_ANNOTATE_MAX = 30


class InlineFigure(Figure):
    """A Figure that Jupyter displays as a PNG when it is a cell's value."""

    def _repr_png_(self):
        import io

        buf = io.BytesIO()
        self.savefig(buf, format="png", dpi=_DPI, bbox_inches="tight")
        return buf.getvalue()


def _figure(width, height):
    fig = InlineFigure(figsize=(width, height), dpi=_DPI)
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig, path):
    """Write ``fig`` to ``path`` atomically; the format follows the suffix (PNG if none)."""
    path = Path(path)
    fmt = path.suffix[1:].lower() or "png"
    with atomic_open(path) as fh:
        fig.savefig(fh, format=fmt, dpi=_DPI, bbox_inches="tight")


def _finish(fig, path, title=None):
    if title is not None:
        fig.suptitle(str(title))
    if path is not None:
        save_figure(fig, path)
    return fig


def _check_names(names, n, name):
    if names is None:
        return None
    names = list(names)
    if len(names) != n:
        raise ValueError(f"{name} has {len(names)} entries, expected {n}")
    return [str(s) for s in names]


def _as_images(array, image_shape):
    """Reshape rows of ``array`` to images, or return None if they do not fit."""
    array = np.asarray(array)
    if image_shape is None:
        return None
    image_shape = tuple(int(s) for s in image_shape)
    if math.prod(image_shape) != math.prod(array.shape[1:]):
        return None
    if len(image_shape) not in (2, 3):
        raise ValueError(f"image_shape must be (height, width[, channels]), got {image_shape}")
    return array.reshape((array.shape[0],) + image_shape)


def plot_centroids(
    centers, image_shape=(28, 28), titles=None, ncols=None, path=None, cmap="gray_r",
    vmin=None, vmax=None, title=None,
):  # fmt: skip
    """Show the cluster centers as a grid of images, one axes per center.

    Parameters
    ----------
    centers : array-like, shape (n_clusters, n_features)
    image_shape : tuple or None
        Shape of one image. When None, or when it does not match ``n_features``, the
        centers are drawn as one clusters x features heatmap instead.
    titles : sequence of str, optional
        One title per center (e.g. majority class and purity from the metrics).
    ncols : int, optional
        Default: all in one row up to 10 centers, else ``max(10, ceil(sqrt(K)))``.
    vmin, vmax : float, optional
        Shared color range; default the range of all centers, so images compare.
    """
    centers = np.asarray(centers, dtype=np.float64)
    if centers.ndim != 2 or centers.shape[0] == 0:
        raise ValueError(f"centers must be 2-D with at least one row, got {centers.shape}")
    k = centers.shape[0]
    titles = _check_names(titles, k, "titles")
    vmin = np.nanmin(centers) if vmin is None else vmin
    vmax = np.nanmax(centers) if vmax is None else vmax
    images = _as_images(centers, image_shape)
    if images is None:
        fig = _figure(min(4 + centers.shape[1] / 50, 16), min(2 + 0.25 * k, 20))
        ax = fig.add_subplot()
        im = ax.imshow(centers, aspect="auto", cmap=cmap, vmin=vmin, vmax=vmax,
                       interpolation="nearest")  # fmt: skip
        ax.set_xlabel("feature")
        ax.set_ylabel("cluster")
        if k <= 50:
            ax.set_yticks(range(k), titles if titles is not None else range(k))
        fig.colorbar(im, ax=ax)
        return _finish(fig, path, title)
    if ncols is None:
        ncols = k if k <= 10 else max(10, math.ceil(math.sqrt(k)))
    elif not isinstance(ncols, Integral) or ncols < 1:
        raise ValueError(f"ncols must be a positive int, got {ncols!r}")
    ncols = min(int(ncols), k)
    nrows = math.ceil(k / ncols)
    cell = 1.2 if k <= 100 else 0.8
    height = nrows * (cell + (0.3 if titles else 0))
    fig = _figure(ncols * cell, height + (0.5 if title else 0))
    if title:
        # Room above the per-image titles, so the figure title never overlaps them.
        fig.subplots_adjust(top=height / (height + 0.5))
    for i in range(k):
        ax = fig.add_subplot(nrows, ncols, i + 1)
        ax.imshow(images[i], cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
        ax.set_axis_off()
        if titles is not None:
            ax.set_title(titles[i], fontsize=9 if k <= 100 else 7)
    return _finish(fig, path, title)


def _flattened(runs):
    """Whether the first step's drop dwarfs the rest (the curve looks flat on a linear axis)."""
    r = runs[0]
    if r.size < 3 or np.any(r <= 0):
        return False
    rest = np.max(r[1:]) - np.min(r[1:])
    return r[0] - np.min(r) > 10 * rest


def _loss_axes(ax, runs, best, xlabel, ylabel, logy):
    for i, r in enumerate(runs):
        x = np.arange(1, r.size + 1)
        if len(runs) == 1:
            ax.plot(x, r, marker="o", markersize=4)
        elif i != best:
            ax.plot(x, r, marker=".", color="0.6", linewidth=1, alpha=0.7)
        else:
            ax.plot(x, r, marker="o", markersize=4, color="C3", linewidth=2,
                    label=f"best (run {best})", zorder=3)  # fmt: skip
    if len(runs) > 1:
        ax.legend()
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel + (" (log scale)" if logy else ""))
    if logy:
        ax.set_yscale("log")
    ax.grid(True, alpha=0.3)


def _runs(history, name):
    runs = [history] if np.ndim(history[0] if len(history) else 0) == 0 else list(history)
    runs = [np.asarray(r, dtype=np.float64).ravel() for r in runs]
    if not runs or any(r.size == 0 for r in runs):
        raise ValueError(f"{name} must hold at least one value per run")
    return runs


def plot_loss(history, ylabel="objective", path=None, title=None, best=None,
              xlabel="iteration", logy="auto", per_sample=None, per_sample_label="mean per row"):  # fmt: skip
    """Objective per iteration, x = 1..n; one line per run when given several.

    Parameters
    ----------
    history : sequence of float, or sequence of such sequences (one per ``n_init`` run)
    ylabel : str
        What the values are (e.g. "SSE (total over 60000 rows)").
    best : int, optional
        Run to highlight; default the run with the lowest final value.
    logy : bool or "auto"
        Log scale; "auto" uses it when the first step's drop is over 10x the range of
        the rest, which a linear axis would show as a flat line.
    per_sample, per_sample_label : optional
        The same curve per row (J_clust = SSE / n, from :func:`kmeanslab.metrics.per_sample`),
        drawn in a second panel beside the total.
    """
    runs = _runs(history, "history")
    if best is None:
        best = int(np.argmin([r[-1] for r in runs]))
    elif not isinstance(best, Integral) or not 0 <= best < len(runs):
        raise ValueError(f"best must index one of the {len(runs)} runs, got {best!r}")
    log = _flattened(runs) if logy == "auto" else bool(logy)
    panels = [(runs, ylabel)]
    if per_sample is not None:
        mean = _runs(per_sample, "per_sample")
        if [r.size for r in mean] != [r.size for r in runs]:
            raise ValueError("per_sample must have the shape of history")
        panels.append((mean, per_sample_label))
    fig = _figure(6 * len(panels), 4)
    for i, (values, label) in enumerate(panels):
        _loss_axes(fig.add_subplot(1, len(panels), i + 1), values, best, xlabel, label, log)
    if len(panels) > 1:
        fig.tight_layout(rect=(0, 0, 1, 0.93 if title else 1))
    return _finish(fig, path, title)


def plot_contingency(matrix, class_names=None, path=None, title=None, normalize=False,
                     cluster_names=None, cmap="Blues"):  # fmt: skip
    """Classes x clusters heatmap, with each cell's value written in when K <= 30.

    ``normalize``: False shows counts; ``"cluster"`` (or True) shows each column as
    fractions of its cluster; ``"class"`` each row as fractions of its class. Empty
    rows or columns show zeros.
    """
    matrix = np.asarray(matrix)
    if matrix.ndim != 2 or 0 in matrix.shape:
        raise ValueError(f"matrix must be 2-D and non-empty, got shape {matrix.shape}")
    n_classes, k = matrix.shape
    class_names = _check_names(class_names, n_classes, "class_names")
    cluster_names = _check_names(cluster_names, k, "cluster_names")
    if normalize is False or normalize is None:
        data, label, fmt = matrix, "count", "{:.0f}"
    elif normalize in (True, "cluster", "class"):
        axis = 1 if normalize == "class" else 0
        totals = matrix.sum(axis=axis, keepdims=True)
        data = matrix / np.where(totals == 0, 1, totals)
        label = "fraction of " + ("class" if axis == 1 else "cluster")
        fmt = "{:.2f}"
    else:
        raise ValueError(f"normalize must be False, True, 'cluster' or 'class', got {normalize!r}")
    fig = _figure(min(max(4.0, 0.45 * k + 2), 24), min(max(3.0, 0.4 * n_classes + 1.5), 20))
    ax = fig.add_subplot()
    im = ax.imshow(data, aspect="auto", cmap=cmap, interpolation="nearest")
    fig.colorbar(im, ax=ax, label=label)
    ax.set_xlabel("cluster")
    ax.set_ylabel("class")
    if k <= _ANNOTATE_MAX:
        ax.set_xticks(range(k), cluster_names if cluster_names is not None else range(k))
    if n_classes <= _ANNOTATE_MAX or class_names is not None:
        names = class_names if class_names is not None else range(n_classes)
        ax.set_yticks(range(n_classes), names)
    if k <= _ANNOTATE_MAX and n_classes <= _ANNOTATE_MAX:
        top = float(np.max(data)) if data.size else 0.0
        for (c, j), v in np.ndenumerate(data):
            ax.text(j, c, fmt.format(v), ha="center", va="center", fontsize=8,
                    color="white" if top > 0 and v > 0.6 * top else "black")  # fmt: skip
    return _finish(fig, path, title)


def plot_samples(images, image_shape=(28, 28), row_titles=None, max_per_row=10,
                 path=None, cmap="gray_r", title=None):  # fmt: skip
    """A grid of example images: one row per cluster, up to ``max_per_row`` per row.

    Parameters
    ----------
    images : dict {cluster: array (m, n_features)} or list of such arrays
        The rows, in order; an empty array gives a row with its label only.
    row_titles : sequence of str, optional
        Default ``"cluster <key>"`` (dict keys, or positions for a list).
    """
    keys = list(images.keys()) if isinstance(images, dict) else list(range(len(images)))
    rows = list(images.values()) if isinstance(images, dict) else list(images)
    if not rows:
        raise ValueError("images must hold at least one row")
    row_titles = _check_names(row_titles, len(rows), "row_titles")
    if row_titles is None:
        row_titles = [f"cluster {key}" for key in keys]
    if not isinstance(max_per_row, Integral) or max_per_row < 1:
        raise ValueError(f"max_per_row must be a positive int, got {max_per_row!r}")
    shown = []
    for key, row in zip(keys, rows):
        row = np.asarray(row, dtype=np.float64)
        row = row.reshape(row.shape[0], -1)[:max_per_row] if row.size else row.reshape(0, 0)
        pics = _as_images(row, image_shape) if row.size else row
        if pics is None:
            raise ValueError(f"images[{key!r}] rows do not fit image_shape {image_shape}")
        shown.append(pics)
    ncols = max(1, max(len(p) for p in shown))
    finite = [p for p in shown if p.size]
    vmin = min(np.nanmin(p) for p in finite) if finite else 0.0
    vmax = max(np.nanmax(p) for p in finite) if finite else 1.0
    fig = _figure(1.5 + ncols * 1.0, len(shown) * 1.05)
    for r, (pics, label) in enumerate(zip(shown, row_titles)):
        for j in range(max(len(pics), 1)):
            ax = fig.add_subplot(len(shown), ncols, r * ncols + j + 1)
            ax.set_axis_off()
            if j < len(pics):
                ax.imshow(pics[j], cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
            if j == 0:
                ax.text(-0.15, 0.5, label, transform=ax.transAxes, ha="right", va="center",
                        fontsize=9)  # fmt: skip
    return _finish(fig, path, title)


def plot_curve(x, ys, xlabel, ylabel, path=None, mark_x=None, title=None,
               mark_label=None, logx=False, knees=None):  # fmt: skip
    """One line per series against ``x`` (e.g. an elbow curve, or a metric against k).

    Parameters
    ----------
    x : array-like, shape (n,)
    ys : dict {name: array (n,) or (n_seeds, n)}
        A 2-D series is drawn as its mean over seeds with a min-max band.
    mark_x : float, optional
        Draws a dashed vertical line there (e.g. the elbow's knee).
    knees : dict {name: x}, optional
        Marks the point of series ``name`` at ``x`` (e.g. each curve's knee, found by
        :func:`kmeanslab.experiment.choosek.knee`) with a star.
    """
    x = np.asarray(x, dtype=np.float64).ravel()
    if not isinstance(ys, dict) or not ys:
        raise ValueError("ys must be a non-empty dict {name: values}")
    fig = _figure(6.5, 4.2)
    ax = fig.add_subplot()
    for i, (name, values) in enumerate(ys.items()):
        values = np.asarray(values, dtype=np.float64)
        if values.ndim not in (1, 2) or values.shape[-1] != x.size:
            raise ValueError(
                f"ys[{name!r}] must have shape ({x.size},) or (n_seeds, {x.size}), "
                f"got {values.shape}"
            )
        if values.ndim == 2:
            # All-NaN columns (no seed finished) are left as gaps, without a warning.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                low, mean, high = (f(values, axis=0) for f in (np.nanmin, np.nanmean, np.nanmax))
            ax.fill_between(x, low, high, color=f"C{i}", alpha=0.2, linewidth=0)
            values = mean
        ax.plot(x, values, marker="o", markersize=4, color=f"C{i}", label=str(name))
        at = (knees or {}).get(name)
        if at is not None and np.any(x == at):
            j = int(np.flatnonzero(x == at)[0])
            prefix = f"{name}: " if len(ys) > 1 else ""
            ax.plot([at], [values[j]], marker="*", markersize=16, color=f"C{i}", markeredgecolor="black",
                    linestyle="none", zorder=4, label=f"{prefix}knee at {xlabel} = {at:g}")
    if mark_x is not None:
        label = mark_label if mark_label is not None else f"{xlabel} = {mark_x}"
        ax.axvline(mark_x, color="0.2", linestyle="--", linewidth=1, label=label)
    if len(ys) > 1 or mark_x is not None or knees:
        ax.legend()
    if x.size and np.all(x == np.round(x)):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if logx:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    return _finish(fig, path, title)


def plot_contingencies(matrices, titles, class_names=None, path=None, title=None, cmap="Blues"):
    """Several classes x clusters count matrices side by side (one per sweep cell), each
    cell's count written in when it has at most 30 clusters."""
    if not matrices:
        raise ValueError("matrices must hold at least one matrix")
    titles = _check_names(titles, len(matrices), "titles")
    mats = [np.asarray(m) for m in matrices]
    n_classes = mats[0].shape[0]
    width = sum(min(max(3.0, 0.38 * m.shape[1] + 1.2), 12) for m in mats)
    fig = _figure(min(width, 30), min(max(3.0, 0.35 * n_classes + 1.5), 12))
    for i, (m, name) in enumerate(zip(mats, titles)):
        ax = fig.add_subplot(1, len(mats), i + 1)
        ax.imshow(m, aspect="auto", cmap=cmap, interpolation="nearest")
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("cluster")
        k = m.shape[1]
        if k <= _ANNOTATE_MAX:
            ax.set_xticks(range(k), range(k), fontsize=7)
        if i == 0:
            ax.set_ylabel("class")
            ax.set_yticks(range(m.shape[0]), class_names if class_names is not None else range(m.shape[0]))
        else:
            ax.set_yticks([])
        if k <= _ANNOTATE_MAX and m.shape[0] <= _ANNOTATE_MAX:
            top = float(m.max()) if m.size else 0.0
            for (c, j), v in np.ndenumerate(m):
                ax.text(j, c, f"{v:.0f}", ha="center", va="center", fontsize=6,
                        color="white" if top > 0 and v > 0.6 * top else "black")
    fig.tight_layout(rect=(0, 0, 1, 0.93 if title else 1))
    return _finish(fig, path, title)


def plot_centroid_rows(rows, image_shape, row_titles, titles=None, path=None, title=None, cmap="gray_r"):
    """One strip of centroid images per entry of ``rows`` (arrays (k, n_features)), e.g.
    one per sweep cell; ``titles[r][j]`` names centroid j of row r."""
    if not rows:
        raise ValueError("rows must hold at least one row")
    row_titles = _check_names(row_titles, len(rows), "row_titles")
    pics = [_as_images(np.asarray(r, dtype=np.float64), image_shape) for r in rows]
    if any(p is None for p in pics):
        raise ValueError(f"rows do not fit image_shape {image_shape}")
    ncols = max(len(p) for p in pics)
    fig = _figure(1.6 + ncols * 0.9, len(pics) * (1.15 if titles else 0.95))
    for r, row in enumerate(pics):
        vmin, vmax = np.nanmin(row), np.nanmax(row)
        for j in range(ncols):
            ax = fig.add_subplot(len(pics), ncols, r * ncols + j + 1)
            ax.set_axis_off()
            if j < len(row):
                ax.imshow(row[j], cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
                if titles is not None:
                    ax.set_title(str(titles[r][j]), fontsize=7)
            if j == 0:
                ax.text(-0.15, 0.5, row_titles[r], transform=ax.transAxes, ha="right", va="center", fontsize=9)
    return _finish(fig, path, title)
