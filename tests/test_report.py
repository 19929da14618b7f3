import base64
import html
import html.parser
import json
import os
import re
import shutil
import subprocess

import numpy as np
import pytest

from kmeanslab import metrics
from kmeanslab.data import load_dataset
from kmeanslab.experiment import RunConfig, run
from kmeanslab.experiment.report import page

PNG = b"\x89PNG\r\n\x1a\n"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


class _Collect(html.parser.HTMLParser):
    """Every tag's attributes, and the text of each metric cell."""

    def __init__(self):
        super().__init__()
        self.tags, self.cells, self._cell = [], [], None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        if tag == "td" and "data-value" in attrs:
            self._cell = [attrs, ""]

    def handle_data(self, data):
        if self._cell is not None:
            self._cell[1] += data

    def handle_endtag(self, tag):
        if tag == "td" and self._cell is not None:
            self.cells.append(tuple(self._cell))
            self._cell = None


def parse(path):
    p = _Collect()
    p.feed(path.read_text(encoding="utf-8"))
    return p


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "run"
    run(RunConfig(dataset="digits", k=6, n_init=1, seed=1, out=str(out)))
    return out


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory):
    from kmeanslab.cli import main

    out = tmp_path_factory.mktemp("report") / "sweep"
    assert main(["sweep", "--dataset", "digits", "--k", "2:4", "--seeds", "0:1", "--n-init", "1",
                 "--choose-k", "--out", str(out), "--quiet"]) == 0
    return out


@pytest.mark.parametrize("which", ["run_dir", "sweep_dir"])
def test_report_is_self_contained(request, which):
    folder = request.getfixturevalue(which)
    text = (folder / "report.html").read_text(encoding="utf-8")
    parsed = parse(folder / "report.html")
    images = [a for t, a in parsed.tags if t == "img"]
    assert len(images) >= (6 if which == "run_dir" else 9)
    for attrs in images:
        assert attrs["src"].startswith("data:image/png;base64,")
        assert base64.b64decode(attrs["src"].split(",", 1)[1]).startswith(PNG)
    # Nothing to fetch: no link, no external script or style, no URL outside the data URIs.
    assert not [t for t, a in parsed.tags if t in ("link", "iframe", "object", "embed")]
    assert not [a for t, a in parsed.tags if t == "script" and "src" in a]
    stripped = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", text)
    assert not re.search(r"https?:|//[a-z]|url\(", stripped, re.I)
    assert "data-report-check" in text


def test_run_report_numbers_are_the_metrics(run_dir):
    result = json.loads((run_dir / "metrics.json").read_text())
    cells = parse(run_dir / "report.html").cells
    table = {(a["data-key"], a["data-split"]): (a["data-value"], shown) for a, shown in cells
             if a["data-split"] in ("train", "test")}
    assert len(table) == 2 * 8  # 8 metrics (the SSE is k-means's objective: one row), train and test
    for (key, split), (exact, shown) in table.items():
        value = result["metrics"][split][key]
        assert float(exact) == value  # the exact number of metrics.json ...
        fmt = "{:.6g}" if key in ("sse", "objective") else "{:.4f}"
        assert shown == fmt.format(value)  # ... and its rounding on screen
    # ... which is what kmeanslab.metrics says about the saved labels.
    ds = load_dataset("digits")
    train, test = np.load(run_dir / "labels.npy"), np.load(run_dir / "test_labels.npy")
    assert float(table[("purity", "train")][0]) == metrics.purity(ds.y_train, train, n_clusters=6)
    assert float(table[("gini", "test")][0]) == metrics.gini(ds.y_test, test, n_clusters=6)
    assert float(table[("nmi", "test")][0]) == metrics.nmi(ds.y_test, test)
    assert float(table[("ari", "train")][0]) == metrics.ari(ds.y_train, train)
    mapping = metrics.map_clusters(train, ds.y_train, "hungarian", n_clusters=6)
    assert float(table[("accuracy_hungarian", "test")][0]) == metrics.accuracy(ds.y_test, test, mapping=mapping)
    per_cluster = [float(a["data-value"]) for a, _ in cells if a["data-key"] == "purity"
                   and a["data-split"] not in ("train", "test")]
    assert per_cluster == list(metrics.purity(ds.y_train, train, n_clusters=6, per_cluster=True))


def test_run_report_has_every_section(run_dir):
    text = (run_dir / "report.html").read_text(encoding="utf-8")
    for caption in ("centroids", "objective per iteration", "class × cluster", "random members",
                    "most typical", "least typical", "Config", "Metrics"):
        assert caption in text, caption
    for name in ("samples.png", "typical.png", "atypical.png"):
        assert (run_dir / name).read_bytes().startswith(PNG)


