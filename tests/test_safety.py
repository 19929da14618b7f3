"""Safety (issue 7, part 6): no file kmeanslab reads can run code, and nothing it writes
lands outside the output folder it was given.

- every ``np.load`` passes ``allow_pickle=False``; nothing imports pickle or friends;
- a config file is TOML, read as data: no eval / exec anywhere, and hostile-looking
  values end as a one-line error naming the key;
- run and sweep outputs stay inside ``--out`` whatever names the config holds.
"""

import ast
import os
import pathlib
from pathlib import Path

import numpy as np
import pytest

import kmeanslab
from kmeanslab.cli import main
from kmeanslab.experiment import RunConfig, load_toml
from kmeanslab.experiment.sweep import cell_id, cells, sweep_from_dict

SRC = Path(kmeanslab.__file__).resolve().parent
SOURCES = sorted(SRC.rglob("*.py"))


def _trees():
    for path in SOURCES:
        yield path, ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _dotted(node):
    """'np.load' for the expression np.load, None for anything not a plain dotted name."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return ".".join([node.id] + parts[::-1])
    return None


def run_cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_the_source_tree_is_found():
    assert len(SOURCES) > 10 and (SRC / "datasets.py") in SOURCES


# -- pickles ------------------------------------------------------------------------------
NP_LOAD_XFAIL = {}  # files allowed an np.load without allow_pickle=False (none)


def _np_load_calls(tree):
    """(line, passes allow_pickle=False) of each np.load call."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and _dotted(node.func) in ("np.load", "numpy.load"):
            kw = {k.arg: k.value for k in node.keywords}
            out.append((node.lineno, isinstance(kw.get("allow_pickle"), ast.Constant)
                        and kw["allow_pickle"].value is False))
    return out


def test_the_loaders_use_np_load():
    assert any(_np_load_calls(tree) for _, tree in _trees())


@pytest.mark.parametrize("rel", [
    pytest.param(r, marks=pytest.mark.xfail(strict=True, reason=NP_LOAD_XFAIL[r])) if r in NP_LOAD_XFAIL else r
    for r in (p.relative_to(SRC).as_posix() for p in SOURCES)])
def test_every_np_load_refuses_pickles(rel):
    path = SRC / rel
    text = path.read_text(encoding="utf-8")
    calls = _np_load_calls(ast.parse(text))
    assert [line for line, ok in calls if not ok] == [], "np.load without allow_pickle=False"
    # The plain text agrees: no call the AST walk could have missed (np.load spelled in
    # a docstring would show up here too: reword it).
    assert text.count("np.load(") + text.count("numpy.load(") == len(calls)
    assert "allow_pickle=True" not in text


def test_every_np_save_refuses_pickles():
    for path, tree in _trees():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _dotted(node.func) in ("np.save", "numpy.save"):
                kw = {k.arg: k.value for k in node.keywords}
                assert isinstance(kw.get("allow_pickle"), ast.Constant) and kw["allow_pickle"].value is False, \
                    f"{path.name}:{node.lineno}"


UNSAFE_MODULES = {"pickle", "cPickle", "_pickle", "dill", "cloudpickle", "joblib", "shelve", "marshal",
                  "yaml"}


def test_no_pickle_like_module_is_imported():
    found = []
    for path, tree in _trees():
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            found += [(path.name, node.lineno, n) for n in names if n.split(".")[0] in UNSAFE_MODULES]
    assert found == []


def test_no_eval_or_exec_in_the_source():
    found = []
    for path, tree in _trees():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _dotted(node.func) in (
                    "eval", "exec", "compile", "__import__", "builtins.eval", "builtins.exec",
                    "os.system", "os.popen"):
                found.append((path.name, node.lineno, _dotted(node.func)))
            if isinstance(node, ast.Call) and _dotted(node.func) in ("subprocess.run", "subprocess.Popen",
                                                                      "subprocess.call", "subprocess.check_output"):
                shell = [k for k in node.keywords if k.arg == "shell"]
                if shell and not (isinstance(shell[0].value, ast.Constant) and shell[0].value.value is False):
                    found.append((path.name, node.lineno, "shell=True"))
    assert found == []


