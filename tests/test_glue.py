"""Glue: sweep cell ids, every number of the HTML reports, the CLI's exit codes, and the
z-score scaler fitted in batches."""

import dataclasses
import html.parser
import json
import re
import subprocess
import sys

import numpy as np
import pytest
from sklearn.preprocessing import StandardScaler

from kmeanslab.cli import main
from kmeanslab.experiment import RunConfig, run
from kmeanslab.preprocessing import ZScoreScaler
from kmeanslab.experiment.sweep import cell_id

# -- cell ids -----------------------------------------------------------------------------

WHERE_ONLY = {"out", "data_home", "download"}  # where results go or come from: same results


def other_value(name, value):
    """A different value of the same kind for a RunConfig field (any new field included)."""
    special = {"algorithm": "soft", "init": "random", "preprocess": "zscore", "embed": "pca:5",
               "n_init": 3, "subsample": 7, "batch_size": 64, "dask_workers": 2,
               "scheduler": "tcp://127.0.0.1:8786", "dataset": "iris", "data_home": "/elsewhere",
               "out": "runs/elsewhere"}
    if name in special:
        return special[name]
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value * 2 + 1
    return f"{value}-changed"


def test_every_setting_but_where_changes_the_cell_id():
    base = RunConfig(dataset="digits")
    ids = {cell_id({}, [], base)}
    for f in dataclasses.fields(RunConfig):
        changed = dataclasses.replace(base, **{f.name: other_value(f.name, getattr(base, f.name))})
        assert getattr(changed, f.name) != getattr(base, f.name)
        cid = cell_id({}, [], changed)
        if f.name in WHERE_ONLY:
            assert cid == cell_id({}, [], base), f.name
        else:
            assert cid not in ids, f"{f.name} does not change the cell id"
            ids.add(cid)
    # A varying axis is in the readable part too; the hash still covers the whole config.
    seeded = dataclasses.replace(base, seed=1)
    assert cell_id({"k": 3}, ["k"], base) != cell_id({"k": 3}, ["k"], seeded)


# -- the reports --------------------------------------------------------------------------

class Tables(html.parser.HTMLParser):
    """Every table as rows of (tag, attrs, text) cells; with the page's h1 and sub-titles."""

    def __init__(self):
        super().__init__()
        self.tables, self.texts = [], {"h1": [], "p": []}
        self._cell = self._text = None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append({"class": dict(attrs).get("class", ""), "rows": []})
        elif tag == "tr":
            self.tables[-1]["rows"].append([])
        elif tag in ("td", "th"):
            self._cell = [tag, dict(attrs), ""]
        elif tag in self.texts:
            self._text = [tag, ""]

    def handle_data(self, data):
        if self._cell is not None:
            self._cell[2] += data
        elif self._text is not None:
            self._text[1] += data

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1]["rows"][-1].append(tuple(self._cell))
            self._cell = None
        elif self._text is not None and tag == self._text[0]:
            self.texts[tag].append(self._text[1])
            self._text = None

    def table(self, cls, index=0):
        return [t["rows"] for t in self.tables if t["class"] == cls][index]


def parse(path):
    p = Tables()
    p.feed(path.read_text(encoding="utf-8"))
    return p


def assert_shows(text, value):
    """``text`` is ``value`` rounded to what it displays (at least 4 decimals or 5 digits)."""
    shown = float(text)
    mantissa, _, exponent = text.lower().partition("e")
    decimals = len(mantissa.partition(".")[2])
    unit = 10.0 ** (int(exponent or 0) - decimals)
    assert unit <= max(1e-4, 1e-5 * abs(value)), (text, value)
    assert abs(shown - value) <= unit / 2 * (1 + 1e-9), (text, value)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("glue") / "run"
    run(RunConfig(dataset="digits", k=5, n_init=1, seed=2, max_iter=20, out=str(out)))
    return out


