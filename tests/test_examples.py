"""Every examples/*.toml runs (on a small subsample) with the command it names."""

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from kmeanslab.cli import main
from kmeanslab.cluster.registry import ESTIMATORS
from kmeanslab.experiment import load_toml
from kmeanslab.experiment.sweep import METRIC_ALGORITHMS, cells, sweep_from_dict

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
# Per example: the flags that shrink it for a test, and the cells the shrunk sweep has.
SMALL = {
    "zscore-k5-10-20.toml": (["--subsample", "10", "--n-init", "1"], 3),
    "soft-beta.toml": (["--subsample", "10", "--max-iter", "20"], 3),
    "minibatch-accuracy-vs-k.toml": (["--subsample", "10", "--k", "2,12", "--seeds", "0"], 2),
    "metrics-compare.toml": (["--subsample", "10", "--n-init", "1"], 3),
    "per-class-100-k20.toml": (["--subsample", "5", "--n-init", "1"], None),
    "iris-elbow.toml": (["--k", "1:4", "--n-init", "2"], 4),
    "iris-split.toml": ([], None),
}
FULL_CELLS = {"zscore-k5-10-20.toml": 3, "soft-beta.toml": 3, "minibatch-accuracy-vs-k.toml": 72,
              "metrics-compare.toml": 3, "iris-elbow.toml": 10}


def test_every_example_is_covered():
    assert sorted(p.name for p in EXAMPLES.glob("*.toml")) == sorted(SMALL)


def test_examples_use_every_algorithm():
    used = set()
    for path in EXAMPLES.glob("*.toml"):
        data = load_toml(path)
        metrics = data.get("sweep", {}).get("metric")
        used |= {METRIC_ALGORITHMS[m] for m in metrics} if metrics else {data.get("algorithm", "kmeans")}
    assert used == set(ESTIMATORS)


@pytest.mark.parametrize("name", sorted(SMALL))
def test_example_config_is_valid_at_full_size(name):
    data = load_toml(EXAMPLES / name)
    command = "sweep" if "sweep" in data else "run"
    assert f"kmeanslab {command} --config examples/{name}" in (EXAMPLES / name).read_text()
    if command == "sweep":
        base = {k: v for k, v in data.items() if k != "sweep"}
        assert len(cells(sweep_from_dict(base, data["sweep"]))) == FULL_CELLS[name]


@pytest.mark.parametrize("name", sorted(SMALL))
def test_example_runs_on_a_subsample(name, capsys, tmp_path, mnist_home):
    data = load_toml(EXAMPLES / name)
    flags, n_cells = SMALL[name]
    out = tmp_path / "out"
    command = "sweep" if "sweep" in data else "run"
    code = main([command, "--config", str(EXAMPLES / name), *flags, "--data-home", str(mnist_home),
                 "--no-download", "--out", str(out), "--quiet"])
    stdout, err = capsys.readouterr()
    assert code == 0, err
    assert (out / "report.html").is_file()
    if command == "run":
        result = json.loads((out / "metrics.json").read_text())
        n_test = 30 if data["dataset"] == "iris" else 10000
        assert result["config"]["k"] == data["k"] and result["dataset"]["n_test"] == n_test
        assert 0.2 < result["metrics"]["test"]["accuracy_hungarian"] <= 1
        assert "accuracy (Hungarian)" in stdout
        predicted = np.load(out / "test_predictions.npy")
        assert predicted.shape == (n_test,) and 0.5 < result["metrics"]["test"]["accuracy_majority"] <= 1
        return
    with open(out / "sweep.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == n_cells
    has_test = data["dataset"] == "mnist"  # mnist:test and mnist:all have no held-out part
    for row in rows:
        for key in ("train_sse", "train_purity", "train_gini", "train_accuracy_hungarian"):
            assert float(row[key]) >= 0
        assert ("test_accuracy_hungarian" in row) == has_test
    summary = json.loads((out / "sweep.json").read_text())
    if name == "iris-elbow.toml":
        assert (out / "elbow.png").is_file()
        assert summary["choose_k"][0]["picks"]["elbow"] in (2, 3)
    if name == "soft-beta.toml":
        assert {float(r["beta"]) for r in rows} == {0.1, 1.0, 10.0} and (out / "beta_nmi.png").is_file()
    if name == "metrics-compare.toml":
        assert [r["metric"] for r in rows] == ["euclidean", "manhattan", "cosine"]
        assert {int(r["n_train"]) for r in rows} == {100}
