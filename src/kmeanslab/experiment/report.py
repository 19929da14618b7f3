"""The self-contained HTML report of a run or a sweep: one file, nothing to fetch.

Figures are embedded as base64 PNG data URIs and the style sheet is inline, so the file
opens anywhere, offline, without a server. Every number shown is read from the result
dict written beside it (``metrics.json`` or the sweep's cells), which holds what
:mod:`kmeanslab.metrics` returned; each metric cell also carries the exact value in a
``data-value`` attribute, so tests (and readers) can check the rounding.

A tiny inline script sets ``data-report-check="ok"`` on the ``<html>`` element once the
page has loaded, unless a script error happened or an image failed to decode
(``"failed"``), and ``data-report-layout`` to the number of tables wider than the window
and the blank space below the content (px); headless browsers read both back with
``--dump-dom``.
"""

import base64
import html
import json
from pathlib import Path

import numpy as np

from .config import OBJECTIVES

__all__ = ["METRIC_ROWS", "member_figures", "metric_rows", "write_run_report", "write_sweep_report", "page"]

METRIC_ROWS = [
    ("sse", "SSE", "{:.6g}"),
    ("mean_sse", "mean SSE (J_clust)", "{:.4f}"),
    ("purity", "purity", "{:.4f}"),
    ("gini", "Gini impurity", "{:.4f}"),
    ("accuracy_majority", "accuracy (majority)", "{:.4f}"),
    ("accuracy_hungarian", "accuracy (Hungarian)", "{:.4f}"),
    ("nmi", "NMI", "{:.4f}"),
    ("ari", "ARI", "{:.4f}"),
]

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;background:#f6f7f9;color:#1d2330}
main{max-width:1220px;margin:0 auto;padding:24px 28px 28px;background:#fff}
h1{font-size:1.6em;margin:0 0 4px}h2{font-size:1.2em;margin:28px 0 8px;border-bottom:1px solid #e3e6ea;padding-bottom:4px}
.sub{color:#5b6472;margin:0 0 12px}.note{background:#fff7e0;border-left:4px solid #e6b400;padding:6px 10px;margin:6px 0}
.alarm{background:#fde8e8;border:2px solid #c81e1e;color:#7a0e0e;font-weight:600;padding:10px 12px;margin:8px 0}
table{border-collapse:collapse;font-size:0.92em;margin:6px 0}
th,td{border:1px solid #dfe3e8;padding:4px 7px;text-align:right;white-space:nowrap}th{background:#f1f3f6}
td.l,th.l{text-align:left}tbody tr:nth-child(even){background:#fafbfc}
figure{margin:10px 0 18px}figure img{max-width:100%;border:1px solid #eceff3}
figcaption{color:#5b6472;font-size:0.9em;margin-top:4px}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(330px,1fr));gap:12px}
.scroll{overflow-x:auto}code{background:#f1f3f6;padding:1px 4px;border-radius:3px}
table.sweep{font-size:.85em}table.sweep th{white-space:normal;padding:3px 5px}table.sweep td{padding:3px 5px}
.sd{color:#5b6472;font-size:.9em}
"""

_CHECK = """
(function(){var bad=false;
window.addEventListener('error',function(){bad=true;},true);
window.addEventListener('load',function(){
 var im=document.images;for(var i=0;i<im.length;i++){if(!im[i].complete||im[i].naturalWidth===0){bad=true;}}
 var wide=0,sc=document.querySelectorAll('.scroll');for(var j=0;j<sc.length;j++){if(sc[j].scrollWidth>sc[j].clientWidth+1){wide++;}}
 var m=document.querySelector('main'),last=m&&m.lastElementChild;
 var spare=last?Math.round(m.getBoundingClientRect().bottom-last.getBoundingClientRect().bottom):0;
 document.documentElement.setAttribute('data-report-layout',JSON.stringify({overflow:wide,spare:spare,width:window.innerWidth}));
 document.documentElement.setAttribute('data-report-check',bad?'failed':'ok');});})();
"""


def esc(value):
    return html.escape(str(value), quote=True)


def data_uri(path):
    """A PNG file as a ``data:`` URI."""
    return "data:image/png;base64," + base64.b64encode(Path(path).read_bytes()).decode("ascii")


def figure(path, caption):
    """An embedded figure, or nothing when the file was not made."""
    path = Path(path)
    if not path.is_file():
        return ""
    return (f'<figure><img src="{data_uri(path)}" alt="{esc(caption)}">'
            f"<figcaption>{esc(caption)}</figcaption></figure>")


def page(title, body):
    """A complete HTML document: inline style, inline check script, no external reference."""
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width,initial-scale=1">'
            f"<title>{esc(title)}</title><style>{_CSS}</style><script>{_CHECK}</script></head>"
            f"<body><main>{body}</main></body></html>\n")


def _fmt(fmt, value):
    return "-" if value is None else fmt.format(value)


def metric_cell(key, split, value, fmt):
    """A table cell with the display value and the exact value (``repr``) in data-value."""
    exact = "" if value is None else repr(float(value))
    return (f'<td data-key="{esc(key)}" data-split="{esc(split)}" data-value="{exact}" '
            f'title="{exact}">{esc(_fmt(fmt, value))}</td>')


def metric_rows(algorithm=None):
    """(key, label, format) of the metrics shown for a run of ``algorithm``: SSE once when
    it is the algorithm's objective, else the algorithm's own objective first."""
    name = OBJECTIVES.get(algorithm, "SSE")
    if name == "SSE":
        return [("sse", "SSE (objective)", "{:.6g}")] + METRIC_ROWS[1:]
    return [("objective", f"objective: {name}", "{:.6g}")] + METRIC_ROWS


def metrics_table(metrics, algorithm=None):
    """Metrics x splits, as in ``kmeanslab run``'s printed table."""
    splits = list(metrics)
    head = "".join(f"<th>{esc(s)}</th>" for s in splits)
    body = []
    for key, label, fmt in metric_rows(algorithm):
        if not any(key in metrics[s] for s in splits):
            continue
        cells = "".join(metric_cell(key, s, metrics[s].get(key), fmt) for s in splits)
        body.append(f'<tr><th class="l">{esc(label)}</th>{cells}</tr>')
    return f'<table class="metrics"><thead><tr><th></th>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def run_title(result):
    """"digits, k = 10", flagged when the data are a fallback for the set asked for."""
    cfg, ds = result["config"], result["dataset"]
    fallback = any(n.startswith("FALLBACK") for n in result.get("notes", []))
    name = f"{ds['name']} (FALLBACK: not {cfg['dataset']})" if fallback else ds["name"]
    return f"{name}, k = {cfg['k']}"


def unrepresented_note(result):
    """A line naming the classes that are no cluster's majority, or None."""
    missing = (result.get("clusters") or {}).get("unrepresented")
    if not missing:
        return None
    return (f"No cluster stands for class{'es' * (len(missing) > 1)} {', '.join(map(str, missing))}: "
            "every cluster is mostly another class, so majority-vote labelling never predicts "
            f"{'them' if len(missing) > 1 else 'it'}.")


def kv_table(mapping):
    rows = "".join(f'<tr><th class="l">{esc(k)}</th><td class="l"><code>{esc(json.dumps(v))}</code></td></tr>'
                   for k, v in mapping.items())
    return f'<table class="config">{rows}</table>'


def table(header, rows, classes=None):
    """A plain table of already formatted cells (strings; pre-rendered ``<td>`` kept as is)."""
    head = "".join(f'<th class="{"l" if i == 0 else ""}">{esc(h)}</th>' for i, h in enumerate(header))

    def cell(i, c):
        return c if str(c).startswith("<td") else f'<td class="{"l" if i == 0 else ""}">{esc(c)}</td>'

    body = "".join("<tr>" + "".join(cell(i, c) for i, c in enumerate(r)) + "</tr>" for r in rows)
    return (f'<div class="scroll"><table class="{esc(classes or "")}"><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table></div>")


# -- run ----------------------------------------------------------------------------------

def _row_titles(summary, ids, what):
    if summary is None:
        return [f"cluster {k} {what}" for k in ids]
    return [f"{k}: {summary['majority'][k]} · {summary['purity'][k]:.2f}" if summary["size"][k]
            else f"{k}: empty" for k in ids]


def mosaic_figure(rows, image_shape, row_titles, path, title=None, cmap="gray_r"):
    """One row of images per entry of ``rows`` (arrays (m, n_features)), tiled into a
    single picture with thin gaps: one axes in all, so cheap to draw however many images."""
    from matplotlib import colormaps
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from ..plots import save_figure

    h, w = int(image_shape[0]), int(image_shape[1])
    ncols = max(1, max(len(r) for r in rows))
    tile = np.full((len(rows) * (h + 1) - 1, ncols * (w + 1) - 1), np.nan)
    for i, row in enumerate(rows):
        for j, img in enumerate(np.asarray(row, dtype=float)):
            tile[i * (h + 1):i * (h + 1) + h, j * (w + 1):j * (w + 1) + w] = img.reshape(h, w)
    cell = 0.55
    fig = Figure(figsize=(2.2 + ncols * cell, 0.7 + len(rows) * cell * h / w), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    colors = colormaps[cmap].with_extremes(bad="white")  # the gaps, and images small clusters lack
    ax.imshow(tile, cmap=colors, interpolation="nearest", aspect="equal")
    ax.set_yticks([i * (h + 1) + h / 2 - 0.5 for i in range(len(rows))], row_titles, fontsize=9)
    ax.set_xticks([])
    for side in ax.spines.values():
        side.set_visible(False)
    ax.tick_params(length=0)
    if title:
        ax.set_title(title, fontsize=10)
    save_figure(fig, path)
    return fig


def member_figures(out, X, labels, distances, k, image_shape, summary=None, seed=0,
                   per_row=10, max_clusters=30):
    """Write samples.png (random members), typical.png and atypical.png (closest to and
    farthest from their centre) for image data; returns the file names written.

    ``distances`` are each row's distance to its own centre, in the space clustered.
    Rows are the first ``max_clusters`` clusters; row titles give majority class and
    purity from :func:`kmeanslab.metrics.cluster_summary`.
    """
    if image_shape is None or len(image_shape) != 2 or int(np.prod(image_shape)) != X.shape[1]:
        return []
    rng = np.random.RandomState(seed)
    ids = list(range(min(k, max_clusters)))
    more = f" (first {len(ids)} of {k} clusters)" if k > len(ids) else ""
    samples, near, far = [], [], []
    for c in ids:
        members = np.flatnonzero(labels == c)
        pick = np.sort(rng.choice(members, min(per_row, members.size), replace=False)) if members.size else members
        order = members[np.argsort(distances[members], kind="stable")]
        samples.append(X[pick])
        near.append(X[order[:per_row]])
        far.append(X[order[::-1][:per_row]])
    titles = _row_titles(summary, ids, "")
    made = []
    for name, rows, title in (("samples.png", samples, "random members of each cluster"),
                              ("typical.png", near, "most typical members (closest to the centre)"),
                              ("atypical.png", far, "least typical members (farthest from the centre)")):
        mosaic_figure(rows, image_shape, titles, Path(out) / name, title=title + more)
        made.append(name)
    return made


def write_run_report(out, result):
    """Write ``out/report.html`` for a run from its result dict and the PNGs in ``out``."""
    out = Path(out)
    cfg, ds = result["config"], result["dataset"]
    embed = cfg.get("embed")
    notes = result.get("notes", [])
    parts = [f"<h1>kmeanslab run: {esc(run_title(result))}</h1>"]
    parts += [f'<p class="alarm">{esc(n)}</p>' for n in notes if n.startswith(("FALLBACK", "warning:"))]
    parts += [f'<p class="sub">{esc(result["estimator"]["class"])} · pipeline '
              f'{esc(" → ".join(result.get("pipeline", [])))} · {ds["n_train"]} train rows'
              f'{", " + str(ds["n_test"]) + " test rows" if ds["n_test"] else ""} · '
              f'{ds["n_features"]} features{" → " + str(ds["n_features_clustered"]) if embed else ""}</p>']
    parts += [f'<p class="note">{esc(n)}</p>' for n in notes if not n.startswith(("FALLBACK", "warning:"))]
    parts += ["<h2>Metrics</h2>", metrics_table(result["metrics"], cfg.get("algorithm")),
              '<p class="sub">Test metrics use the cluster → class mappings learned on train.</p>']
    unrep = unrepresented_note(result)
    if unrep:
        parts.append(f'<p class="note" id="unrepresented">{esc(unrep)}</p>')
    clusters = result.get("clusters")
    if clusters:
        rows = [[str(c), str(clusters["majority"][c]), str(clusters["size"][c]),
                 metric_cell("purity", c, clusters["purity"][c], "{:.4f}"),
                 metric_cell("gini", c, clusters["gini"][c], "{:.4f}")]
                for c in range(len(clusters["size"]))]
        parts += ["<h2>Clusters (train)</h2>",
                  table(["cluster", "majority class", "size", "purity", "Gini"], rows, "clusters")]
    centroid_caption = ("mean image of each cluster's members (the centres live in the "
                        f"{embed} space)" if embed else "centroids") + ": cluster id: majority class · purity"
    parts += ["<h2>Figures</h2>",
              figure(out / "centroids.png", centroid_caption),
              figure(out / "loss.png", "objective per iteration (best run): total and per row"),
              '<div class="grid">', figure(out / "contingency.png", "train: class × cluster counts"),
              figure(out / "contingency_test.png", "test: class × cluster counts (clusters of the fit on train)"),
              "</div>",
              figure(out / "samples.png", "random members of each cluster"),
              '<div class="grid">', figure(out / "typical.png", "most typical members: closest to their centre"),
              figure(out / "atypical.png", "least typical members: farthest from their centre"), "</div>",
              "<h2>Config</h2>", kv_table(cfg),
              "<h2>Timings (s)</h2>", kv_table({k: round(v, 3) for k, v in result.get("timings", {}).items()})]
    html_text = page(f"kmeanslab run: {run_title(result)}", "\n".join(p for p in parts if p))
    from .._io import atomic_write_bytes

    atomic_write_bytes(out / "report.html", html_text.encode("utf-8"))
    return out / "report.html"


# -- sweep --------------------------------------------------------------------------------

def write_sweep_report(out, title, config, axes, tables, figures, choose_k=None, notes=()):
    """Write ``out/report.html`` for a sweep.

    ``tables``: (split, header, rows) of the summary tables, one per split (cells
    pre-rendered by the caller, as in sweep.md); ``figures``: (file name, caption) pairs
    in ``out``; ``choose_k``: the criteria tables and picks from :mod:`.choosek`.
    """
    out = Path(out)
    grid = ", ".join(f"{k} ∈ {{{', '.join(map(str, v))}}}" for k, v in axes.items() if len(v) > 1)
    unused = {"seed"} | (set() if "soft" in axes.get("algorithm", ()) else {"beta"})
    if "metric" in axes:  # the metric picks the algorithm: the algorithm axis is unused
        unused.add("algorithm")
    fixed = ", ".join(f"{k} {v[0]}" for k, v in axes.items() if len(v) == 1 and v[0] is not None and k not in unused)
    parts = [f"<h1>{esc(title)}</h1>", f'<p class="sub">grid: {esc(grid or "one cell")}'
             f'{esc("; every cell: " + fixed) if fixed else ""}</p>']
    parts += [f'<p class="note">{esc(n)}</p>' for n in notes]
    parts.append("<h2>Results (mean ± sd over seeds)</h2>")
    for split, header, rows in tables:
        # "mean ± sd" on two lines: the tables stay as wide as their means.
        rows = [[f'<td>{esc(c.split(" ± ")[0])}<br><span class="sd">± {esc(c.split(" ± ")[1])}</span></td>'
                 if " ± " in str(c) else c for c in row] for row in rows]
        parts += [f"<h3>{esc(split)}</h3>", table(header, rows, f"sweep sweep-{split}")]
    if choose_k:
        parts.append("<h2>Choosing k</h2>")
        for group in choose_k:
            label = group["group"] or "all cells"
            picks = ", ".join(f"{name}: k = {k}" for name, k in group["picks"].items())
            crit = [[str(r["k"])] + [metric_cell(c, r["k"], r.get(c), f)
                                     for c, f in (("sse", "{:.6g}"), ("silhouette", "{:.4f}"),
                                                  ("calinski_harabasz", "{:.6g}"),
                                                  ("davies_bouldin", "{:.4f}"))]
                    for r in group["rows"]]
            parts += [f"<p><b>{esc(label)}</b> — picks: {esc(picks)}</p>",
                      table(["k", "SSE", "silhouette", "Calinski–Harabasz", "Davies–Bouldin"], crit, "choosek")]
    # One panel per cell: full width, to be read; the curves share a grid.
    wide = [(n, c) for n, c in figures if n.startswith("cells_")]
    parts.append("<h2>Figures</h2>")
    parts += [figure(out / name, caption) for name, caption in wide]
    parts.append('<div class="grid">')
    parts += [figure(out / name, caption) for name, caption in figures if (name, caption) not in wide]
    parts += ["</div>", "<h2>Config (lists: the grid's values)</h2>", kv_table(config)]
    from .._io import atomic_write_bytes

    atomic_write_bytes(out / "report.html", page(title, "\n".join(p for p in parts if p)).encode("utf-8"))
    return out / "report.html"
