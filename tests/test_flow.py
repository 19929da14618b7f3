"""The experiments as people run them, through the command line (subprocesses: exit codes
and messages as a user sees them): no silent substitution of data, sweeps that notice
changed data, run folders that never mix two experiments, tables whose labels are known."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from kmeanslab import metrics


def cli(*argv, home=None, cwd=None, subprocess_=False):
    """``kmeanslab ARGV``; returns (exit code, stdout, stderr). In this process (as the
    console script calls ``main``), or with ``subprocess_`` in a fresh one. ``home``: a
    user with no data anywhere (no KMEANSLAB_DATA, empty caches); ``cwd``: where it runs."""
    environ = dict(os.environ, PYTHONUNBUFFERED="1")
    if home is not None:
        environ.pop("KMEANSLAB_DATA", None)
        environ.update(HOME=str(home), XDG_CACHE_HOME=str(home / ".cache"))
        for var in ("KERAS_HOME", "TORCH_HOME", "SCIKIT_LEARN_DATA", "HF_HOME", "HF_HUB_CACHE"):
            environ.pop(var, None)
    if subprocess_:
        proc = subprocess.run([sys.executable, "-m", "kmeanslab.cli", *map(str, argv)], capture_output=True,
                              text=True, env=environ, cwd=cwd, timeout=300)
        return proc.returncode, proc.stdout, proc.stderr
    import contextlib
    import io

    from kmeanslab.cli import main

    out, err, saved, here = io.StringIO(), io.StringIO(), dict(os.environ), os.getcwd()
    try:
        os.environ.clear()
        os.environ.update(environ)
        if cwd is not None:
            os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main([str(a) for a in argv])
    finally:
        os.chdir(here)
        os.environ.clear()
        os.environ.update(saved)
    return code, out.getvalue(), err.getvalue()


def one_error_line(err):
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kmeanslab: error:") and "Traceback" not in err, err
    return lines[0]


# -- a named data set is that data set, or an error --------------------------------------

@pytest.mark.parametrize("command", ["run", "sweep"])
def test_missing_mnist_is_an_error_saying_where_and_how(tmp_path, command):
    code, out, err = cli(command, "--dataset", "mnist", "--no-download", "--k", "3", "--out", tmp_path / "o",
                         home=tmp_path, cwd=tmp_path, subprocess_=command == "run")
    assert code == 2 and out == ""
    line = one_error_line(err)
    for where in (tmp_path / ".cache" / "kmeanslab" / "mnist", tmp_path / ".keras" / "datasets" / "mnist.npz",
                  "MNIST/raw", "scikit_learn_data", "huggingface"):
        assert str(where) in line, where
    for how in ("--data-home", "KMEANSLAB_DATA", "mnist.npz", "drop --no-download"):
        assert how in line, how
    assert not (tmp_path / "o").exists()


def test_missing_mnist_in_python_raises(tmp_path, monkeypatch):
    from kmeanslab.data import DataNotFoundError
    from kmeanslab.experiment import RunConfig, run

    monkeypatch.delenv("KMEANSLAB_DATA", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / ".cache"))
    with pytest.raises(DataNotFoundError, match="MNIST not found"):
        run(RunConfig(dataset="mnist", download=False, out=str(tmp_path / "o")))


def test_sweep_recomputes_cells_when_the_data_change(tmp_path):
    data = tmp_path / "points.csv"
    rng = np.random.RandomState(0)
    X = np.vstack([rng.normal(c, 0.3, (40, 2)) for c in (0, 3, 6)])
    y = np.repeat([0, 1, 2], 40)
    np.savetxt(data, np.column_stack([X, y]), delimiter=",", header="a,b,label", comments="")
    argv = ["sweep", "--dataset", data, "--k", "2:3", "--n-init", "1", "--out", tmp_path / "s"]
    assert cli(*argv)[0] == 0
    code, _, err = cli(*argv)
    assert code == 0 and "resuming: 2 of 2 cells already done" in err
    before = (tmp_path / "s" / "sweep.csv").read_text()
    np.savetxt(data, np.column_stack([X * 2, y]), delimiter=",", header="a,b,label", comments="")
    code, _, err = cli(*argv)
    assert code == 0 and "resuming" not in err
    after = (tmp_path / "s" / "sweep.csv").read_text()
    sse = [float(line.split(",")[7]) for text in (before, after) for line in text.splitlines()[1:]]
    assert sse[2:] == pytest.approx([4 * v for v in sse[:2]], rel=1e-3)  # the new data's numbers


# -- run folders --------------------------------------------------------------------------

def _tree(folder):
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


def test_run_refuses_a_folder_holding_another_experiment(tmp_path):
    out = tmp_path / "run"
    assert cli("run", "--dataset", "digits", "--k", "5", "--out", out)[0] == 0
    before = _tree(out)
    code, _, err = cli("run", "--dataset", "digits", "--k", "6", "--out", out, subprocess_=True)
    assert code == 2 and "k 5 -> 6" in one_error_line(err) and "--force" in err
    assert _tree(out) == before
    code, _, err = cli("run", "--dataset", "digits", "--k", "5", "--out", out)  # the same run again
    assert code == 0, err
    # --force replaces it whole: iris has no test split, so the digits run's test files go.
    code, _, err = cli("run", "--dataset", "iris", "--k", "3", "--force", "--out", out)
    assert code == 0, err
    assert json.loads((out / "metrics.json").read_text())["config"]["dataset"] == "iris"
    assert not (out / "test_labels.npy").exists() and not (out / "contingency_test.png").exists()
    wrote = err.strip().splitlines()[-1]
    assert wrote.startswith(f"wrote {out}/ (")
    assert sorted(wrote[wrote.index("(") + 1:-1].split(", ")) == sorted(p.name for p in out.iterdir())


@pytest.mark.parametrize("command", ["sweep", "choose-k"])
def test_sweep_final_line_lists_exactly_what_is_there(tmp_path, command):
    out = tmp_path / "s"
    code, _, err = cli(command, "--dataset", "iris", "--k", "2:4", "--n-init", "1", "--out", out)
    assert code == 0, err
    wrote = err.strip().splitlines()[-1]
    assert wrote.startswith(f"wrote {out}/ (report.html, sweep.csv, sweep.md, sweep.json, ") and wrote.endswith(", cells/)")
    listed = wrote[wrote.index("(") + 1:-1].split(", ")
    assert sorted(listed) == sorted(p.name + "/" * p.is_dir() for p in out.iterdir())
    assert ("choose_k.json" in listed) == (command == "choose-k")


def test_run_refuses_a_sweep_folder(tmp_path):
    out = tmp_path / "sweep"
    assert cli("sweep", "--dataset", "iris", "--k", "2,3", "--out", out)[0] == 0
    before = _tree(out)
    code, _, err = cli("run", "--dataset", "iris", "--k", "3", "--out", out)
    assert code == 2 and "holds a sweep" in one_error_line(err)
    assert _tree(out) == before and (out / "cells").is_dir()
    code, _, err = cli("sweep", "--dataset", "iris", "--k", "2,3", "--out", tmp_path / "run-here")
    assert code == 0
    assert cli("run", "--dataset", "iris", "--k", "2", "--out", tmp_path / "r")[0] == 0
    code, _, err = cli("sweep", "--dataset", "iris", "--k", "2,3", "--out", tmp_path / "r")
    assert code == 2 and "holds a run" in one_error_line(err)


# -- tables: which column is the label ----------------------------------------------------

@pytest.fixture
def table(tmp_path):
    """Three well separated blobs; the class in a last column named "digit"."""
    rng = np.random.RandomState(1)
    X = np.vstack([rng.normal(c, 0.2, (30, 3)) for c in (0, 2, 4)])
    y = np.repeat([0, 1, 2], 30)
    path = tmp_path / "blobs.csv"
    np.savetxt(path, np.column_stack([X, y]), delimiter=",", header="f1,f2,f3,digit", comments="", fmt="%.6g")
    return path


def test_a_label_column_that_is_not_named_label_is_not_clustered_silently(table, tmp_path):
    code, out, err = cli("run", "--dataset", table, "--k", "3", "--out", tmp_path / "a")
    assert code == 0
    assert "warning:" in err and "'digit' (column 3) looks like class labels" in err
    assert "--label-column digit" in err and "purity, Gini, accuracy" in err
    assert json.loads((tmp_path / "a" / "metrics.json").read_text())["dataset"]["n_features"] == 4
    for flag in (["--label-column", "digit"], ["--label-column", "3"]):
        code, out, err = cli("run", "--dataset", table, "--k", "3", *flag, "--force", "--out", tmp_path / "b")
        assert code == 0 and "warning" not in err
        result = json.loads((tmp_path / "b" / "metrics.json").read_text())
        assert result["dataset"]["n_features"] == 3 and result["metrics"]["train"]["purity"] == 1.0
    code, out, err = cli("run", "--dataset", table, "--k", "3", "--no-labels", "--out", tmp_path / "c")
    assert code == 0 and "warning" not in err


def test_a_label_column_named_label_is_taken_with_a_note(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("x,label\n" + "".join(f"{i % 3 + 0.1 * i},{i % 3}\n" for i in range(30)))
    code, _, err = cli("run", "--dataset", path, "--k", "3", "--out", tmp_path / "o")
    assert code == 0 and "took 'label' (column 1) as the class labels" in err


def test_columns_and_test_size(table, tmp_path):
    code, out, err = cli("run", "--dataset", table, "--label-column", "digit", "--columns", "f1,2",
                         "--test-size", "0.2", "--k", "3", "--out", tmp_path / "o")
    assert code == 0, err
    result = json.loads((tmp_path / "o" / "metrics.json").read_text())
    assert result["dataset"]["n_features"] == 2
    assert (result["dataset"]["n_train"], result["dataset"]["n_test"]) == (72, 18)
    assert np.bincount(np.load(tmp_path / "o" / "test_predictions.npy")).max() <= 18
    assert "test" in out.splitlines()[0]
    code, _, err = cli("run", "--dataset", "iris", "--test-size", "0.2", "--k", "3", "--out", tmp_path / "i")
    assert code == 0 and json.loads((tmp_path / "i" / "metrics.json").read_text())["dataset"]["n_test"] == 30
    code, _, err = cli("run", "--dataset", "digits", "--test-size", "0.2", "--out", tmp_path / "d")
    assert code == 2 and "already has a test split" in one_error_line(err) and "digits:all" in err


def test_predictions_are_the_majority_digit_learned_on_train(tmp_path):
    out = tmp_path / "o"
    assert cli("run", "--dataset", "digits", "--k", "12", "--out", out)[0] == 0
    from kmeanslab.data import load_dataset

    ds = load_dataset("digits")
    train, test = np.load(out / "labels.npy"), np.load(out / "test_labels.npy")
    mapping = metrics.map_clusters(train, ds.y_train, "majority", n_clusters=12)
    np.testing.assert_array_equal(np.load(out / "predictions.npy"), mapping.predict(train))
    np.testing.assert_array_equal(np.load(out / "test_predictions.npy"), mapping.predict(test))


# -- flags --------------------------------------------------------------------------------

def test_run_metric_picks_the_algorithm_and_shows_its_objective(tmp_path):
    code, out, err = cli("run", "--dataset", "digits", "--metric", "manhattan", "--k", "5", "--out", tmp_path / "o")
    assert code == 0, err
    assert out.splitlines()[1].startswith("objective: L1 distance sum")
    result = json.loads((tmp_path / "o" / "metrics.json").read_text())
    assert result["config"]["algorithm"] == "kmedians" and result["estimator"]["class"] == "KMedians"
    code, _, err = cli("run", "--dataset", "digits", "--metric", "cosine", "--algorithm", "kmeans")
    assert code == 2 and "picks algorithm spherical" in one_error_line(err)


@pytest.mark.parametrize("argv, hint", [
    (["run", "--dataset", "digits", "--kk", "3"], "did you mean --k?"),
    (["sweep", "--metirc", "cosine"], "did you mean --metric?"),
    (["rnu"], "did you mean run?"),
    (["run", "--dataset", "mnsit"], "did you mean 'mnist'?"),
])
def test_typos_get_a_hint(argv, hint):
    code, _, err = cli(*argv, subprocess_=argv[0] == "rnu")
    assert code == 2 and hint in err and len(err.strip().splitlines()) == 1


def test_metric_sweep_csv_names_each_algorithm_and_objective(tmp_path):
    out = tmp_path / "m"
    code, stdout, err = cli("sweep", "--dataset", "digits", "--k", "6", "--n-init", "1",
                            "--metric", "euclidean,manhattan,cosine", "--out", out)
    assert code == 0, err
    import csv

    rows = list(csv.DictReader(open(out / "sweep.csv")))
    assert [(r["metric"], r["algorithm"]) for r in rows] == [("euclidean", "kmeans"), ("manhattan", "kmedians"),
                                                             ("cosine", "spherical")]
    header = next(line for line in stdout.splitlines() if line.startswith("| metric"))
    assert "objective (own)" in header and "acc (majority)" in header and "acc (Hungarian)" in header
    assert "kmedians: L1 distance sum" in stdout
    assert {"cells_contingency.png", "cells_centroids.png"} <= {p.name for p in out.iterdir()}
    report = (out / "report.html").read_text()
    assert report.count('alt="train: class × cluster counts of each cell"') == 1
    assert 'alt="centroids of each cell: cluster id: majority class"' in report
    assert "every cell: preprocess scale, init k-means++, k 6</p>" in report  # no "algorithm kmeans"
    figures = report.split("<h2>Figures</h2>")[1]
    assert figures.index('alt="train: class × cluster counts of each cell"') < figures.index('<div class="grid">')


def test_python_warnings_are_one_line(tmp_path):
    """A fit's ConvergenceWarning reaches the user as a `warning:` line, not as a file path
    and a line of the library's source."""
    path = tmp_path / "dup.csv"
    path.write_text("a,b\n" + "1.5,1.5\n" * 4 + "2.5,2.5\n" * 2)
    code, _, err = cli("run", "--dataset", path, "--k", "3", "--no-labels", "--out", tmp_path / "o", subprocess_=True)
    assert code == 0, err
    assert ("warning: Number of distinct clusters (2) found smaller than n_clusters (3). Possibly due to "
            "duplicate points in X. (ConvergenceWarning)") in err.splitlines()
    assert ".py:" not in err


