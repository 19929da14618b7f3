"""A finished sweep's outputs: sweep.csv (exact values per cell), sweep.md (mean ± sd over
seeds), sweep.json, the curves and report.html, written all or none."""

import numpy as np

from .._io import atomic_write_bytes, atomic_write_json, checkpoint, interrupt_guard, staged_folder


METRICS = ("sse", "mean_sse", "purity", "gini", "accuracy_majority", "accuracy_hungarian", "nmi", "ari",
           "objective")
MD_METRICS = (("sse", "SSE", "{:.6g}"), ("purity", "purity", "{:.4f}"), ("gini", "Gini", "{:.4f}"),
              ("accuracy_majority", "acc (majority)", "{:.4f}"), ("accuracy_hungarian", "acc (Hungarian)", "{:.4f}"),
              ("nmi", "NMI", "{:.4f}"), ("ari", "ARI", "{:.4f}"))


def _csv_value(value):
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)  # shortest text that reads back as the same float
    return str(value)


def table_rows(spec, records):
    """(header, rows) of sweep.csv: one row per cell, grid order, exact values."""
    splits = [s for s in ("train", "test") if any(s in r["metrics"] for _, _, r in records)]
    header = ["cell"] + list(spec.axes) + ["n_train", "n_test", "n_iter"]
    header += [f"{s}_{m}" for s in splits for m in METRICS]
    if spec.choose_k:
        header += ["silhouette", "calinski_harabasz", "davies_bouldin"]
    rows = []
    for cid, params, r in records:
        row = [cid] + [params[a] for a in spec.axes] + [r["n_train"], r["n_test"], r["n_iter"]]
        row += [r["metrics"].get(s, {}).get(m) for s in splits for m in METRICS]
        if spec.choose_k:
            row += [r["criteria"][c] for c in ("silhouette", "calinski_harabasz", "davies_bouldin")]
        rows.append(row)
    return header, rows, splits


def _spread(values, fmt):
    """"mean ± sd" (population sd over seeds), or the value alone for one seed."""
    values = [v for v in values if v is not None]
    if not values:
        return "-", None
    mean = float(np.mean(values))
    if len(values) == 1:
        return fmt.format(mean), mean
    sd = float(np.std(values))
    return f"{fmt.format(mean)} ± {('{:.3g}' if 'g' in fmt else fmt).format(sd)}", mean


def _objectives(records):
    """{algorithm: its objective's name} of the cells whose objective is not the SSE."""
    from .config import OBJECTIVES

    algos = dict.fromkeys(r["config"]["algorithm"] for _, _, r in records)
    return {a: OBJECTIVES.get(a, "objective") for a in algos if OBJECTIVES.get(a) != "SSE"}


def grouped(spec, records, splits):
    """Per split, (split, header, rows) of sweep.md: one row per setting, mean ± sd over
    seeds; an "objective" column (each method's own) when some method's is not the SSE."""
    shown = [a for a in spec.axes if a != "seed" and (len(spec.axes[a]) > 1 or a == "k")]
    if "metric" in shown and "algorithm" not in shown:
        shown.insert(shown.index("metric") + 1, "algorithm")
    groups = {}
    for _, params, r in records:
        groups.setdefault(tuple(params[a] for a in shown), []).append(r)
    columns = list(MD_METRICS)
    if _objectives(records):
        columns.insert(0, ("objective", "objective (own)", "{:.6g}"))
    tables = []
    for s in splits:
        header = shown + ["seeds"] + [label for _, label, _ in columns]
        rows = []
        for key, res in groups.items():
            row = [str(v) for v in key] + [str(len(res))]
            row += [_spread([r["metrics"].get(s, {}).get(m) for r in res], fmt)[0] for m, _, fmt in columns]
            rows.append(row)
        tables.append((s, header, rows))
    return tables


def objective_note(records):
    """A line saying what each method's own objective is, or None when all are the SSE."""
    own = _objectives(records)
    if not own:
        return None
    return "objective (own): each method's own — " + "; ".join(f"{a}: {n}" for a, n in own.items()) + \
        "; k-means / mini-batch: the SSE. SSE is squared Euclidean for all, for comparison."


def shown_config(spec):
    """The settings of the sweep's cells: the base config with each axis's value (one
    value) or values (a list) in place of the base's, which the cells do not use."""
    config = spec.base.to_dict()
    for axis, values in spec.axes.items():
        config[axis] = values[0] if len(values) == 1 else list(values)
    if "metric" in spec.axes:
        from .config import METRIC_ALGORITHMS

        algos = list(dict.fromkeys(METRIC_ALGORITHMS[m] for m in spec.axes["metric"]))
        config["algorithm"] = algos[0] if len(algos) == 1 else algos
    return config


def _markdown(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def write_summary(spec, out, records):
    """Write sweep.csv, sweep.md, sweep.json (with choose-k answers; choose_k.json too when
    asked for), the figures and report.html from finished cells, all or none of them;
    returns the sweep.json dict."""
    from pathlib import Path

    from .outputs import SWEEP_PATTERNS, _ours, remove_stale

    with interrupt_guard():
        # The summary files of an earlier grid in this folder (its beta_*.png, say) that
        # this one does not rewrite go: the folder shows one sweep, never a mix.
        stale = [p for p in _ours(Path(out), ("choose_k.json",), SWEEP_PATTERNS) if p.is_file()]
        with staged_folder(out, last=("sweep.json",)) as stage:
            summary = _write_summary(spec, stage, records)
            written = {p.name for p in stage.iterdir()}
        remove_stale(stale, written)
        return summary


def _write_summary(spec, out, records):
    import csv
    import io

    from . import report
    from .choosek import choose_k
    from .sweep_figures import sweep_figures

    header, rows, splits = table_rows(spec, records)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([[_csv_value(v) for v in row] for row in rows])
    atomic_write_bytes(out / "sweep.csv", buf.getvalue().encode())
    tables = grouped(spec, records, splits)
    own = objective_note(records)
    md = "\n".join(f"### {s}\n\n{_markdown(h, r)}" for s, h, r in tables) + (f"\n{own}\n" if own else "")
    atomic_write_bytes(out / "sweep.md", md.encode())
    checkpoint("summary")

    varying = [a for a in spec.axes if len(spec.axes[a]) > 1]
    others = [a for a in varying if a not in ("k", "seed")]
    answers = choose_k([(p, r) for _, p, r in records], others) if spec.choose_k else None
    figures = sweep_figures(out, [(p, r) for _, p, r in records], spec.axes, splits, answers)
    notes = sorted({n for _, _, r in records for n in r.get("notes", [])})
    summary = {"base": spec.base.to_dict(), "axes": spec.axes, "cells": len(records),
               "choose_k": answers, "notes": notes, "figures": [name for name, _ in figures]}
    atomic_write_json(out / "sweep.json", summary)
    if answers is not None:
        atomic_write_json(out / "choose_k.json", answers)
    title = f"kmeanslab sweep: {records[0][2]['dataset']}, {len(records)} cells"
    report.write_sweep_report(out, title, shown_config(spec), spec.axes, tables, figures,
                              choose_k=answers, notes=notes + ([own] if own else []))
    return summary
