import json
import re
import subprocess
import sys

import numpy as np
import pytest

from kmeanslab import metrics
from kmeanslab.cli import main
from kmeanslab.data import load_dataset

RUN_FILES = ("metrics.json", "centroids.npy", "labels.npy", "centroids.png", "loss.png", "contingency.png")


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """No MNIST anywhere and no network: KMEANSLAB_DATA unset, empty cache."""
    monkeypatch.delenv("KMEANSLAB_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


def test_run_digits_writes_folder_and_table(capsys, tmp_path):
    out = tmp_path / "run"
    code, stdout, _ = run_cli(capsys, "run", "--dataset", "digits", "--k", "10", "--seed", "0",
                              "--out", str(out))
    assert code == 0
    for name in RUN_FILES + ("test_labels.npy",):
        assert (out / name).is_file(), name
    for label in ("SSE", "purity", "Gini impurity", "accuracy (Hungarian)", "NMI", "ARI"):
        assert label in stdout
    result = json.loads((out / "metrics.json").read_text())
    assert set(result["metrics"]) == {"train", "test"}
    assert result["config"]["k"] == 10
    assert np.load(out / "centroids.npy").shape == (10, 64)


def test_numbers_in_metrics_json_are_the_metrics_of_the_saved_labels(capsys, tmp_path):
    out = tmp_path / "run"
    assert run_cli(capsys, "run", "--dataset", "digits", "--k", "12", "--preprocess", "none",
                   "--out", str(out))[0] == 0
    result = json.loads((out / "metrics.json").read_text())
    ds = load_dataset("digits")
    train_labels = np.load(out / "labels.npy")
    test_labels = np.load(out / "test_labels.npy")
    centers = np.load(out / "centroids.npy")
    m = result["metrics"]
    assert m["train"]["purity"] == pytest.approx(metrics.purity(ds.y_train, train_labels, n_clusters=12))
    assert m["train"]["gini"] == pytest.approx(metrics.gini(ds.y_train, train_labels, n_clusters=12))
    assert m["train"]["sse"] == pytest.approx(metrics.sse(ds.X_train, train_labels, centers), rel=1e-6)
    assert m["test"]["nmi"] == pytest.approx(metrics.nmi(ds.y_test, test_labels))
    # Test accuracy uses the mapping learned on train, never one re-fitted on test.
    train_map = metrics.map_clusters(train_labels, ds.y_train, "majority", n_clusters=12)
    expected = metrics.accuracy(ds.y_test, test_labels, mapping=train_map)
    assert m["test"]["accuracy_majority"] == pytest.approx(expected)
    refit = metrics.accuracy(ds.y_test, test_labels, method="majority", n_clusters=12)
    assert refit >= expected  # re-fitting on test can only flatter; we must not do it


def test_same_seed_same_outputs(capsys, tmp_path):
    for name in ("a", "b"):
        assert run_cli(capsys, "run", "--dataset", "digits", "--k", "8", "--init", "random",
                       "--seed", "5", "--out", str(tmp_path / name))[0] == 0
    for arr in ("centroids.npy", "labels.npy", "test_labels.npy"):
        assert np.array_equal(np.load(tmp_path / "a" / arr), np.load(tmp_path / "b" / arr))
    a = json.loads((tmp_path / "a" / "metrics.json").read_text())["metrics"]
    b = json.loads((tmp_path / "b" / "metrics.json").read_text())["metrics"]
    assert a == b


def test_config_file_and_flag_override(capsys, tmp_path):
    cfg = tmp_path / "exp.toml"
    cfg.write_text('dataset = "digits"\nk = 5\nn-init = 2\nout = "%s"\n' % (tmp_path / "cfg").as_posix())
    assert run_cli(capsys, "run", "--config", str(cfg), "--k", "3")[0] == 0
    result = json.loads((tmp_path / "cfg" / "metrics.json").read_text())
    assert result["config"]["k"] == 3 and result["config"]["n_init"] == 2
    assert np.load(tmp_path / "cfg" / "centroids.npy").shape[0] == 3


@pytest.mark.parametrize("argv, needle", [
    (["run", "--k", "0"], "--k"),
    (["run", "--k", "three"], "--k"),
    (["run", "--bogus"], "--bogus"),
    (["run", "--preprocess", "whiten"], "--preprocess"),
    (["run", "--dataset", "no/such/place.npy"], "no/such/place.npy"),
    (["run", "--dataset", "digits", "--init", "nope"], "init"),
    (["run", "--config", "missing.toml"], "missing.toml"),
    (["frobnicate"], "frobnicate"),
])
def test_bad_input_is_one_line_and_exit_2(capsys, tmp_path, argv, needle):
    code, _, err = run_cli(capsys, *argv, *(["--out", str(tmp_path / "o")] if argv[0] == "run" else []))
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert needle in lines[0]
    assert "Traceback" not in err


def test_bad_config_files(capsys, tmp_path):
    broken = tmp_path / "broken.toml"
    broken.write_text("k = = 3\n")
    code, _, err = run_cli(capsys, "run", "--config", str(broken))
    assert code == 2 and "broken.toml" in err and len(err.strip().splitlines()) == 1
    unknown = tmp_path / "unknown.toml"
    unknown.write_text('dataset = "digits"\nclusters = 4\n')
    code, _, err = run_cli(capsys, "run", "--config", str(unknown))
    assert code == 2 and "'clusters'" in err


def test_mnist_unavailable_falls_back_to_digits_only_when_asked(capsys, tmp_path, offline):
    out = tmp_path / "run"
    code, _, err = run_cli(capsys, "run", "--dataset", "mnist", "--no-download", "--k", "10", "--quiet",
                           "--fallback", "digits", "--out", str(out))
    assert code == 0
    # Loud and first, even with --quiet: a banner, then the reason; and again after the table.
    lines = err.splitlines()
    assert lines[0] == "!" * 78 and lines[1].startswith("FALLBACK:") and "digits" in lines[1]
    assert "KMEANSLAB_DATA" in lines[1] and lines[2] == "!" * 78
    assert lines[-1] == "FALLBACK: these are the numbers of digits, not of mnist"
    result = json.loads((out / "metrics.json").read_text())
    assert result["dataset"]["name"] == "digits" and result["notes"][0].startswith("FALLBACK")
    assert result["config"]["fallback"] == "digits"
    title = re.search(r"<h1>(.*?)</h1>", (out / "report.html").read_text()).group(1)
    assert title == "kmeanslab run: digits (FALLBACK: not mnist), k = 10"


def test_mnist_subsample_run(capsys, tmp_path, mnist_home):
    out = tmp_path / "run"
    code, _, _ = run_cli(capsys, "run", "--dataset", "mnist", "--data-home", str(mnist_home),
                         "--no-download", "--subsample", "30", "--k", "10", "--out", str(out))
    assert code == 0
    result = json.loads((out / "metrics.json").read_text())
    assert result["dataset"]["n_train"] == 300 and result["dataset"]["n_test"] == 10000
    assert np.bincount(np.load(out / "labels.npy"), minlength=10).sum() == 300
    assert result["metrics"]["test"]["accuracy_hungarian"] > 0.3


def test_console_script_exit_code(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "kmeanslab.cli", "run", "--k", "-4"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_every_run_flag_is_a_config_key():
    from dataclasses import fields

    from kmeanslab.cli import build_parser
    from kmeanslab.experiment import RunConfig

    run_parser = build_parser()._subparsers._group_actions[0].choices["run"]
    dests = {a.dest for a in run_parser._actions} - {"help", "config", "quiet", "force"}
    assert dests == {f.name for f in fields(RunConfig)}


def test_every_flag_written_in_the_file(capsys, tmp_path):
    cfg = tmp_path / "all.toml"
    cfg.write_text(f"""
dataset = "digits"
k = 4
algorithm = "kmeans"
init = "random"
n-init = 2
max-iter = 30
tol = 1e-3
seed = 2
preprocess = "zscore"
embed = "pca:10"
subsample = 20
beta = 2.0
batch-size = 64
data-home = "{(tmp_path / 'data').as_posix()}"
no-download = true
out = "{(tmp_path / 'all').as_posix()}"
quiet = true
""")
    code, stdout, err = run_cli(capsys, "run", "--config", str(cfg), "--seed", "5")
    assert code == 0 and err == ""  # quiet, from the file
    assert "accuracy (Hungarian)" in stdout
    config = json.loads((tmp_path / "all" / "metrics.json").read_text())["config"]
    assert config == {"dataset": "digits", "k": 4, "algorithm": "kmeans", "init": "random", "n_init": 2,
                      "max_iter": 30, "tol": 1e-3, "seed": 5, "preprocess": "zscore", "embed": "pca:10",
                      "subsample": 20, "beta": 2.0, "batch_size": 64,
                      "data_home": (tmp_path / "data").as_posix(), "download": False,
                      "out": (tmp_path / "all").as_posix()}


@pytest.mark.parametrize("stage", ["fit", "write"])
def test_ctrl_c_during_run_writes_nothing(paused_cli, tmp_path, stage):
    """Ctrl-C before the fit or halfway through writing the outputs: exit 130, one line,
    and no run folder at all (the files are written aside and moved in together)."""
    out = tmp_path / "run"
    code, stdout, err = paused_cli(["run", "--dataset", "digits", "--k", "5", "--out", out], stage).interrupt()
    assert code == 130, err
    assert err.strip().splitlines()[-1] == "kmeanslab: interrupted" and "Traceback" not in err
    assert stdout == ""  # no table for a run that did not finish
    assert not out.exists()


def test_rerun_into_an_existing_run_folder_replaces_it_whole(paused_cli, capsys, tmp_path):
    """An interrupted re-run leaves the previous run's files as they were."""
    out = tmp_path / "run"
    code, _, _ = run_cli(capsys, "run", "--dataset", "digits", "--k", "5", "--out", str(out))
    assert code == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    code, _, err = paused_cli(["run", "--dataset", "digits", "--k", "6", "--force", "--out", out],
                              "write").interrupt()
    assert code == 130, err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