def test_the_default_folder_holds_the_latest_run(tmp_path):
    """Without --out, runs go to runs/latest and each replaces the one before (saying so);
    a sweep folder is refused there as anywhere."""
    assert cli("run", "--dataset", "iris", "--k", "3", cwd=tmp_path)[0] == 0
    code, _, err = cli("run", "--dataset", "iris", "--k", "4", cwd=tmp_path)
    assert code == 0, err
    assert "note: replacing the previous run in runs/latest/" in err
    result = json.loads((tmp_path / "runs" / "latest" / "metrics.json").read_text())
    assert result["config"]["k"] == 4
    assert cli("sweep", "--dataset", "iris", "--k", "2,3", "--out", "runs/latest", cwd=tmp_path)[0] == 2


def test_a_sweep_folder_shows_one_sweep(tmp_path):
    """Another grid in the same folder keeps the cells (keyed by their settings) but not
    the earlier grid's curves: no beta_*.png beside a k sweep's report."""
    out = tmp_path / "s"
    assert cli("sweep", "--dataset", "iris", "--algorithm", "soft", "--k", "3", "--beta", "0.5,1", "--out", out)[0] == 0
    assert (out / "beta_purity.png").is_file()
    code, _, err = cli("sweep", "--dataset", "iris", "--k", "2,3", "--choose-k", "--out", out)
    assert code == 0, err
    assert not list(out.glob("beta_*.png")) and (out / "elbow.png").is_file() and (out / "choose_k.json").is_file()
    assert len(list((out / "cells").glob("*.json"))) == 4
    assert cli("sweep", "--dataset", "iris", "--k", "2,3", "--out", out)[0] == 0
    assert not (out / "choose_k.json").exists() and not list(out.glob("choose_*.png"))
