"""The ``kmeanslab`` command: parses flags, shows progress, prints tables.

Every user error ends as one line on stderr and exit code 2, never a traceback.
"""

import argparse
import os
import sys
import time

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

TABLE_ROWS = [
    ("sse", "SSE", "{:.6g}"),
    ("mean_sse", "mean SSE (J_clust)", "{:.4f}"),
    ("purity", "purity", "{:.4f}"),
    ("gini", "Gini impurity", "{:.4f}"),
    ("accuracy_majority", "accuracy (majority)", "{:.4f}"),
    ("accuracy_hungarian", "accuracy (Hungarian)", "{:.4f}"),
    ("nmi", "NMI", "{:.4f}"),
    ("ari", "ARI", "{:.4f}"),
]


class UsageError(Exception):
    """Bad flags: reported in one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(f"{self.prog}: {message}")


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


def add_run_flags(p):
    """Flags shared by ``run`` (and later ``sweep``); defaults are None so a config file can fill them."""
    p.add_argument("--config", metavar="FILE.toml", help="read settings from a TOML file; flags override it")
    p.add_argument("--dataset", help="mnist | digits | iris | PATH (IDX folder, .npy, .npz, .csv)")
    p.add_argument("--k", type=_positive_int, help="number of clusters (default 10)")
    p.add_argument("--algorithm", help="kmeans | minibatch | soft | kmedians | spherical")
    p.add_argument("--init", help="k-means++ | random | random-uniform")
    p.add_argument("--n-init", type=_n_init, help="seeded runs, best kept (default auto)")
    p.add_argument("--max-iter", type=_positive_int, help="iterations per run (default 300)")
    p.add_argument("--tol", type=_float, help="convergence tolerance (default 1e-4)")
    p.add_argument("--seed", type=int, help="random seed: fully determines the run (default 0)")
    p.add_argument("--preprocess", choices=["scale", "zscore", "none"], help="default scale")
    p.add_argument("--subsample", type=_positive_int, metavar="N", help="keep N training rows per class")
    p.add_argument("--beta", type=_float, help="SoftKMeans stiffness (default 1.0)")
    p.add_argument("--batch-size", type=_positive_int, help="mini-batch size")
    p.add_argument("--data-home", help="folder holding mnist/ (else $KMEANSLAB_DATA, then the user cache)")
    p.add_argument("--no-download", dest="download", action="store_const", const=False,
                   help="never download data")
    p.add_argument("--out", help="output folder (default runs/latest)")


def build_parser():
    parser = _Parser(prog="kmeanslab", description="k-means experiments on MNIST and friends.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    run = sub.add_parser("run", help="fit one model, evaluate it on train and test, write a run folder")
    add_run_flags(run)
    run.add_argument("--quiet", action="store_true", help="print only the table")
    return parser


def config_from_args(args, section=None):
    """A RunConfig from an optional TOML file overlaid with the flags given."""
    from .experiment import RunConfig, load_toml

    values = {}
    if args.config:
        data = load_toml(args.config)
        if section is not None:
            data = data.get(section, data)
        values.update({k: v for k, v in data.items() if not isinstance(v, dict)})
    skip = {"config", "command", "quiet"}
    for key, value in vars(args).items():
        if key not in skip and value is not None:
            values[key] = value
    return RunConfig.from_dict(values, source=args.config or "flags")


def format_table(metrics):
    """The metrics table: one row per metric, one column per split."""
    splits = list(metrics)
    width = max(len(label) for _, label, _ in TABLE_ROWS)
    lines = [f"{'':<{width}}  " + "  ".join(f"{s:>12}" for s in splits)]
    for key, label, fmt in TABLE_ROWS:
        cells = []
        for s in splits:
            value = metrics[s].get(key)
            cells.append(f"{'-' if value is None else fmt.format(value):>12}")
        lines.append(f"{label:<{width}}  " + "  ".join(cells))
    return "\n".join(lines)


def _download_progress():
    state = {"last": 0.0}

    def show(filename, done, total):
        now = time.monotonic()
        if total and done < total and now - state["last"] < 0.2:
            return
        state["last"] = now
        pct = f"{100 * done / total:5.1f}%" if total else f"{done / 2**20:.1f} MiB"
        end = "\n" if total and done >= total else "\r"
        print(f"  downloading {filename}: {pct}", end=end, file=sys.stderr, flush=True)

    return show


def cmd_run(args):
    from .experiment import run

    config = config_from_args(args)
    log = (lambda msg: None) if args.quiet else (lambda msg: print(msg, file=sys.stderr, flush=True))
    result = run(config, log=log, progress=None if args.quiet else _download_progress())
    print(format_table(result["metrics"]))
    if not args.quiet:
        print(f"\nwrote {config.out}/ (metrics.json, centroids.npy, labels.npy, centroids.png, "
              "loss.png, contingency.png)", file=sys.stderr)
    return 0


COMMANDS = {"run": cmd_run}


def main(argv=None):
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help(sys.stderr)
            return EXIT_USAGE
        return COMMANDS[args.command](args)
    except KeyboardInterrupt:
        print("kmeanslab: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except UsageError as exc:
        print(f"{exc} (see --help)", file=sys.stderr)
        return EXIT_USAGE
    except (ValueError, TypeError, OSError) as exc:
        if os.environ.get("KMEANSLAB_DEBUG"):
            raise
        message = " ".join(str(exc).split())  # one line, whatever the exception held
        print(f"kmeanslab: error: {message}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
