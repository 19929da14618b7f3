"""Sweeps: a grid of runs (k, algorithm or metric, init, beta, preprocessing, embedding,
seed), run cell by cell, resumable, optionally in parallel processes.

Each cell is one :func:`kmeanslab.experiment` run without its folder: the same data
loading, preprocessing, fit and evaluation, with every metric on train and test. A
finished cell is written atomically to ``<out>/cells/<cell id>.json``; a re-run of the
same sweep reads those back and computes only the rest, so an interrupted sweep loses
at most the cells that were running. Tables and figures are built from the cell files in
grid order, so they do not depend on what ran when, or in which process.

The data are loaded once per process and preprocessed (and embedded) once per
preprocessing, not once per cell. The library never prints: progress goes to the
``on_progress`` callback.
"""

import dataclasses
import hashlib
import json
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._io import atomic_write_json, checkpoint, interrupt_guard, interrupted
from .config import METRIC_ALGORITHMS, RunConfig

__all__ = ["AXES", "METRIC_ALGORITHMS", "SweepSpec", "SweepInterrupted", "parse_values", "sweep_from_dict",
           "cells", "run_sweep", "cell_id", "sanitize"]

# Grid axes in table order; the data-side ones (preprocess, embed) first, so that cells
# sharing prepared data are neighbours when run in grid order.
AXES = ("preprocess", "embed", "algorithm", "metric", "init", "beta", "k", "seed")
OPTIONS = ("jobs", "choose_k", "silhouette_sample")
_INT_AXES = ("k", "seed")
_FLOAT_AXES = ("beta",)


class SweepInterrupted(KeyboardInterrupt):
    """Ctrl-C during a sweep: ``done`` of ``total`` cells are finished and saved."""

    def __init__(self, done, total):
        super().__init__(f"{done} of {total} cells done")
        self.done, self.total = done, total


@dataclass
class SweepSpec:
    """A base run config, the axes of the grid, and sweep options."""

    base: RunConfig
    axes: dict
    jobs: int = 1
    choose_k: bool = False
    silhouette_sample: int = 2000
    notes: list = field(default_factory=list)


def parse_values(text, axis):
    """Values of one axis from a flag or a TOML value.

    ``"2:25"`` is the inclusive range 2..25 (``"2:25:2"`` with a step), ``"5,10,20"`` a
    list; TOML lists and scalars are taken as they are. k and seed are integers, beta a
    positive number, the rest names.
    """
    if isinstance(text, (list, tuple)):
        items = list(text)
    elif isinstance(text, str):
        parts = [p.strip() for p in text.split(",")]
        items = []
        for part in parts:
            if re.fullmatch(r"-?\d+:-?\d+(:\d+)?", part) and axis in _INT_AXES:
                a, b, *step = (int(v) for v in part.split(":"))
                step = step[0] if step else 1
                if step < 1 or b < a:
                    raise ValueError(f"{axis}: range {part!r} must go up, with a step >= 1")
                items.extend(range(a, b + 1, step))
            elif part:
                items.append(part)
    else:
        items = [text]
    if not items:
        raise ValueError(f"{axis}: no values in {text!r}")
    values = []
    for item in items:
        try:
            if axis in _INT_AXES:
                if isinstance(item, float) or isinstance(item, bool):
                    raise ValueError
                item = int(item)
            elif axis in _FLOAT_AXES:
                if isinstance(item, bool):
                    raise ValueError
                item = float(item)
            elif not isinstance(item, str):
                raise ValueError
        except ValueError:
            kind = "an integer" if axis in _INT_AXES else "a number" if axis in _FLOAT_AXES else "a name"
            raise ValueError(f"{axis}: expected {kind} (list 'a,b,c' or range 'a:b'), got {item!r}") from None
        if item not in values:
            values.append(item)
    if axis == "metric":
        bad = [v for v in values if v not in METRIC_ALGORITHMS]
        if bad:
            raise ValueError(f"metric: {bad[0]!r} is not one of {', '.join(METRIC_ALGORITHMS)}")
    return values


def sweep_from_dict(base, grid, source="config"):
    """A :class:`SweepSpec` from base settings (RunConfig keys) and a ``[sweep]`` mapping.

    ``grid`` keys are the axes (``seeds`` is ``seed``) and the options ``jobs``,
    ``choose_k``, ``silhouette_sample``; an unknown key is an error naming it.
    """
    base = dict(base)
    axes, options = {}, {}
    for key, value in grid.items():
        name = key.replace("-", "_")
        name = "seed" if name == "seeds" else name
        if name in AXES:
            axes[name] = parse_values(value, name)
        elif name in OPTIONS:
            options[name] = value
        else:
            raise ValueError(f"{source}: unknown key {key!r} in [sweep]; known keys: "
                             f"{', '.join(sorted(AXES + OPTIONS + ('seeds',)))}")
    if "metric" in axes and ("algorithm" in axes or "algorithm" in base):
        pairs = ", ".join(f"{m} -> {a}" for m, a in METRIC_ALGORITHMS.items())
        raise ValueError(f"{source}: metric picks the algorithm ({pairs}); give metric or algorithm, not both")
    config = RunConfig.from_dict(base, source=source)
    for name in AXES:
        if name not in axes and name != "metric":
            axes[name] = [getattr(config, name)]
    spec = SweepSpec(base=config, axes={a: axes[a] for a in AXES if a in axes})
    jobs = options.get("jobs", 1)
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be an integer >= 1, got {jobs!r}")
    sample = options.get("silhouette_sample", 2000)
    if isinstance(sample, bool) or not isinstance(sample, int) or sample < 2:
        raise ValueError(f"silhouette_sample must be an integer >= 2, got {sample!r}")
    if not isinstance(options.get("choose_k", False), bool):
        raise ValueError(f"choose_k must be true or false, got {options['choose_k']!r}")
    spec.jobs, spec.choose_k, spec.silhouette_sample = jobs, options.get("choose_k", False), sample
    for cell in cells(spec):  # every cell's settings are checked before anything runs
        cell[1].validated()
    from ..embed import check_available

    for embed in spec.axes["embed"]:
        check_available(embed)
    return spec


