"""One experiment: a config in, a run folder out (metrics.json, arrays, figures).

The CLI is a thin shell over :func:`run`; everything a run computes is available to
Python callers as the returned dict, and every number in it comes from
:mod:`kmeanslab.metrics`.
"""

import dataclasses
import logging
import time
from pathlib import Path

import numpy as np

from .._io import checkpoint, interrupt_guard
from .outputs import plain, write_run

logger = logging.getLogger(__name__)

SPLITS = ("train", "test")


def load_raw(config, progress=None):
    """The whole data set of ``config`` (no subsample). Returns (Dataset, notes): notes are
    one-line messages (what was guessed, where MNIST was found).

    A split suffix keeps that part only (see :func:`kmeanslab.data.load_dataset`): e.g.
    ``mnist:test`` clusters the 10,000 test images with no held-out part. A missing
    MNIST is an error, unless ``config.fallback == "digits"`` (``make demo``): then the
    run is on scikit-learn's 8x8 digits, and the first note, starting ``FALLBACK``, says so.
    """
    from .. import data

    notes = []
    options = config.data_options()
    try:
        ds = data.load_dataset(config.dataset, progress=progress, **options)
    except data.DataNotFoundError as exc:
        source, split = data.parse_spec(config.dataset)
        if source != "mnist" or config.fallback != "digits":
            raise
        notes.append(f"FALLBACK: MNIST is not here, so this demo runs on scikit-learn's 8x8 digits "
                     f"(1,797 images), not on MNIST. {exc}")
        options.update(data_home=None, download=False)
        ds = data.load_dataset("digits" + (f":{split}" if split else ""), **options)
    notes += list(ds.notes)
    if ds.lazy and config.embed:
        raise ValueError(f"dataset {config.dataset!r} is read lazily (out of core); --embed needs "
                         "the rows in memory: use --subsample N, or no --embed")
    return ds, notes


def _lazy(X):
    from .._blocks import is_dask_array

    return is_dask_array(X)


def subsample(ds, config):
    """Keep ``config.subsample`` training rows per class (seeded by ``config.seed``)."""
    if config.subsample is None:
        return ds
    if ds.y_train is None:
        raise ValueError("subsample needs labels, but this dataset has none")
    from ..preprocessing import balanced_subsample

    idx = balanced_subsample(ds.X_train, ds.y_train, config.subsample, random_state=config.seed)
    # From a lazy source the sample is read into memory: that is what it is for.
    return dataclasses.replace(ds, X_train=np.asarray(ds.X_train[idx]), y_train=ds.y_train[idx])


def load_data(config, progress=None):
    """:func:`load_raw` then :func:`subsample`: the data one run clusters. Returns (Dataset, notes)."""
    ds, notes = load_raw(config, progress=progress)
    return subsample(ds, config), notes


def prepare(config, ds):
    """Fit the feature pipeline (preprocess -> embed) on train; returns (front, X_train, X_test)."""
    from ..embed import make_front
    from ..preprocessing import make_preprocessor

    front = make_front(make_preprocessor(config.preprocess), config.embed, random_state=config.seed)
    X_train = front.fit_transform(ds.X_train)
    X_test = front.transform(ds.X_test) if ds.X_test is not None else None
    return front, X_train, X_test


def make_estimator(config):
    from ..cluster.registry import make_estimator as _make

    return _make(config.algorithm, n_clusters=config.k, init=config.init, n_init=config.n_init,
                 max_iter=config.max_iter, tol=config.tol, random_state=config.seed,
                 beta=config.beta, batch_size=config.batch_size)


def evaluate_splits(model, splits):
    """Metrics per split; cluster->class mappings learned on the first split only."""
    from .. import metrics

    K = model.cluster_centers_.shape[0]
    results, labels, mappings = {}, {}, None
    for name, (X, y) in splits.items():
        lab = model.labels_ if name == "train" else model.predict(X)
        if mappings is None and y is not None:
            mappings = metrics.fit_mappings(lab, y, n_clusters=K)
        m = metrics.evaluate(X, y, lab, model.cluster_centers_, mappings=mappings, n_clusters=K)
        m["objective"] = float(model.inertia_) if name == "train" else float(-model.score(X))
        results[name] = m
        labels[name] = lab
    return results, labels, mappings


def fit_evaluate(config, ds, X_train, X_test, mappings=False):
    """Fit the estimator of ``config`` on prepared data and evaluate it on train and test.

    Returns (model, metrics per split, labels per split, fit seconds[, the cluster -> class
    mappings learned on train, when ``mappings``]).
    """
    model = make_estimator(config)
    if config.dask_workers or config.scheduler:
        model.set_params(backend="dask")  # in-memory rows too: the fit runs on the cluster
    t0 = time.perf_counter()
    model.fit(X_train)
    seconds = time.perf_counter() - t0
    splits = {"train": (X_train, ds.y_train)}
    if X_test is not None:
        splits["test"] = (X_test, ds.y_test)
    results, labels, maps = evaluate_splits(model, splits)
    return (model, results, labels, seconds) + ((maps,) if mappings else ())


EVAL_ROWS = 60_000  # rows of a lazily loaded dataset kept in memory for metrics and figures


