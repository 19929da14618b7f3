import csv
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from kmeanslab import metrics
from kmeanslab.experiment.choosek import knee
from kmeanslab.cli import main
from kmeanslab.experiment import RunConfig, run
from kmeanslab.experiment.sweep import cell_id, cells, parse_values, sanitize, sweep_from_dict

# A small, quick grid on scikit-learn's digits: 5 values of k x 2 seeds = 10 cells.
GRID = ["--dataset", "digits", "--k", "2:6", "--seeds", "0:1", "--n-init", "1", "--max-iter", "50"]


def run_cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def read_csv(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The GRID sweep run once, uninterrupted, on one process."""
    out = tmp_path_factory.mktemp("sweep") / "ref"
    assert main(["sweep", *GRID, "--out", str(out), "--quiet"]) == 0
    return out


# -- grid parsing -------------------------------------------------------------------------

@pytest.mark.parametrize("text, axis, expected", [
    ("2:5", "k", [2, 3, 4, 5]),
    ("2:9:3", "k", [2, 5, 8]),
    ("5,10,20", "k", [5, 10, 20]),
    ("0:2,7", "seed", [0, 1, 2, 7]),
    ("0.1,1,10", "beta", [0.1, 1.0, 10.0]),
    ([3, 3, 4], "k", [3, 4]),
    ("euclidean,cosine", "metric", ["euclidean", "cosine"]),
    (7, "k", [7]),
])
def test_parse_values(text, axis, expected):
    assert parse_values(text, axis) == expected


@pytest.mark.parametrize("text, axis", [("a:b", "k"), ("5:2", "k"), ("2.5", "k"), ("x", "beta"),
                                        ("hamming", "metric"), ("", "k")])
def test_parse_values_errors_name_the_axis(text, axis):
    with pytest.raises(ValueError, match=axis):
        parse_values(text, axis)


def test_sweep_table_errors_name_the_key():
    with pytest.raises(ValueError, match="'clusters'"):
        sweep_from_dict({"dataset": "digits"}, {"clusters": [2, 3]})
    with pytest.raises(ValueError, match="metric or algorithm"):
        sweep_from_dict({"dataset": "digits"}, {"metric": "euclidean", "algorithm": "kmeans"})
    with pytest.raises(ValueError, match="init"):  # every cell's settings are checked up front
        sweep_from_dict({"dataset": "digits"}, {"init": "k-means++,nope"})


def test_cell_ids_are_safe_file_names_and_track_the_config():
    for nasty in ("../../etc/passwd", "/abs/path", "a b\\c:d*?", "..", ".hidden", "x" * 500):
        name = sanitize(nasty)
        assert "/" not in name and "\\" not in name and not name.startswith(".")
        assert 0 < len(name) <= 40
    base = RunConfig(dataset="digits")
    a = cell_id({"k": 3}, ["k"], base)
    assert a.startswith("k=3-")
    assert cell_id({"k": 3}, ["k"], RunConfig(dataset="digits", max_iter=7)) != a
    assert cell_id({"k": 3}, ["k"], RunConfig(dataset="digits", out="elsewhere")) == a
    spec = sweep_from_dict({"dataset": "digits"}, {"k": "2:4", "seeds": [0, 1]})
    ids = [cid for cid, _, _ in cells(spec)]
    assert len(ids) == len(set(ids)) == 6


def test_knee_is_the_point_farthest_from_the_chord():
    assert knee([1, 2, 3, 4, 5, 6, 7], [100, 50, 20, 18, 16, 14, 12]) == 3
    assert knee([1, 2, 3, 4], [10, 9, 2, 1]) == 3
    assert knee([1, 2], [5, 1]) is None  # no bend to find
    assert knee([1, 2, 3], [3, 2, 1]) is None  # a straight line has no knee


# -- running ------------------------------------------------------------------------------

def test_sweep_outputs_and_numbers(reference, capsys):
    rows = read_csv(reference / "sweep.csv")
    assert len(rows) == 10
    assert [(int(r["k"]), int(r["seed"])) for r in rows] == [(k, s) for k in range(2, 7) for s in (0, 1)]
    for name in ("sweep.md", "sweep.json", "report.html", "elbow.png", "k_purity.png", "k_gini.png",
                 "k_accuracy_hungarian.png", "k_nmi.png", "k_ari.png"):
        assert (reference / name).is_file(), name
    cell_files = sorted((reference / "cells").glob("*.json"))
    assert len(cell_files) == 10
    # Every csv number is the cell's number, exactly, and a cell is exactly `kmeanslab run`.
    row = rows[5]
    cell = json.loads((reference / "cells" / f"{row['cell']}.json").read_text())
    for split in ("train", "test"):
        for key in ("sse", "purity", "gini", "accuracy_hungarian", "nmi", "ari"):
            assert float(row[f"{split}_{key}"]) == cell["metrics"][split][key]
    cfg = dict(cell["config"], out=str(reference.parent / "single"))
    result = run(RunConfig.from_dict(cfg))
    assert result["metrics"] == cell["metrics"]
    labels = np.load(reference.parent / "single" / "labels.npy")
    from kmeanslab.data import load_dataset

    assert float(row["train_purity"]) == metrics.purity(load_dataset("digits").y_train, labels,
                                                         n_clusters=int(row["k"]))
    md = (reference / "sweep.md").read_text()
    # Per split: a heading, a blank line, header, rule and one row per k.
    assert md.count("\n") == 2 * (2 + 2 + 5) + 1 and "±" in md and "### test" in md


def test_rerun_skips_finished_cells(reference, capsys, tmp_path):
    out = tmp_path / "copy"
    import shutil

    shutil.copytree(reference, out)
    stamps = {p.name: p.stat().st_mtime_ns for p in (out / "cells").glob("*.json")}
    (out / "sweep.csv").unlink()
    code, _, err = run_cli(capsys, "sweep", *GRID, "--out", out)
    assert code == 0
    assert "resuming: 10 of 10 cells already done" in err
    assert {p.name: p.stat().st_mtime_ns for p in (out / "cells").glob("*.json")} == stamps
    assert (out / "sweep.csv").read_text() == (reference / "sweep.csv").read_text()


def test_parallel_jobs_give_the_same_table(reference, capsys, tmp_path):
    out = tmp_path / "par"
    code, stdout, err = run_cli(capsys, "sweep", *GRID, "--jobs", "2", "--out", out)
    assert code == 0, err
    assert "10/10" in err
    assert (out / "sweep.csv").read_text() == (reference / "sweep.csv").read_text()
    assert (out / "sweep.md").read_text() == stdout


@pytest.mark.parametrize("jobs", [1, 2])
def test_interrupted_sweep_resumes_to_the_same_table(reference, paused_cli, capsys, tmp_path, jobs):
    """Ctrl-C right after the second cell is saved (the process waits there, so the moment
    is not a guess): exit 130, exactly those cells kept, no workers left, and the same
    command resumes to the uninterrupted sweep's table."""
    out = tmp_path / "int"
    cli = paused_cli(["sweep", *GRID, "--jobs", jobs, "--out", out], "cell-saved:2")
    code, _, err = cli.interrupt()
    assert code == 130, err
    last = err.strip().splitlines()[-1]
    assert last.startswith("kmeanslab: interrupted: 2 of 10 cells done") and "resume" in last, err
    assert "Traceback" not in err
    assert len(list((out / "cells").glob("*.json"))) == 2
    assert not [p for p in (out / "cells").iterdir() if p.name.startswith(".")]  # no half files
    assert sorted(p.name for p in out.iterdir()) == ["cells"]  # no summary, nothing staged
    code, _, err = run_cli(capsys, "sweep", *GRID, "--jobs", jobs, "--out", out)
    assert code == 0 and "resuming: 2 of 10" in err
    assert (out / "sweep.csv").read_text() == (reference / "sweep.csv").read_text()


def test_interrupt_while_writing_the_summary_writes_none_of_it(reference, paused_cli, capsys, tmp_path):
    out = tmp_path / "int"
    code, _, err = paused_cli(["sweep", *GRID, "--out", out], "summary").interrupt()
    assert code == 130 and "all 10 cells are saved" in err and "Traceback" not in err, err
    assert sorted(p.name for p in out.iterdir()) == ["cells"]  # sweep.csv, sweep.md: not moved in
    code, _, err = run_cli(capsys, "sweep", *GRID, "--out", out)
    assert code == 0 and "resuming: 10 of 10" in err
    assert (out / "sweep.csv").read_text() == (reference / "sweep.csv").read_text()


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_ctrl_c_swallowed_by_a_weakref_callback_still_stops_the_sweep(monkeypatch, tmp_path):
    """The flake behind issue 13: SIGINT handled while a weakref callback runs (the garbage
    collector calls them anywhere, e.g. inside matplotlib) raises KeyboardInterrupt there,
    and Python reports it as "Exception ignored" and goes on. The guard remembers the
    signal: the sweep stops after that cell, which is not saved."""
    import weakref

    from kmeanslab.experiment import sweep

    real = sweep.run_cell
    calls = []

    class Thing:
        pass

    def cell_with_a_collected_object(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            thing = Thing()
            ref = weakref.ref(thing, lambda _: (os.kill(os.getpid(), signal.SIGINT), time.sleep(2)))
            del thing  # the callback runs now; the KeyboardInterrupt raised in it is dropped
            assert ref() is None
        return real(*args, **kwargs)

    monkeypatch.setattr(sweep, "run_cell", cell_with_a_collected_object)
    spec = sweep_from_dict({"dataset": "digits", "n_init": 1}, {"k": "2:4"})
    with pytest.raises(sweep.SweepInterrupted) as info:
        sweep.run_sweep(spec, tmp_path / "o")
    assert (info.value.done, info.value.total, len(calls)) == (1, 3, 2)
    assert len(list((tmp_path / "o" / "cells").glob("*.json"))) == 1
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handler given back


def test_choose_k_picks_and_json(capsys, tmp_path):
    out = tmp_path / "ck"
    code, stdout, _ = run_cli(capsys, "choose-k", "--dataset", "iris", "--k", "1:6", "--preprocess", "zscore",
                              "--json", "--out", out)
    assert code == 0
    answers = json.loads(stdout)
    assert answers == json.loads((out / "choose_k.json").read_text())
    (group,) = answers
    assert set(group["picks"]) == {"elbow", "silhouette", "calinski_harabasz", "davies_bouldin"}
    assert all(2 <= k <= 6 for k in group["picks"].values())
    rows = {r["k"]: r for r in group["rows"]}
    assert rows[1]["silhouette"] is None and rows[2]["silhouette"] is not None
    # Each criterion's pick is its best k, as the table shows it.
    assert group["picks"]["silhouette"] == max(range(2, 7), key=lambda k: rows[k]["silhouette"])
    assert group["picks"]["davies_bouldin"] == min(range(2, 7), key=lambda k: rows[k]["davies_bouldin"])
    assert group["picks"]["elbow"] == knee(list(rows), [rows[k]["sse"] for k in rows])
    csv_rows = read_csv(out / "sweep.csv")
    assert {"silhouette", "calinski_harabasz", "davies_bouldin"} <= set(csv_rows[0])
    for name in ("choose_silhouette.png", "choose_calinski_harabasz.png", "choose_davies_bouldin.png"):
        assert (out / name).is_file()


def test_sweep_table_in_toml_and_flag_override(capsys, tmp_path):
    cfg = tmp_path / "sweep.toml"
    cfg.write_text('dataset = "digits"\nn-init = 1\nk = 99\n[sweep]\nk = "2:4"\nseeds = [0, 1]\nbeta = [0.5, 2]\n')
    out = tmp_path / "s"
    code, _, err = run_cli(capsys, "sweep", "--config", cfg, "--seeds", "3", "--out", out)
    assert code == 0, err
    rows = read_csv(out / "sweep.csv")
    assert sorted({int(r["k"]) for r in rows}) == [2, 3, 4]
    assert {r["seed"] for r in rows} == {"3"} and {r["beta"] for r in rows} == {"0.5", "2.0"}
    assert (out / "beta_nmi.png").is_file()  # the beta curve, as beta varies
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s", "sweep.toml"]  # nothing outside --out


@pytest.mark.parametrize("text, needle", [
    ('dataset = "digits"\n[sweep]\nclusters = [2]\n', "'clusters'"),
    ('dataset = "digits"\n[grid]\nk = [2]\n', "[grid]"),
    ('dataset = "digits"\n[sweep]\nk = "2:x"\n', "k"),
])
def test_bad_sweep_configs_are_one_line(capsys, tmp_path, text, needle):
    cfg = tmp_path / "bad.toml"
    cfg.write_text(text)
    code, _, err = run_cli(capsys, "sweep", "--config", cfg, "--out", tmp_path / "o")
    assert code == 2 and needle in err and len(err.strip().splitlines()) == 1


def test_data_are_loaded_once_and_prepared_once_per_preprocessing(monkeypatch, tmp_path):
    import kmeanslab.experiment.runner as experiment
    from kmeanslab.experiment import sweep

    calls = {"load_raw": 0, "prepare": []}
    real_load, real_prepare = experiment.load_raw, experiment.prepare

    def load_raw(config, progress=None):
        calls["load_raw"] += 1
        return real_load(config, progress)

    def prepare(config, ds):
        calls["prepare"].append(config.preprocess)
        return real_prepare(config, ds)

    monkeypatch.setattr(experiment, "load_raw", load_raw)
    monkeypatch.setattr(experiment, "prepare", prepare)
    monkeypatch.setattr(sweep, "_CACHE", {"raw": {}, "prepared": {}})
    spec = sweep_from_dict({"dataset": "digits", "n_init": 1, "max_iter": 20},
                           {"preprocess": ["none", "scale"], "k": "2:4", "seeds": [0, 1]})
    records = sweep.run_sweep(spec, tmp_path / "o")
    assert len(records) == 12 and [p["preprocess"] for _, p, _ in records][:6] == ["none"] * 6
    assert calls["load_raw"] == 1
    assert sorted(calls["prepare"]) == ["none", "scale"]


def test_ctrl_c_inside_compiled_code_is_an_interrupt(monkeypatch, tmp_path, capsys):
    """Ctrl-C that lands while numba loads or runs a kernel comes out as a SystemError
    caused by the KeyboardInterrupt: the sweep still stops as interrupted (exit 130, cells
    kept), and other SystemErrors are not taken for one."""
    from kmeanslab.experiment import sweep
    from kmeanslab._io import interrupted

    def ctrl_c_in_numba(*args, **kwargs):
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as exc:
            raise SystemError("returned a result with an exception set") from exc

    assert interrupted(KeyboardInterrupt()) and not interrupted(SystemError("other"))
    monkeypatch.setattr(sweep, "run_cell", ctrl_c_in_numba)
    spec = sweep_from_dict({"dataset": "digits", "n_init": 1}, {"k": "2:3"})
    with pytest.raises(sweep.SweepInterrupted):
        sweep.run_sweep(spec, tmp_path / "o")
    code = main(["sweep", "--dataset", "digits", "--k", "2:3", "--out", str(tmp_path / "cli"), "--quiet"])
    assert code == 130 and "interrupted" in capsys.readouterr().err

    def other(*args, **kwargs):
        raise SystemError("a real bug")

    monkeypatch.setattr(sweep, "run_cell", other)
    with pytest.raises(SystemError, match="a real bug"):
        sweep.run_sweep(spec, tmp_path / "o2")