class _Payload:
    """Unpickling this touches a marker file: proof that code ran."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return pathlib.Path.touch, (pathlib.Path(self.marker),)


@pytest.mark.parametrize("suffix", [".npy", ".npz"])
def test_pickled_arrays_are_refused_and_never_run(capsys, tmp_path, suffix):
    from kmeanslab.data import load_array, load_dataset

    marker = tmp_path / "PWNED"
    evil = np.array([[_Payload(marker), 1.0]], dtype=object)
    path = tmp_path / f"evil{suffix}"
    if suffix == ".npy":
        np.save(path, evil, allow_pickle=True)
    else:
        np.savez(path, X=evil)
    for load in (load_array, load_dataset):
        with pytest.raises(ValueError, match="pickle"):
            load(path)
    code, _, err = run_cli(capsys, "run", "--dataset", path, "--out", tmp_path / "out")
    assert code == 2 and "pickle" in err and len(err.strip().splitlines()) == 1
    assert not marker.exists()


# -- configs are data ---------------------------------------------------------------------
HOSTILE = "__import__('pathlib').Path('{marker}').touch()"


@pytest.mark.parametrize("key, value, needle", [
    ("dataset", HOSTILE, "unknown data set"),
    ("init", HOSTILE, "init"),
    ("algorithm", HOSTILE, "algorithm"),
    ("preprocess", HOSTILE, "preprocess"),
    ("embed", HOSTILE, "embed"),
    ("k", HOSTILE, "k must be an integer"),
    ("beta", HOSTILE, "beta"),
])
def test_hostile_config_values_are_data(capsys, tmp_path, key, value, needle):
    marker = tmp_path / "PWNED"
    value = value.format(marker=marker.as_posix())
    cfg = tmp_path / "exp.toml"
    cfg.write_text(f"{key} = {value!r}\nout = {str(tmp_path / 'out')!r}\n")
    assert load_toml(cfg)[key] == value  # a plain string
    code, _, err = run_cli(capsys, "run", "--config", cfg)
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and needle in err and "Traceback" not in err
    assert not marker.exists()
    # The same value in a sweep table, and as a RunConfig key.
    sweep = tmp_path / "sweep.toml"
    sweep.write_text(f'dataset = "digits"\nout = {str(tmp_path / "sw")!r}\n[sweep]\n{key} = [{value!r}]\n')
    code, _, err = run_cli(capsys, "sweep", "--config", sweep)
    assert code == 2 and len(err.strip().splitlines()) == 1 and not marker.exists()
    try:  # as a RunConfig: refused, or kept as the string it is
        assert getattr(RunConfig.from_dict({key: value}), key) == value
    except ValueError as exc:
        assert key in str(exc)
    assert not marker.exists()


def test_hostile_config_keys_are_data(capsys, tmp_path):
    marker = tmp_path / "PWNED"
    cfg = tmp_path / "exp.toml"
    cfg.write_text(f'"__class__" = 1\n"{HOSTILE.format(marker=marker.as_posix())}" = 2\n'
                   'dataset = "digits"\n')
    code, _, err = run_cli(capsys, "run", "--config", cfg)
    assert code == 2 and "unknown key" in err and len(err.strip().splitlines()) == 1
    assert not marker.exists()


@pytest.mark.parametrize("text", [
    "import pathlib\npathlib.Path('{marker}').touch()\n",  # a Python file passed as config
    "k = {{'a': __import__('os')}}\n",
    "#!/bin/sh\ntouch {marker}\n",
])
def test_config_that_is_not_toml_is_an_error_not_code(capsys, tmp_path, text):
    marker = tmp_path / "PWNED"
    cfg = tmp_path / "exp.toml"
    cfg.write_text(text.format(marker=marker.as_posix()))
    for command in ("run", "sweep", "choose-k"):
        code, _, err = run_cli(capsys, command, "--config", cfg, "--out", tmp_path / "out")
        assert code == 2 and "not valid TOML" in err and len(err.strip().splitlines()) == 1, err
    assert not marker.exists()


# -- outputs stay inside --out --------------------------------------------------------------
def _files(root):
    return {p for p in Path(root).rglob("*") if p.is_file()}


def test_cell_files_stay_in_the_cells_folder_whatever_the_values(tmp_path):
    out = tmp_path / "out"
    config = RunConfig(dataset="digits", out=str(out))
    for value in ("../../etc/passwd", "/abs/path", "..", ".", "~root", "C:\\win", "a\x00b", "x" * 500,
                  "é/../ü", "\n", ""):
        params = {"init": value, "embed": value, "k": 3}
        cid = cell_id(params, ["init", "embed", "k"], config)
        target = (out / "cells" / f"{cid}.json").resolve()
        assert target.parent == (out / "cells").resolve(), (value, cid)
        assert os.sep not in cid and "/" not in cid and "\x00" not in cid and not cid.startswith(".")
        assert len(cid) < 120


def test_run_and_sweep_write_only_inside_out(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a stray relative path would land here
    work = tmp_path / "work"
    work.mkdir()
    cfg = work / "sweep.toml"
    out = work / "results" / "sw"
    cfg.write_text(f'dataset = "digits"\nn-init = 1\nmax-iter = 20\nout = {str(out)!r}\n'
                   '[sweep]\nk = [2, 3]\nembed = ["none", "pca:3"]\ninit = ["random"]\n')
    before = _files(tmp_path)
    code, _, err = run_cli(capsys, "sweep", "--config", cfg, "--quiet")
    assert code == 0, err
    new = _files(tmp_path) - before
    assert new and all(out in p.parents for p in new), sorted(map(str, new - {p for p in new if out in p.parents}))
    cell_files = [p for p in new if p.parent == out / "cells"]
    assert len(cell_files) == len(cells(sweep_from_dict({"dataset": "digits"},
                                                        {"k": [2, 3], "embed": ["none", "pca:3"]})))
    # A run, with --out given relative to the working directory.
    before = _files(tmp_path)
    code, _, err = run_cli(capsys, "run", "--dataset", "digits", "--k", "3", "--max-iter", "20",
                           "--out", "rel/run", "--quiet")
    assert code == 0, err
    new = _files(tmp_path) - before
    assert new and all((tmp_path / "rel" / "run") in p.parents for p in new)
    assert not [p for p in new if p.name.endswith(".tmp")]  # no temporary left behind