def test_every_number_in_the_run_report_is_metrics_json(run_dir):
    result = json.loads((run_dir / "metrics.json").read_text())
    page = parse(run_dir / "report.html")
    cfg, ds = result["config"], result["dataset"]
    assert page.texts["h1"][0] == f"kmeanslab run: {ds['name']}, k = {cfg['k']}"
    sub = page.texts["p"][0]
    assert [int(v) for v in re.findall(r"(\d+) (?:train rows|test rows|features)", sub)] == \
        [ds["n_train"], ds["n_test"], ds["n_features"]]

    rows = page.table("metrics")
    splits = [text for _, _, text in rows[0][1:]]
    assert splits == list(result["metrics"])
    shown = {}
    for row in rows[1:]:
        for _, attrs, text in row[1:]:
            shown[(attrs["data-split"], attrs["data-key"])] = (attrs["data-value"], text)
    # Every metric of metrics.json has its cell; the row counts are in the sub-title. k-means's
    # objective is the SSE: one row shows it (the estimator's inertia agrees with it).
    want = {(s, key) for s in splits for key in result["metrics"][s] if key not in ("n_samples", "objective")}
    assert set(shown) == want and len(want) == 2 * 8
    for s in splits:
        m = result["metrics"][s]
        assert m["objective"] == pytest.approx(m["sse"], rel=1e-5)
    assert [result["metrics"][s]["n_samples"] for s in splits] == [ds["n_train"], ds["n_test"]]
    for (split, key), (exact, text) in shown.items():
        value = result["metrics"][split][key]
        assert float(exact) == value, (split, key)
        assert_shows(text, value)

    clusters = result["clusters"]
    rows = page.table("clusters")
    assert [text for _, _, text in rows[0]] == ["cluster", "majority class", "size", "purity", "Gini"]
    assert len(rows) - 1 == len(clusters["size"]) == cfg["k"]
    for c, row in enumerate(rows[1:]):
        texts = [text for _, _, text in row]
        assert texts[:3] == [str(c), str(clusters["majority"][c]), str(clusters["size"][c])]
        for (_, attrs, text), key in zip(row[3:], ("purity", "gini")):
            assert attrs["data-key"] == key and float(attrs["data-value"]) == clusters[key][c]
            assert_shows(text, clusters[key][c])

    for rows, mapping in ((page.table("config", 0), cfg),
                          (page.table("config", 1), {k: round(v, 3) for k, v in result["timings"].items()})):
        assert {th: json.loads(td) for (_, _, th), (_, _, td) in rows} == mapping


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("glue") / "sweep"
    assert main(["sweep", "--dataset", "digits", "--k", "2:3", "--seeds", "0:2", "--n-init", "1",
                 "--max-iter", "20", "--choose-k", "--silhouette-sample", "200", "--out", str(out),
                 "--quiet"]) == 0
    return out


MD_COLUMNS = {"SSE": "sse", "purity": "purity", "Gini": "gini", "acc (majority)": "accuracy_majority",
              "acc (Hungarian)": "accuracy_hungarian", "NMI": "nmi", "ARI": "ari"}


def check_sweep_row(row, cells, split):
    texts = [text for _, _, text in row]
    group = [c for c in cells if c["params"]["k"] == int(texts[0])]
    assert int(texts[1]) == len(group) == 3
    for label, text in zip(MD_COLUMNS, texts[2:]):
        values = [c["metrics"][split][MD_COLUMNS[label]] for c in group]
        mean, sd = (part.strip() for part in text.split("±"))
        assert_shows(mean, float(np.mean(values)))
        assert abs(float(sd) - float(np.std(values))) <= 5e-3 * float(np.std(values)) + 5e-5


def test_every_number_in_the_sweep_report_is_the_cells(sweep_dir, capsys):
    cells = [json.loads(f.read_text()) for f in sorted((sweep_dir / "cells").glob("*.json"))]
    summary = json.loads((sweep_dir / "sweep.json").read_text())
    page = parse(sweep_dir / "report.html")
    assert page.texts["h1"][0] == f"kmeanslab sweep: digits, {len(cells)} cells"
    assert page.texts["p"][0].startswith("grid: k ∈ {2, 3}, seed ∈ {0, 1, 2}; every cell: preprocess scale, ")

    for split in ("train", "test"):
        rows = page.table(f"sweep sweep-{split}")
        header = [text for _, _, text in rows[0]]
        assert header == ["k", "seeds"] + list(MD_COLUMNS)
        assert len(rows) - 1 == 2
        for row in rows[1:]:
            check_sweep_row(row, cells, split)


    answers = summary["choose_k"][0]["rows"]
    rows = page.table("choosek")
    assert [int(row[0][2]) for row in rows[1:]] == [r["k"] for r in answers] == [2, 3]
    for row, want in zip(rows[1:], answers):
        for _, attrs, text in row[1:]:
            value = want[attrs["data-key"]]
            assert int(attrs["data-split"]) == want["k"] and float(attrs["data-value"]) == value
            assert_shows(text, value)
        group = [c for c in cells if c["params"]["k"] == want["k"]]
        assert want["sse"] == pytest.approx(np.mean([c["metrics"]["train"]["sse"] for c in group]), rel=1e-12)
    base = {th: json.loads(td) for (_, _, th), (_, _, td) in page.table("config")}
    # The base config with each axis's value(s): what the cells ran.
    assert base == dict(summary["base"], **{a: v[0] if len(v) == 1 else v for a, v in summary["axes"].items()})


