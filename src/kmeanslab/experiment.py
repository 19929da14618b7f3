"""One experiment: a config in, a run folder out (metrics.json, arrays, figures).

The CLI is a thin shell over :func:`run`; everything a run computes is available to
Python callers as the returned dict, and every number in it comes from
:mod:`kmeanslab.metrics`.
"""

import dataclasses
import json
import logging
import os
import time
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from ._io import atomic_open

logger = logging.getLogger(__name__)

SPLITS = ("train", "test")


@dataclass
class RunConfig:
    """Everything that determines a run. Field names are the CLI flags (dashes -> underscores)."""

    dataset: str = "mnist"
    k: int = 10
    algorithm: str = "kmeans"
    init: str = "k-means++"
    n_init: object = "auto"
    max_iter: int = 300
    tol: float = 1e-4
    seed: int = 0
    preprocess: str = "scale"
    subsample: object = None  # rows per class kept from the training split
    beta: float = 1.0  # SoftKMeans stiffness
    batch_size: object = None  # MiniBatchKMeans / SoftKMeans mini-batches
    embed: object = None  # "pca:N" | "umap:N": fitted on train after preprocessing
    out: str = "runs/latest"
    data_home: object = None
    download: bool = True
    dask_workers: object = None  # fit on a LocalCluster of this many worker processes
    scheduler: object = None  # or on the Dask cluster at this address

    @classmethod
    def from_dict(cls, values, source="config"):
        """Build from a mapping (TOML table or parsed flags); unknown keys are an error."""
        known = {f.name: f for f in fields(cls)}
        kwargs = {}
        for key, value in values.items():
            name = key.replace("-", "_")
            if name == "no_download":  # the flag's own spelling, as a file key
                name, value = "download", not value
            if name not in known:
                raise ValueError(f"{source}: unknown key {key!r}; known keys: {', '.join(sorted(known))}")
            kwargs[name] = value
        return cls(**kwargs).validated()

    def validated(self):
        """Check types and ranges, naming the offending key."""
        def need(cond, key, what):
            if not cond:
                raise ValueError(f"{key} must be {what}, got {getattr(self, key)!r}")

        def is_int(v):
            return isinstance(v, (int, np.integer)) and not isinstance(v, bool)

        def is_num(v):
            return isinstance(v, (int, float, np.number)) and not isinstance(v, bool)

        need(isinstance(self.dataset, str) and self.dataset, "dataset", "a dataset name or path")
        need(is_int(self.k) and self.k >= 1, "k", "an integer >= 1")
        from .cluster.init import INIT_NAMES
        from .cluster.registry import ESTIMATORS

        need(self.algorithm in ESTIMATORS, "algorithm", f"one of {', '.join(ESTIMATORS)}")
        need(self.init in INIT_NAMES, "init", f"one of {', '.join(INIT_NAMES)}")
        need(self.n_init == "auto" or (is_int(self.n_init) and self.n_init >= 1), "n_init",
             "'auto' or an integer >= 1")
        need(is_int(self.max_iter) and self.max_iter >= 1, "max_iter", "an integer >= 1")
        need(is_num(self.tol) and self.tol >= 0, "tol", "a number >= 0")
        need(is_int(self.seed) and self.seed >= 0, "seed", "an integer >= 0")
        need(self.preprocess in ("scale", "zscore", "none"), "preprocess", "one of scale, zscore, none")
        need(self.subsample is None or (is_int(self.subsample) and self.subsample >= 1), "subsample",
             "an integer >= 1 (rows per class)")
        need(is_num(self.beta) and self.beta > 0, "beta", "a number > 0")
        need(self.batch_size is None or (is_int(self.batch_size) and self.batch_size >= 1),
             "batch_size", "an integer >= 1")
        need(isinstance(self.out, (str, os.PathLike)) and str(self.out), "out", "a folder path")
        need(isinstance(self.download, bool), "download", "true or false")
        need(self.dask_workers is None or (is_int(self.dask_workers) and self.dask_workers >= 1),
             "dask_workers", "an integer >= 1")
        need(self.scheduler is None or (isinstance(self.scheduler, str) and self.scheduler), "scheduler",
             "a Dask scheduler address")
        from .embed import parse_embed

        parse_embed(self.embed)  # its error names embed
        return self

    def to_dict(self):
        out = {k: (str(v) if isinstance(v, os.PathLike) else v) for k, v in dataclasses.asdict(self).items()}
        for key in ("dask_workers", "scheduler"):  # where the fit ran: recorded only when used
            if out[key] is None:
                del out[key]
        return out


