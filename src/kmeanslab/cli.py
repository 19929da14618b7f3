"""The ``kmeanslab`` command: parses flags, shows progress, prints tables.

Every user error ends as one line on stderr and exit code 2, never a traceback.
"""

import argparse
import difflib
import json
import os
import re
import sys
from pathlib import Path

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

from ._io import interrupt_guard, interrupted  # noqa: E402
# The rows of the printed table: the report's, so the two always agree.
from .experiment.report import METRIC_ROWS as TABLE_ROWS, metric_rows  # noqa: E402


class UsageError(Exception):
    """Bad flags: reported in one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(f"{self.prog}: {message}{self._suggestion(message)}")

    def _suggestion(self, message):
        """A "did you mean" for a mistyped flag or command (difflib, as Python 3.14's
        argparse does with suggest_on_error)."""
        subs = [a for a in self._actions if isinstance(a, argparse._SubParsersAction)]
        parsers = [self] + [p for a in subs for p in a.choices.values()]
        flags = list(dict.fromkeys(o for p in parsers for a in p._actions for o in a.option_strings
                                   if o.startswith("--")))
        choices = [c for a in subs for c in a.choices]
        bad = re.findall(r"(--[\w-]+)", message) if "unrecognized" in message else \
            re.findall(r"invalid choice: '([^']+)'", message)
        for word in bad:
            close = difflib.get_close_matches(word.split("=")[0], flags if word.startswith("--") else choices, n=1)
            if close:
                return f"; did you mean {close[0]}?"
        return ""


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {value}")
    return value


def _n_init(text):
    return text if text == "auto" else _positive_int(text)


def _float(text):
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


# Flags that are grid axes in ``sweep``: one value for ``run``, a list or range for sweep.
GRID_FLAGS = ("k", "algorithm", "metric", "init", "beta", "preprocess", "embed", "seed")
SWEEP_OPTIONS = ("jobs", "choose_k", "silhouette_sample")
CLI_ONLY = ("config", "command", "quiet", "json", "force")


def add_run_flags(p, grid=False):
    """Flags of ``run`` (``grid=True``: of ``sweep``, where the axes take lists and ranges).

    Defaults are None so that a config file can fill them.
    """
    many = " (a list: a,b,c)" if grid else ""
    span = " (a list a,b,c or an inclusive range a:b)" if grid else ""
    axis = str if grid else None
    p.add_argument("--config", metavar="FILE.toml", help="read settings from a TOML file; flags override it")
    p.add_argument("--dataset", help="mnist | digits | iris | PATH (IDX folder or torchvision MNIST/raw, "
                                     ".npy, .npz incl. Keras's mnist.npz, .csv, .parquet or a folder of them, "
                                     ".zarr; .zarr and .npy over 1 GiB are read lazily, fitted with Dask); "
                                     "NAME:test clusters that split alone, NAME:all both (e.g. mnist:all)")
    p.add_argument("--test-size", type=_float, metavar="F",
                   help="hold out this fraction (or number of rows) as the test split, seeded and stratified, "
                        "for data without one (iris, CSV files, NAME:all)")
    p.add_argument("--columns", metavar="A,B,0:9", help="feature columns of a table (names, indices, ranges)")
    p.add_argument("--label-column", metavar="NAME|INDEX", help="the table's column of class labels "
                   "(default: a column named label, y, target or class)")
    p.add_argument("--no-labels", action="store_true", default=None, help="the table has no label column")
    p.add_argument("--k", type=axis or _positive_int, help="number of clusters (default 10)" + span)
    p.add_argument("--algorithm", help="kmeans | minibatch | soft | kmedians | spherical" + many)
    p.add_argument("--metric", help="euclidean | manhattan | cosine: picks the algorithm "
                                    "(kmeans | kmedians | spherical)" + many)
    p.add_argument("--init", help="k-means++ | random | random-uniform" + many)
    p.add_argument("--n-init", type=_n_init, help="seeded runs, best kept (default auto)")
    p.add_argument("--max-iter", type=_positive_int, help="iterations per run (default 300)")
    p.add_argument("--tol", type=_float, help="convergence tolerance (default 1e-4)")
    if grid:
        p.add_argument("--seeds", "--seed", dest="seed", help="random seeds (default 0)" + span)
    else:
        p.add_argument("--seed", type=int, help="random seed: fully determines the run (default 0)")
    p.add_argument("--preprocess", choices=None if grid else ["scale", "zscore", "none"],
                   help="scale | zscore | none (default scale)" + many)
    p.add_argument("--embed", metavar="pca:N|umap:N",
                   help="embed after preprocessing, before clustering (umap needs kmeanslab[umap])" + many)
    p.add_argument("--subsample", type=_positive_int, metavar="N", help="keep N training rows per class")
    p.add_argument("--beta", type=axis or _float, help="SoftKMeans stiffness (default 1.0)" + many)
    p.add_argument("--batch-size", type=_positive_int, help="mini-batch size")
    p.add_argument("--data-home", help="folder holding mnist/ (else $KMEANSLAB_DATA, then the user cache)")
    p.add_argument("--no-download", dest="download", action="store_const", const=False,
                   help="never download data")
    p.add_argument("--out", help="output folder (default runs/latest" + (", runs/sweep for sweeps)" if grid else ")"))
    p.add_argument("--quiet", action="store_true", default=None, help="print only the table (and warnings)")
    p.add_argument("--force", action="store_true", help="write into --out even if it holds a different "
                                                         "run or a sweep, replacing it")
    if not grid:
        p.add_argument("--fallback", choices=["digits"],
                       help="when MNIST is not found, run on scikit-learn's 8x8 digits instead, saying so "
                            "(make demo); without it a missing data set is an error")
        p.add_argument("--dask-workers", type=_positive_int, metavar="N",
                       help="fit on a local Dask cluster of N worker processes")
        p.add_argument("--scheduler", metavar="ADDRESS", help="fit on the Dask cluster at ADDRESS")


def add_sweep_flags(p, choose=False):
    add_run_flags(p, grid=True)
    p.add_argument("--jobs", type=_positive_int, help="cells run in parallel processes (default 1)")
    if not choose:
        p.add_argument("--choose-k", action="store_true", default=None,
                       help="also compute silhouette, Calinski-Harabasz, Davies-Bouldin and pick k")
    p.add_argument("--silhouette-sample", type=_positive_int, metavar="N",
                   help="rows sampled (seeded) for the silhouette (default 2000)")
    if choose:
        p.add_argument("--json", action="store_true", help="print the answers as JSON instead of a table")


def build_parser():
    parser = _Parser(prog="kmeanslab", description="k-means experiments on MNIST and friends.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    run = sub.add_parser("run", help="fit one model, evaluate it on train and test, write a run folder")
    add_run_flags(run)
    sweep = sub.add_parser("sweep", help="a grid of runs over k, algorithm, init, beta, preprocessing, "
                                         "seed: tables, curves, report; resumable")
    add_sweep_flags(sweep)
    choose = sub.add_parser("choose-k", help="sweep k and report which k the elbow, silhouette, "
                                             "Calinski-Harabasz and Davies-Bouldin pick")
    add_sweep_flags(choose, choose=True)
    return parser


def _read_config(path, allow_sweep):
    """(top-level settings, [sweep] table) of a config file; other tables are an error."""
    from .experiment import load_toml

    base, grid = {}, {}
    if path:
        for key, value in load_toml(path).items():
            if not isinstance(value, dict):
                base[key] = value
            elif key == "sweep":
                grid = dict(value) if allow_sweep else {}
            else:
                raise ValueError(f"{path}: unknown table [{key}]; the only table is [sweep]")
    return base, grid


def _given(args):
    return {k: v for k, v in vars(args).items() if k not in CLI_ONLY and v is not None}


def config_from_args(args, section=None):
    """A RunConfig from an optional TOML file (top-level keys) overlaid with the flags given."""
    from .experiment import RunConfig

    values, _ = _read_config(args.config, allow_sweep=False)
    if values.pop("quiet", False) and not args.quiet:
        args.quiet = True
    given = _given(args)
    if "metric" in given:  # the metric picks the algorithm: the flag replaces the file's
        values.pop("algorithm", None)
    elif "algorithm" in given:
        values.pop("metric", None)
    values.update(given)
    return RunConfig.from_dict(values, source=args.config or "flags")


def sweep_from_args(args, choose_k=False):
    """A SweepSpec: file base settings < file [sweep] table < flags (an axis flag replaces the axis)."""
    from .experiment.sweep import sweep_from_dict

    base, grid = _read_config(args.config, allow_sweep=True)
    if base.pop("quiet", False) and not args.quiet:
        args.quiet = True
    for key, value in _given(args).items():
        if key in GRID_FLAGS or key in SWEEP_OPTIONS:
            grid = {g: v for g, v in grid.items() if g.replace("-", "_") not in (key, key + "s")}
            grid[key] = value
            if key == "metric":  # the metric picks the algorithm: the flag replaces the file's
                grid.pop("algorithm", None)
                base.pop("algorithm", None)
            elif key == "algorithm":
                grid.pop("metric", None)
            base.pop(key, None)
        else:
            base[key] = value
    if choose_k:
        grid["choose_k"] = True
    base.setdefault("out", "runs/choose-k" if choose_k else "runs/sweep")
    return sweep_from_dict(base, grid, source=args.config or "flags")


def format_table(metrics, algorithm=None):
    """The metrics table: one row per metric, one column per split."""
    rows = metric_rows(algorithm) if algorithm else TABLE_ROWS
    splits = list(metrics)
    width = max(len(label) for _, label, _ in rows)
    lines = [f"{'':<{width}}  " + "  ".join(f"{s:>12}" for s in splits)]
    for key, label, fmt in rows:
        cells = []
        for s in splits:
            value = metrics[s].get(key)
            cells.append(f"{'-' if value is None else fmt.format(value):>12}")
        lines.append(f"{label:<{width}}  " + "  ".join(cells))
    return "\n".join(lines)


def _err(msg):
    print(msg, file=sys.stderr, flush=True)


def _say(args):
    """Stage lines and notes (not with --quiet); a FALLBACK banner and warnings always."""
    def say(msg):
        if msg.startswith("FALLBACK"):
            bar = "!" * 78
            _err(f"{bar}\n{msg}\n{bar}")
        elif msg.startswith("warning:") or not args.quiet:
            _err(msg)

    return say


def cmd_run(args):
    from .experiment import run
    from .experiment.progress import DownloadProgress

    config = config_from_args(args)
    say = _say(args)
    if args.config and _read_config(args.config, allow_sweep=True)[1]:
        say(f"note: {args.config} has a [sweep] table; `run` uses its top-level settings "
            "(`kmeanslab sweep` runs the grid)")
    download = None if args.quiet else DownloadProgress()
    try:
        result = run(config, log=say, progress=download, force=args.force)
    finally:
        if download is not None:
            download.close()
    print(format_table(result["metrics"], config.algorithm))
    if any(n.startswith("FALLBACK") for n in result["notes"]):
        _err(f"FALLBACK: these are the numbers of {result['dataset']['name']}, not of {config.dataset}")
    if all(m.get("purity") is None for m in result["metrics"].values()):
        say("note: no class labels, so purity, Gini, accuracy, NMI and ARI are '-' "
            "(--label-column NAME|INDEX names the label column of a table)")
    unrepresented = (result.get("clusters") or {}).get("unrepresented")
    if unrepresented:
        say(f"note: no cluster stands for class {', '.join(map(str, unrepresented))} "
            "(none is any cluster's majority)")
    say(f"\nwrote {config.out}/ ({', '.join(sorted(result.paths, key=_file_order))})")
    return 0


def _file_order(name):
    first = ("report.html", "metrics.json")
    return (first.index(name) if name in first else len(first), not name.endswith(".npy"), name)


def _run_grid(args, spec):
    from .experiment.progress import SweepProgress
    from .experiment.summary import write_summary
    from .experiment.sweep import SweepInterrupted, run_sweep

    out = spec.base.out
    say = _say(args)
    bar = None if args.quiet else SweepProgress()
    try:
        records = run_sweep(spec, out, on_progress=bar, force=args.force)
    except SweepInterrupted as exc:
        if bar:
            bar.close()
        _err(f"kmeanslab: interrupted: {exc.done} of {exc.total} cells done, saved in {out}/cells/; "
             "run the same command again to resume")
        return EXIT_INTERRUPTED
    finally:
        if bar:
            bar.close()
    try:
        summary = write_summary(spec, out, records)
    except KeyboardInterrupt:
        _err(f"kmeanslab: interrupted while writing the summary: all {len(records)} cells are saved in "
             f"{out}/cells/; run the same command again to write it")
        return EXIT_INTERRUPTED
    for note in summary["notes"]:
        say(note if note.startswith(("FALLBACK", "warning:")) else f"note: {note}")
    return summary


def cmd_sweep(args):
    spec = sweep_from_args(args)
    summary = _run_grid(args, spec)
    if not isinstance(summary, dict):
        return summary
    out = spec.base.out
    print((Path(out) / "sweep.md").read_text(), end="")
    if summary["choose_k"]:
        print()
        print(format_choose_k(summary["choose_k"]))
    _say(args)(f"\nwrote {out}/ ({_listing(out)})")
    return 0


def _listing(out):
    """What a sweep folder holds, in reading order (report first, cells/ last)."""
    names = [p.name + ("/" if p.is_dir() else "") for p in Path(out).iterdir()]
    first = ("report.html", "sweep.csv", "sweep.md", "sweep.json", "choose_k.json")
    return ", ".join(sorted(names, key=lambda n: (first.index(n) if n in first else len(first), n.endswith("/"), n)))


def format_choose_k(answers):
    """Per group: SSE and criteria per k, then the k each criterion picks."""
    blocks = []
    for group in answers:
        lines = [f"{group['group'] or 'all cells'}:" if len(answers) > 1 else "",
                 f"{'k':>4}  {'SSE':>12}  {'silhouette':>10}  {'Calinski-Harabasz':>17}  {'Davies-Bouldin':>14}"]
        for r in group["rows"]:
            def f(v, fmt):
                return "-" if v is None else fmt.format(v)

            lines.append(f"{r['k']:>4}  {f(r['sse'], '{:.6g}'):>12}  {f(r['silhouette'], '{:.4f}'):>10}  "
                         f"{f(r['calinski_harabasz'], '{:.6g}'):>17}  {f(r['davies_bouldin'], '{:.4f}'):>14}")
        picks = group["picks"]
        lines.append("picks: " + ", ".join(f"{name.replace('_', '-')} k={'-' if k is None else k}"
                                            for name, k in picks.items()))
        blocks.append("\n".join(line for line in lines if line))
    return "\n\n".join(blocks)


def cmd_choose_k(args):
    spec = sweep_from_args(args, choose_k=True)
    summary = _run_grid(args, spec)
    if not isinstance(summary, dict):
        return summary
    out = Path(spec.base.out)
    if args.json:
        print(json.dumps(summary["choose_k"], indent=2))
    else:
        print(format_choose_k(summary["choose_k"]))
    _say(args)(f"\nwrote {out}/ ({_listing(out)})")
    return 0


def _warnings_as_lines():
    """Python warnings (a ConvergenceWarning from a fit, say) as one ``warning:`` line on
    stderr, like the CLI's own, instead of a file path and a source line."""
    import contextlib
    import warnings

    def show(message, category, filename, lineno, file=None, line=None):
        _err(f"warning: {' '.join(str(message).split())} ({category.__name__})")

    stack = contextlib.ExitStack()
    stack.enter_context(warnings.catch_warnings())
    warnings.showwarning = show
    return stack


COMMANDS = {"run": cmd_run, "sweep": cmd_sweep, "choose-k": cmd_choose_k}


def main(argv=None):
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help(sys.stderr)
            return EXIT_USAGE
        with interrupt_guard(), _warnings_as_lines():
            return COMMANDS[args.command](args)
    except (KeyboardInterrupt, SystemError) as exc:
        if not interrupted(exc):
            raise
        print("kmeanslab: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except UsageError as exc:
        print(f"{exc} (see --help)", file=sys.stderr)
        return EXIT_USAGE
    except (ValueError, TypeError, OSError, ImportError) as exc:
        if os.environ.get("KMEANSLAB_DEBUG"):
            raise
        message = " ".join(str(exc).split())  # one line, whatever the exception held
        print(f"kmeanslab: error: {message}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
