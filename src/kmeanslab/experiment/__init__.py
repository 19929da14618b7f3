"""Experiments: a run (config in, a run folder out) and a sweep (a grid of runs, resumable,
with tables, curves and a report).

- :mod:`.config`: :class:`RunConfig`, read from flags, TOML or Python;
- :mod:`.runner`: load, preprocess, fit and evaluate one run (:func:`run`);
- :mod:`.outputs`: the run folder, written all or none;
- :mod:`.sweep` / :mod:`.summary`: the grid, its cells, and the sweep's outputs;
- :mod:`.choosek`: the criteria that pick k; :mod:`.report`: the HTML reports.
"""

from .config import RunConfig, load_toml
from .runner import evaluate_splits, fit_evaluate, load_data, load_raw, make_estimator, prepare, run, subsample

__all__ = ["RunConfig", "evaluate_splits", "fit_evaluate", "load_data", "load_raw", "load_toml",
           "make_estimator", "prepare", "run", "subsample"]