def test_sweep_report_numbers_are_the_cells(sweep_dir):
    cells = parse(sweep_dir / "report.html").cells
    answers = json.loads((sweep_dir / "sweep.json").read_text())["choose_k"][0]
    shown = {(a["data-key"], int(a["data-split"])): float(a["data-value"]) for a, _ in cells}
    for row in answers["rows"]:
        for key in ("sse", "silhouette", "calinski_harabasz", "davies_bouldin"):
            assert shown[(key, row["k"])] == row[key]
    # The choose-k rows are means over seeds of the cells' own numbers.
    ks = {}
    for f in (sweep_dir / "cells").glob("*.json"):
        cell = json.loads(f.read_text())
        ks.setdefault(cell["params"]["k"], []).append(cell["metrics"]["train"]["sse"])
    for row in answers["rows"]:
        assert row["sse"] == pytest.approx(np.mean(ks[row["k"]]), rel=1e-12)


# -- in a browser -------------------------------------------------------------------------

def _chromium():
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        if os.environ.get("KMEANSLAB_REQUIRE_DATA"):
            pytest.fail("chromium is not installed (CI installs it in .ci/run)")
        pytest.skip("chromium not installed (apt-get install chromium)")
    return path


def _browse(tmp_path, html_path, *flags):
    cmd = [_chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", *flags,
           html_path.resolve().as_uri()]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def _layout(dom):
    found = re.search(r'data-report-layout="([^"]+)"', dom)
    assert found, dom[:300]
    return json.loads(html.unescape(found.group(1)))


@pytest.mark.parametrize("which", ["run_dir", "sweep_dir"])
def test_report_in_headless_chromium(request, tmp_path, which):
    """At 1280 px: every table fits (no sideways scrolling hides a column), no blank space
    below the content, the page renders (many shades: figures drawn)."""
    report = request.getfixturevalue(which) / "report.html"
    dom = _browse(tmp_path, report, "--dump-dom", "--virtual-time-budget=3000", "--window-size=1280,900")
    assert 'data-report-check="ok"' in dom.stdout, dom.stderr[-2000:]
    layout = _layout(dom.stdout)
    assert layout["width"] == 1280 and layout["overflow"] == 0, layout
    assert 0 <= layout["spare"] <= 40, layout
    shot = tmp_path / "shot.png"
    _browse(tmp_path, report, f"--screenshot={shot}", "--window-size=1280,3000")
    from matplotlib.image import imread

    pixels = imread(shot)
    assert pixels.shape[:2] == (3000, 1280)
    # A rendered page, not a blank one: many distinct shades, figures included.
    assert pixels[..., :3].std() > 0.05
    assert len(np.unique(pixels[::7, ::7, 0])) > 50


def test_run_report_contents(run_dir, tmp_path):
    """The test contingency matrix, the classes no cluster stands for, no row twice."""
    text = (run_dir / "report.html").read_text(encoding="utf-8")
    result = json.loads((run_dir / "metrics.json").read_text())
    missing = result["clusters"]["unrepresented"]
    assert missing and f"No cluster stands for classes {', '.join(map(str, missing))}" in text
    assert 'alt="test: class × cluster counts (clusters of the fit on train)"' in text
    assert (run_dir / "contingency_test.png").read_bytes().startswith(PNG)
    labels = re.findall(r'<tr><th class="l">([^<]+)</th>', text.split("<h2>Clusters")[0])
    assert len(labels) == len(set(labels)) == 8 and "objective" not in labels
    assert "SSE (objective)" in labels
    dom = _browse(tmp_path, run_dir / "report.html", "--dump-dom", "--virtual-time-budget=3000",
                  "--window-size=1280,900").stdout
    assert 'id="unrepresented"' in dom


def test_wide_sweep_report_fits_1280(tmp_path):
    """A metric sweep with choose-k: the widest tables the reports have."""
    from kmeanslab.cli import main

    out = tmp_path / "wide"
    assert main(["sweep", "--dataset", "digits", "--k", "4", "--metric", "euclidean,manhattan,cosine",
                 "--seeds", "0:1", "--n-init", "1", "--max-iter", "10", "--out", str(out), "--quiet"]) == 0
    dom = _browse(tmp_path, out / "report.html", "--dump-dom", "--virtual-time-budget=3000",
                  "--window-size=1280,900").stdout
    assert 'data-report-check="ok"' in dom
    layout = _layout(dom)
    assert layout["overflow"] == 0 and layout["spare"] <= 40, layout
    for caption in ("train: class × cluster counts of each cell", "centroids of each cell"):
        assert caption in dom


def test_chromium_check_catches_a_broken_image(tmp_path):
    bad = tmp_path / "bad.html"
    bad.write_text(page("broken", '<img src="data:image/png;base64,AAAA" alt="x">'))
    dom = _browse(tmp_path, bad, "--dump-dom", "--virtual-time-budget=3000")
    assert 'data-report-check="failed"' in dom.stdout
    err = tmp_path / "err.html"
    err.write_text(page("script error", "<script>undefinedFunction()</script>"))
    dom = _browse(tmp_path, err, "--dump-dom", "--virtual-time-budget=3000")
    assert 'data-report-check="failed"' in dom.stdout