def load_toml(path):
    """Parse a TOML file; errors name the file."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python < 3.11
        import tomli as tomllib
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise FileNotFoundError(f"config file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: not valid TOML: {exc}") from None


# -- writing ------------------------------------------------------------------------------

def atomic_write_bytes(path, data):
    """Write ``data`` to ``path`` via a temporary file and rename: never half a file."""
    with atomic_open(path) as fh:
        fh.write(data)


def atomic_save_npy(path, array):
    import io

    buf = io.BytesIO()
    np.save(buf, np.asarray(array), allow_pickle=False)
    atomic_write_bytes(path, buf.getvalue())


def atomic_write_json(path, obj):
    atomic_write_bytes(path, (json.dumps(obj, indent=2, default=_json_default) + "\n").encode())


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


# -- running ------------------------------------------------------------------------------

SPLIT_SUFFIXES = ("train", "test")


def _split_spec(spec):
    """``"mnist:test"`` -> ("mnist", "test"): one split of a data set, clustered on its own."""
    base, sep, part = str(spec).rpartition(":")
    if sep and base and part.lower() in SPLIT_SUFFIXES:
        return base, part.lower()
    return str(spec), None


def load_raw(config, progress=None):
    """The whole data set of ``config`` (no subsample), falling back to scikit-learn's digits
    when MNIST is unavailable. Returns (Dataset, notes): notes are one-line messages.

    A dataset written ``NAME:test`` (or ``NAME:train``) keeps that split only, as the data
    to cluster, with no held-out part: e.g. ``mnist:test`` for the 10,000 test images.
    """
    from . import datasets

    spec, part = _split_spec(config.dataset)
    notes = []
    if str(spec).rstrip("/\\").endswith(".zarr"):
        if config.preprocess != "none" or config.embed or config.subsample:
            raise ValueError("a .zarr dataset is clustered as stored, out of core: use --preprocess none, "
                             "without --embed or --subsample")
        return _open_zarr(spec), notes
    try:
        ds = datasets.load_dataset(spec, data_home=config.data_home,
                                   download=config.download, progress=progress)
    except datasets.DataNotFoundError as exc:
        if spec != "mnist":
            raise
        first = str(exc).splitlines()[0]
        notes.append(f"MNIST unavailable ({first}); running on scikit-learn's 8x8 digits instead")
        ds = datasets.load_dataset("digits")
    if part == "test":
        if ds.X_test is None:
            raise ValueError(f"dataset {config.dataset!r}: {spec} has no test split")
        ds = dataclasses.replace(ds, name=f"{ds.name}:test", X_train=ds.X_test, y_train=ds.y_test,
                                 X_test=None, y_test=None)
    elif part == "train":
        ds = dataclasses.replace(ds, name=f"{ds.name}:train", X_test=None, y_test=None)
    return ds, notes


def _open_zarr(path):
    """A .zarr store as a Dataset whose X is a lazy dask array (its ``y``, if any, in memory)."""
    from .cluster._outofcore import open_array, zarr_labels
    from .datasets import Dataset

    X = open_array(path)
    side = int(round(np.sqrt(X.shape[1])))
    shape = (side, side) if side * side == X.shape[1] else None
    return Dataset(Path(path).stem, X, zarr_labels(path), image_shape=shape)


def _lazy(X):
    from .cluster._kmeans import _is_dask_array

    return _is_dask_array(X)


def subsample(ds, config):
    """Keep ``config.subsample`` training rows per class (seeded by ``config.seed``)."""
    if config.subsample is None:
        return ds
    if ds.y_train is None:
        raise ValueError("subsample needs labels, but this dataset has none")
    from .preprocessing import balanced_subsample

    idx = balanced_subsample(ds.X_train, ds.y_train, config.subsample, random_state=config.seed)
    return dataclasses.replace(ds, X_train=ds.X_train[idx], y_train=ds.y_train[idx])


def load_data(config, progress=None):
    """:func:`load_raw` then :func:`subsample`: the data one run clusters. Returns (Dataset, notes)."""
    ds, notes = load_raw(config, progress=progress)
    return subsample(ds, config), notes


def prepare(config, ds):
    """Fit the feature pipeline (preprocess -> embed) on train; returns (front, X_train, X_test)."""
    from .embed import make_front
    from .preprocessing import make_preprocessor

    front = make_front(make_preprocessor(config.preprocess), config.embed, random_state=config.seed)
    X_train = front.fit_transform(ds.X_train)
    X_test = front.transform(ds.X_test) if ds.X_test is not None else None
    return front, X_train, X_test


def make_estimator(config):
    from .cluster.registry import make_estimator as _make

    return _make(config.algorithm, n_clusters=config.k, init=config.init, n_init=config.n_init,
                 max_iter=config.max_iter, tol=config.tol, random_state=config.seed,
                 beta=config.beta, batch_size=config.batch_size)


def evaluate_splits(model, splits):
    """Metrics per split; cluster->class mappings learned on the first split only."""
    from . import metrics

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


def fit_evaluate(config, ds, X_train, X_test):
    """Fit the estimator of ``config`` on prepared data and evaluate it on train and test.

    Returns (model, metrics per split, labels per split, fit seconds).
    """
    model = make_estimator(config)
    X_fit = X_train
    if (config.dask_workers or config.scheduler) and isinstance(X_train, np.ndarray):
        import dask.array as da

        X_fit = da.from_array(X_train, chunks=(max(1024, -(-X_train.shape[0] // 8)), -1))
    t0 = time.perf_counter()
    model.fit(X_fit)
    seconds = time.perf_counter() - t0
    if _lazy(getattr(model, "labels_", None)) and not _lazy(X_train):
        model.labels_ = np.asarray(model.labels_)
    splits = {"train": (X_train, ds.y_train)}
    if X_test is not None:
        splits["test"] = (X_test, ds.y_test)
    results, labels, _ = evaluate_splits(model, splits)
    return model, results, labels, seconds


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
    results, labels, _ = evaluate_splits(view, {"train": (X_s, y_s)})
    return view, results, labels, seconds, ds, X_s


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


def run(config, *, log=None, progress=None):
    """Run one experiment and write its folder; returns the result dict (as in metrics.json).

    Parameters
    ----------
    config : RunConfig
    log : callable(str), optional
        Receives one line per stage (the CLI prints them); the library never prints.
    progress : callable(filename, done, total), optional
        Download progress, passed to the loader.
    """
    from . import metrics
    from .embed import check_available, make_pipeline

    config = config.validated()
    check_available(config.embed)  # before the data are loaded, not after
    say = log or (lambda msg: logger.info(msg))
    out = Path(config.out)
    timings = {}

    t0 = time.perf_counter()
    ds, notes = load_data(config, progress=progress)
    for note in notes:
        say(f"note: {note}")
    timings["load"] = time.perf_counter() - t0
    say(f"loaded {ds.name}: train {ds.X_train.shape}" +
        (f", test {ds.X_test.shape}" if ds.X_test is not None else "") + f" in {timings['load']:.1f} s")

    t0 = time.perf_counter()
    front, X_train, X_test = prepare(config, ds)
    timings["prepare"] = time.perf_counter() - t0
    if config.embed:
        say(f"embedded with {config.embed}: {X_train.shape[1]} features, in {timings['prepare']:.1f} s")

    say(f"fitting {config.algorithm}(n_clusters={config.k}, init={config.init!r}, "
        f"n_init={config.n_init}) on {X_train.shape[0]} rows")
    with _dask_client(config):
        if _lazy(X_train):
            n_all = X_train.shape[0]
            model, results, labels, timings["fit"], ds, X_train = _fit_evaluate_lazy(config, ds, X_train)
            notes.append(f"fitted on all {n_all} rows out of core; metrics and figures on a seeded "
                         f"sample of {X_train.shape[0]} rows (objective: all rows)")
            say(f"note: {notes[-1]}")
        else:
            model, results, labels, timings["fit"] = fit_evaluate(config, ds, X_train, X_test)
    say(f"fitted in {timings['fit']:.1f} s ({model.n_iter_} iterations in the best run)")
    pipeline = make_pipeline(front, model)

    summary = metrics.cluster_summary(ds.y_train, labels["train"], n_clusters=config.k) \
        if ds.y_train is not None else None
    result = {
        "config": config.to_dict(),
        "dataset": {"name": ds.name, "n_train": int(X_train.shape[0]),
                    "n_test": int(X_test.shape[0]) if X_test is not None else 0,
                    "n_features": int(ds.X_train.shape[1]),
                    "n_features_clustered": int(X_train.shape[1]),
                    "image_shape": list(ds.image_shape) if ds.image_shape else None},
        "notes": notes,
        "pipeline": [name for name, _ in pipeline.steps],
        "estimator": {"class": type(model).__name__, "params": _plain(model.get_params()),
                      "n_iter": int(model.n_iter_), "inertia": float(model.inertia_)},
        "metrics": results,
        "history": [float(v) for v in model.history_],
        "clusters": _plain(summary),
        "timings": timings,
    }

    say(f"writing {out}/")
    _write_run(out, result, pipeline, labels, ds, X_train, summary)
    return result


def _plain(obj):
    """JSON-ready copy: numpy scalars/arrays to Python, non-finite floats to None."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _plain(obj.tolist())
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    return repr(obj)