def sanitize(text, limit=40):
    """A file-name-safe rendering of ``text``: letters, digits and ``.+=-`` only, no
    leading dot, at most ``limit`` characters."""
    text = re.sub(r"[^A-Za-z0-9.+=-]+", "_", str(text)).strip("._") or "x"
    return text[:limit]


def cell_id(params, varying, config, fingerprint=""):
    """Readable id of a cell from the values of the varying axes, plus a hash of its
    whole config and of the data it is computed on (``fingerprint``, see
    :attr:`kmeanslab.data.Dataset.fingerprint`), so that changing a base setting or the
    input data never reuses an old cell."""
    settings = config.to_dict()
    for key in ("out", "data_home", "download"):  # where, not what: the fingerprint covers the data
        settings.pop(key)
    settings["data"] = fingerprint
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:10]
    name = "_".join(f"{a}={params[a]}" for a in varying)
    return f"{sanitize(name, 80)}-{digest}" if name else digest


def cells(spec, fingerprint=""):
    """``[(cell id, RunConfig, params)]`` in grid order (last axis fastest); ``params``
    holds each axis's value, the algorithm a metric picks included."""
    import itertools

    names = list(spec.axes)
    varying = [a for a in names if len(spec.axes[a]) > 1]
    result = []
    for combo in itertools.product(*(spec.axes[a] for a in names)):
        params = dict(zip(names, combo))
        if "metric" in params:
            params["algorithm"] = METRIC_ALGORITHMS[params["metric"]]
        config = dataclasses.replace(spec.base, **params)
        result.append((cell_id(params, varying, config, fingerprint), config, params))
    return result


# -- one cell -----------------------------------------------------------------------------

_CACHE = {"raw": {}, "prepared": {}}


def data_key(config):
    """What the prepared data of a cell depend on: cells with equal keys share them."""
    from ..data import source_stamp

    # The files' sizes and times too: a data file changed in place is loaded again.
    raw_key = (config.dataset, source_stamp(config.dataset), str(config.data_home), config.download,
               config.fallback, config.test_size, str(config.columns), str(config.label_column), config.no_labels)
    # The subsample and the embedding are drawn with the run's seed.
    seeded = config.subsample is not None or config.embed not in (None, "none")
    return raw_key, (config.subsample, config.preprocess, str(config.embed), config.seed if seeded else -1)


def _raw(config):
    """(Dataset, notes) of ``config`` as loaded, cached in this process (one at a time)."""
    from .runner import load_raw

    raw_key, _ = data_key(config)
    if raw_key not in _CACHE["raw"]:
        _CACHE["raw"] = {raw_key: load_raw(config)}
        _CACHE["prepared"] = {}
    return _CACHE["raw"][raw_key]


def data_fingerprint(config):
    """The fingerprint of the data set ``config`` loads (loaded once per process)."""
    return _raw(config)[0].fingerprint


def _prepared(config):
    """(Dataset, X_train, X_test, front, notes) for ``config``, cached in this process."""
    from .runner import prepare, subsample

    key = data_key(config)
    ds, notes = _raw(config)
    prepared = _CACHE["prepared"]
    if key not in prepared:
        if len(prepared) >= 2:
            prepared.pop(next(iter(prepared)))
        part = subsample(ds, config)
        front, X_train, X_test = prepare(config, part)
        prepared[key] = (part, X_train, X_test, front)
    return prepared[key] + (notes,)


