"""What determines a run: :class:`RunConfig`, from flags, a TOML file or Python."""

import dataclasses
import os
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

# The metric picks the algorithm: its objective is the distance it names.
METRIC_ALGORITHMS = {"euclidean": "kmeans", "manhattan": "kmedians", "cosine": "spherical"}
# What each algorithm's own objective (``inertia_``, the "objective" metric) is.
OBJECTIVES = {"kmeans": "SSE", "minibatch": "SSE", "soft": "soft objective (free energy)",
              "kmedians": "L1 distance sum", "spherical": "cosine distance sum"}
FALLBACKS = ("digits",)
# Recorded in metrics.json and cell ids only when set: runs without them read as before.
_WHEN_SET = ("dask_workers", "scheduler", "fallback", "test_size", "columns", "label_column", "no_labels",
             "metric")


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
    fallback: object = None  # "digits": run on them when MNIST is missing (make demo), loudly
    test_size: object = None  # held-out fraction (or rows) for data without a test split
    columns: object = None  # feature columns of a table: names, indices, ranges "a:b"
    label_column: object = None  # the table's label column (name or index)
    no_labels: bool = False  # the table has no label column
    metric: object = None  # euclidean | manhattan | cosine: picks the algorithm

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
                import difflib

                close = difflib.get_close_matches(name, known, n=1)
                hint = f"did you mean {close[0].replace('_', '-')!r}? " if close else ""
                raise ValueError(f"{source}: unknown key {key!r}; {hint}known keys: {', '.join(sorted(known))}")
            kwargs[name] = value
        if kwargs.get("metric") in METRIC_ALGORITHMS and "algorithm" not in kwargs:
            kwargs["algorithm"] = METRIC_ALGORITHMS[kwargs["metric"]]
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
        from ..cluster._seeding import INIT_NAMES
        from ..cluster.registry import ESTIMATORS

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
        need(self.fallback is None or self.fallback in FALLBACKS, "fallback", "'digits' or unset")
        need(self.test_size is None or (is_num(self.test_size) and self.test_size > 0), "test_size",
             "a fraction in (0, 1) or a number of rows")
        need(self.columns is None or isinstance(self.columns, (str, list)), "columns",
             "a list of column names or indices ('a,b,0:9')")
        need(self.label_column is None or isinstance(self.label_column, str) or is_int(self.label_column),
             "label_column", "a column name or index")
        need(isinstance(self.no_labels, bool), "no_labels", "true or false")
        if self.no_labels and self.label_column is not None:
            raise ValueError("label_column and no_labels contradict each other; give one")
        need(self.metric is None or self.metric in METRIC_ALGORITHMS, "metric", f"one of {', '.join(METRIC_ALGORITHMS)}")
        if self.metric is not None and METRIC_ALGORITHMS[self.metric] != self.algorithm:
            raise ValueError(f"metric={self.metric} picks algorithm {METRIC_ALGORITHMS[self.metric]}, "
                             f"but algorithm={self.algorithm}; give one of them")
        from ..embed import parse_embed

        parse_embed(self.embed)  # its error names embed
        return self

    @property
    def objective_name(self):
        """What this run's objective is (SSE for k-means, the L1 sum for k-medians ...)."""
        return OBJECTIVES.get(self.algorithm, "objective")

    def data_options(self):
        """The keyword arguments of :func:`kmeanslab.data.load_dataset` this config sets."""
        from ..data import parse_columns

        label = False if self.no_labels else self.label_column
        if isinstance(label, str) and label.lstrip("-").isdigit():
            label = int(label)  # from a flag: an index
        return {"data_home": self.data_home, "download": self.download, "label_column": label,
                "columns": None if self.columns is None else parse_columns(self.columns),
                "test_size": self.test_size}

    def to_dict(self):
        out = {k: (str(v) if isinstance(v, os.PathLike) else v) for k, v in dataclasses.asdict(self).items()}
        for key in _WHEN_SET:
            if out[key] is None or out[key] is False:
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