def center_distances(X, labels, centers, block=8192):
    """Euclidean distance of each row of ``X`` to its own centre, in row blocks."""
    import scipy.sparse as sp

    centers = np.asarray(centers)
    out = np.empty(X.shape[0])
    for start in range(0, X.shape[0], block):
        rows = X[start:start + block]
        rows = rows.toarray() if sp.issparse(rows) else np.asarray(rows)
        diff = rows - centers[labels[start:start + block]]
        out[start:start + block] = np.sqrt(np.einsum("ij,ij->i", diff, diff))
    return out


def pixel_means(X, labels, k):
    """Mean of each cluster's members in the original feature space (NaN for empty clusters)."""
    import scipy.sparse as sp

    counts = np.bincount(labels, minlength=k).astype(np.float64)
    onehot = sp.csr_matrix((np.ones(len(labels)), (labels, np.arange(len(labels)))), shape=(k, len(labels)))
    sums = np.asarray(onehot @ X, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return sums / counts[:, None]


def _write_run(out, result, pipeline, labels, ds, X_train, summary):
    """Arrays, figures and report first, metrics.json last: its presence marks a complete run."""
    from . import metrics, plots, report

    model, pre = pipeline.named_steps["cluster"], pipeline.named_steps["preprocess"]
    embedded = "embed" in pipeline.named_steps
    out.mkdir(parents=True, exist_ok=True)
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
    dist = center_distances(X_train, labels["train"], model.cluster_centers_)
    report.member_figures(out, ds.X_train, labels["train"], dist, k, ds.image_shape,
                          summary=summary, seed=result["config"]["seed"])
    report.write_run_report(out, result)
    atomic_write_json(out / "metrics.json", result)