def run_cell(config, params, choose_k=False, silhouette_sample=2000, centroids=False):
    """Fit and evaluate one cell; returns its JSON-ready result (with the train
    contingency matrix, and with ``centroids`` the centres as the images they stand for)."""
    from .. import metrics
    from .outputs import display_centers, plain
    from .runner import fit_evaluate

    config = config.validated()
    ds, X_train, X_test, front, notes = _prepared(config)
    model, results, labels, seconds = fit_evaluate(config, ds, X_train, X_test)
    out = {"params": params, "config": config.to_dict(), "metrics": results,
           "n_iter": int(model.n_iter_), "n_train": int(X_train.shape[0]),
           "n_test": int(X_test.shape[0]) if X_test is not None else 0,
           "dataset": ds.name, "fingerprint": ds.fingerprint, "notes": notes, "seconds": seconds}
    if ds.y_train is not None:
        summary = metrics.cluster_summary(ds.y_train, labels["train"], n_clusters=config.k)
        cm = metrics.contingency_matrix(ds.y_train, labels["train"], n_clusters=config.k)
        out["contingency"] = {"classes": cm.classes, "matrix": cm.matrix, "majority": summary["majority"]}
    if centroids and ds.image_shape is not None:
        centers, _ = display_centers(front, model, ds.X_train, labels["train"], config.embed)
        out["centroids"] = np.asarray(centers, dtype=np.float32).round(4)
        out["image_shape"] = list(ds.image_shape)
    if choose_k:
        from .choosek import criteria

        out["criteria"] = criteria(X_train, labels["train"], config.k, config.seed, silhouette_sample)
    return plain(out)


def _worker_init(threads):
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and ends us
    from threadpoolctl import threadpool_limits

    import kmeanslab._core  # noqa: F401  (loads the kernels' OpenMP runtime, so the limit reaches it)

    threadpool_limits(threads)


def _worker(cid, config, params, choose_k, silhouette_sample, centroids):
    return cid, run_cell(config, params, choose_k, silhouette_sample, centroids)


# -- the grid -----------------------------------------------------------------------------

def load_cell(path):
    """A finished cell's result, or None when the file is missing or unreadable."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


def run_sweep(spec, out, *, jobs=None, on_progress=None, force=False):
    """Run every unfinished cell of ``spec``, writing ``out/cells/<id>.json``.

    Returns ``[(cell id, params, result)]`` in grid order. ``on_progress(event)`` gets a
    dict with ``done``, ``total``, ``skipped`` (found finished), ``computed`` (this call),
    ``elapsed`` (s) and ``cell`` (id of the cell just finished, or None at the start).
    On Ctrl-C raises :class:`SweepInterrupted` after the running cells are stopped; a
    cell is saved only if no Ctrl-C came while it ran (see :func:`_io.interrupt_guard`).
    A folder holding a run is refused unless ``force`` (its files are then removed).
    """
    from .outputs import claim_folder, remove_stale
    from .sweep_figures import categorical

    out = Path(out)
    stale = claim_folder(out, "sweep", spec.base.to_dict(), force)
    jobs = spec.jobs if jobs is None else jobs
    grid = cells(spec, data_fingerprint(spec.base))
    centroids = bool(categorical(spec.axes))  # drawn side by side: the cells keep them
    cell_dir = out / "cells"
    cell_dir.mkdir(parents=True, exist_ok=True)
    remove_stale(stale, ())
    results = {cid: load_cell(cell_dir / f"{cid}.json") for cid, _, _ in grid}
    todo = [(cid, cfg, params) for cid, cfg, params in grid if results[cid] is None]
    # Cells sharing prepared data run one after another (stable: grid order within).
    todo.sort(key=lambda cell: repr(data_key(cell[1])))
    total, skipped = len(grid), len(grid) - len(todo)
    start = time.perf_counter()
    computed = 0

    def report(cid):
        if on_progress is not None:
            on_progress({"done": skipped + computed, "total": total, "skipped": skipped,
                         "computed": computed, "elapsed": time.perf_counter() - start, "cell": cid})

    def finish(cid, result):
        nonlocal computed
        checkpoint()  # a cell during which Ctrl-C was pressed is not saved
        atomic_write_json(cell_dir / f"{cid}.json", result)
        results[cid] = result
        computed += 1
        report(cid)
        checkpoint("cell-saved")

    report(None)
    try:
        with interrupt_guard():
            if jobs <= 1 or len(todo) <= 1:
                for cid, cfg, params in todo:
                    checkpoint("cell-start")
                    finish(cid, run_cell(cfg, params, spec.choose_k, spec.silhouette_sample, centroids))
            else:
                _run_parallel(todo, jobs, spec, finish, centroids)
    except (KeyboardInterrupt, SystemError) as exc:
        if not interrupted(exc):
            raise
        raise SweepInterrupted(skipped + computed, total) from None
    return [(cid, params, results[cid]) for cid, _, params in grid]


def _run_parallel(todo, jobs, spec, finish, centroids):
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    threads = max(1, (os.cpu_count() or 1) // jobs)
    # spawn, not fork: OpenMP's and BLAS's thread pools do not survive a fork safely.
    pool = ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_worker_init, initargs=(threads,))
    try:
        pending = {pool.submit(_worker, cid, cfg, params, spec.choose_k, spec.silhouette_sample, centroids)
                   for cid, cfg, params in todo}
        while pending:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for fut in sorted(finished, key=lambda f: f.result()[0] if not f.exception() else ""):
                cid, result = fut.result()
                finish(cid, result)
    except BaseException:
        # Stop now: cancel what has not started, end what is running (its cell is lost).
        for proc in list(getattr(pool, "_processes", {}).values()):
            proc.terminate()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