def _fit_evaluate_lazy(config, ds, X):
    """Fit on the whole lazy X; evaluate and draw on a seeded in-memory sample of its rows."""
    import copy

    model = make_estimator(config)
    t0 = time.perf_counter()
    model.fit(X)
    seconds = time.perf_counter() - t0
    n = X.shape[0]
    idx = np.sort(np.random.RandomState(config.seed).choice(n, min(n, EVAL_ROWS), replace=False))
    view = copy.copy(model)  # the fitted model, with the sample's labels
    view.labels_ = np.asarray(model.labels_[idx]) if hasattr(model, "labels_") else model.predict(X[idx])
    X_s = np.asarray(X[idx])
    y_s = ds.y_train[idx] if ds.y_train is not None else None
    ds = dataclasses.replace(ds, X_train=X_s, y_train=y_s)
    results, labels, maps = evaluate_splits(view, {"train": (X_s, y_s)})
    return view, results, labels, seconds, ds, X_s, maps


def _dask_client(config):
    """A Dask client for the run's fit: a new LocalCluster or the cluster at ``scheduler``."""
    import contextlib

    if not (config.dask_workers or config.scheduler):
        return contextlib.nullcontext()
    from distributed import Client, LocalCluster

    if config.scheduler:
        return Client(config.scheduler)
    one = {v: "1" for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
    cluster = LocalCluster(n_workers=config.dask_workers, threads_per_worker=1, processes=True,
                           dashboard_address=None, env=one)
    stack = contextlib.ExitStack()
    stack.enter_context(cluster)
    stack.enter_context(Client(cluster))
    return stack


def run(config=None, *, log=None, progress=None, force=False, **settings):
    """Run one experiment and write its folder; returns a :class:`RunResult` (the fitted
    pipeline, the mappings, the metrics and the files written; it reads as the dict of
    metrics.json, and renders as a table and the centroids in Jupyter).

    Parameters
    ----------
    config : RunConfig, optional
        Or give its fields as keywords: ``run(dataset="mnist", k=10)``.
    log : callable(str), optional
        Receives one line per stage (the CLI prints them); the library never prints.
    progress : callable(filename, done, total), optional
        Download progress, passed to the loader.
    force : bool
        Write into ``config.out`` even when it holds a different run or a sweep (whose
        files are then removed); without it that is an error, and nothing is touched.
    """
    from .config import RunConfig

    if config is None:
        config = RunConfig.from_dict(settings, source="run()")
    elif settings:
        raise TypeError("give a RunConfig or keyword settings, not both")
    with interrupt_guard():  # a Ctrl-C swallowed by a library still stops the run
        return _run(config, log, progress, force)


def _run(config, log, progress, force):
    from .. import metrics
    from ..embed import check_available, make_pipeline
    from .config import RunConfig
    from .outputs import claim_folder
    from .result import RunResult

    config = config.validated()
    check_available(config.embed)  # before the data are loaded, not after
    say = log or (lambda msg: logger.info(msg))
    out = Path(config.out)
    latest = config.out == RunConfig.out  # the default folder holds the latest run, whichever
    stale = claim_folder(out, "run", config.to_dict(), force, replace_run=latest)
    if latest and (out / "metrics.json").is_file():
        say(f"note: replacing the previous run in {out}/ (--out DIR keeps runs side by side)")
    timings = {}

    t0 = time.perf_counter()
    ds, notes = load_data(config, progress=progress)
    for note in notes:
        say(note if note.startswith(("FALLBACK", "warning:")) else f"note: {note}")
    timings["load"] = time.perf_counter() - t0
    say(f"loaded {ds.name}: train {ds.X_train.shape}" +
        (f", test {ds.X_test.shape}" if ds.X_test is not None else "") + f" in {timings['load']:.1f} s")

    t0 = time.perf_counter()
    front, X_train, X_test = prepare(config, ds)
    timings["prepare"] = time.perf_counter() - t0
    if config.embed:
        say(f"embedded with {config.embed}: {X_train.shape[1]} features, in {timings['prepare']:.1f} s")

    checkpoint("fit")
    say(f"fitting {config.algorithm}(n_clusters={config.k}, init={config.init!r}, "
        f"n_init={config.n_init}) on {X_train.shape[0]} rows")
    with _dask_client(config):
        if _lazy(X_train):
            n_all = X_train.shape[0]
            model, results, labels, timings["fit"], ds, X_train, mappings = \
                _fit_evaluate_lazy(config, ds, X_train)
            notes.append(f"fitted on all {n_all} rows out of core; metrics and figures on a seeded "
                         f"sample of {X_train.shape[0]} rows (objective: all rows)")
            say(f"note: {notes[-1]}")
        else:
            model, results, labels, timings["fit"], mappings = fit_evaluate(config, ds, X_train, X_test,
                                                                            mappings=True)
    say(f"fitted in {timings['fit']:.1f} s ({model.n_iter_} iterations in the best run)")
    pipeline = make_pipeline(front, model)

    summary = metrics.cluster_summary(ds.y_train, labels["train"], n_clusters=config.k) \
        if ds.y_train is not None else None
    result = {
        "config": config.to_dict(),
        "dataset": {"name": ds.name, "fingerprint": ds.fingerprint, "n_train": int(X_train.shape[0]),
                    "n_test": int(X_test.shape[0]) if X_test is not None else 0,
                    "n_features": int(ds.X_train.shape[1]),
                    "n_features_clustered": int(X_train.shape[1]),
                    "image_shape": list(ds.image_shape) if ds.image_shape else None},
        "notes": notes,
        "pipeline": [name for name, _ in pipeline.steps],
        "estimator": {"class": type(model).__name__, "params": plain(model.get_params()),
                      "n_iter": int(model.n_iter_), "inertia": float(model.inertia_)},
        "metrics": results,
        "history": [float(v) for v in model.history_],
        "clusters": plain(summary),
        "timings": timings,
    }

    say(f"writing {out}/")
    written = write_run(out, result, pipeline, labels, ds, X_train, summary, mappings, stale)
    return RunResult(result, pipeline, mappings, labels, out, written)