# -- CLI exit paths (interrupts: see test_cli / test_sweep) -------------------------------

def run_cli(capsys, argv):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_no_subcommand_is_usage_on_stderr_and_exit_2(capsys):
    code, out, err = run_cli(capsys, [])
    assert code == 2 and out == ""
    assert err.startswith("usage: kmeanslab") and "run" in err and "sweep" in err


def test_help_exits_0_on_stdout(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    out, err = capsys.readouterr()
    assert exc.value.code == 0 and out.startswith("usage: kmeanslab") and err == ""


@pytest.mark.parametrize("argv, needle", [
    (["--bogus"], "--bogus"),
    (["sweep", "--bogus"], "--bogus"),
    (["choose-k", "--k", "2:3", "--jobs", "0"], "--jobs"),
    (["run", "--tol", "small"], "--tol"),
    (["run", "--n-init", "-1"], "--n-init"),
    (["sweep", "--dataset", "digits", "--k", "9:2"], "9:2"),
    (["sweep", "--dataset", "digits", "--metric", "hamming"], "hamming"),
    (["run", "--dataset", "digits", "--embed", "tsne:2"], "tsne"),
    (["sweep", "--dataset", "missing-file.npz"], "missing-file.npz"),
    (["choose-k", "--config", "missing.toml"], "missing.toml"),
])
def test_errors_are_one_line_exit_2_no_traceback(capsys, tmp_path, argv, needle):
    code, out, err = run_cli(capsys, argv + (["--out", str(tmp_path / "o")] if len(argv) > 1 else []))
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0] and lines[0].startswith("kmeanslab"), err
    assert "Traceback" not in err


def test_debug_env_shows_the_traceback(capsys, monkeypatch):
    monkeypatch.setenv("KMEANSLAB_DEBUG", "1")
    with pytest.raises(FileNotFoundError):
        main(["run", "--config", "missing.toml"])


def test_exit_codes_of_the_real_process(tmp_path):
    """The exit status a shell sees: 2 for usage and for errors, one line, no traceback."""
    for argv in ([], ["run", "--k", "0"]):
        proc = subprocess.run([sys.executable, "-m", "kmeanslab.cli", *argv], capture_output=True,
                              text=True, cwd=tmp_path, timeout=120)
        assert proc.returncode == 2 and proc.stdout == "", proc.stderr
        assert "Traceback" not in proc.stderr and proc.stderr.startswith(("usage:", "kmeanslab"))


# -- z-score in batches -------------------------------------------------------------------

# scikit-learn's weighted partial_fit leaves that variance slightly negative (and warns).
@pytest.mark.filterwarnings("ignore:invalid value encountered in sqrt:RuntimeWarning")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("weighted", [False, True])
def test_zscore_partial_fit_maps_constant_columns_to_zero(dtype, weighted):
    """Fitted batch by batch (and with weights), a constant column's variance is a
    rounding residue, not 0: it must still map new data to exactly 0."""
    rng = np.random.RandomState(0)
    X = rng.normal(size=(997, 4)).astype(dtype)
    X[:, 2] = dtype(0.1)  # inexact in binary
    w = rng.uniform(0.1, 3, len(X)) if weighted else None
    z, plain = ZScoreScaler(), StandardScaler()
    for batch in np.array_split(np.arange(len(X)), 7):
        kw = {"sample_weight": w[batch]} if weighted else {}
        z.partial_fit(X[batch], **kw)
        plain.partial_fit(X[batch], **kw)
    assert plain.var_[2] != 0  # the residue the guard exists for
    new = rng.normal(size=(5, 4)).astype(dtype)
    Xt = z.transform(new)
    assert Xt.dtype == dtype
    np.testing.assert_array_equal(Xt[:, 2], 0)
    np.testing.assert_allclose(Xt[:, [0, 1, 3]], plain.transform(new)[:, [0, 1, 3]], rtol=1e-6)
    once = ZScoreScaler().fit(X, sample_weight=w)
    np.testing.assert_array_equal(once.transform(new)[:, 2], 0)
