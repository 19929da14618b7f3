"""Edges of the HTML report that mutation testing found untested (``make mutate``)."""

import html.parser

from kmeanslab.experiment import report
from kmeanslab.experiment.sweep_figures import sweep_figures


class Strays(html.parser.HTMLParser):
    """Text that sits inside a table but outside every cell (a broken table)."""

    def __init__(self):
        super().__init__()
        self.depth, self.in_cell, self.strays = 0, 0, []

    def handle_starttag(self, tag, attrs):
        self.depth += tag == "table"
        self.in_cell += tag in ("td", "th")

    def handle_endtag(self, tag):
        self.depth -= tag == "table"
        self.in_cell -= tag in ("td", "th")

    def handle_data(self, data):
        if self.depth and not self.in_cell and data.strip():
            self.strays.append(data)


def strays(text):
    p = Strays()
    p.feed(text)
    return p.strays


def test_missing_value_is_a_dash_and_tables_hold_only_cells():
    text = report.metrics_table({"train": {"sse": 1.0, "purity": None}, "test": {"sse": 2.0}})
    assert 'data-key="purity" data-split="train" data-value="" title="">-</td>' in text
    assert strays(text) == []
    assert strays(report.table(["a", "b"], [["1", "2"]])) == []


def test_escaping_covers_attribute_quotes():
    assert report.esc('say "hi" & <go>') == "say &quot;hi&quot; &amp; &lt;go&gt;"
    assert report.esc("it's") == "it&#x27;s"


def run_result(notes):
    return {"config": {"k": 2, "embed": None}, "dataset": {"name": "toy", "n_train": 4, "n_test": 0,
                                                          "n_features": 2, "n_features_clustered": 2},
            "estimator": {"class": "KMeans"}, "pipeline": ["cluster"], "notes": notes,
            "metrics": {"train": {"sse": 1.0}}, "timings": {}}


def test_run_report_shows_its_notes(tmp_path):
    path = report.write_run_report(tmp_path, run_result(["MNIST not found: used digits"]))
    assert '<p class="note">MNIST not found: used digits</p>' in path.read_text()


def test_sweep_report_has_its_sections(tmp_path):
    path = report.write_sweep_report(tmp_path, "t", {"k": 2}, {"k": [2, 3]}, [("train", ["k"], [["2"]])], [],
                                     notes=["a note"])
    text = path.read_text()
    for part in ("<h2>Results (mean ± sd over seeds)</h2>", "<h2>Figures</h2>", "<h2>Config (lists: the grid's values)</h2>",
                 '<p class="note">a note</p>', "grid: k ∈ {2, 3}"):
        assert part in text, part
    assert strays(text) == []


def test_sweep_report_says_what_every_cell_ran(tmp_path):
    """--algorithm minibatch given once is an axis of one value: the report's config and
    its grid line say minibatch, not the base config's default kmeans."""
    from kmeanslab.cli import main

    out = tmp_path / "s"
    assert main(["sweep", "--dataset", "iris", "--algorithm", "minibatch", "--k", "2,3", "--n-init", "1",
                 "--out", str(out), "--quiet"]) == 0
    text = (out / "report.html").read_text()
    assert "grid: k ∈ {2, 3}; every cell: preprocess scale, algorithm minibatch, init k-means++</p>" in text
    assert '<th class="l">algorithm</th><td class="l"><code>&quot;minibatch&quot;</code>' in text
    assert '<th class="l">k</th><td class="l"><code>[2, 3]</code>' in text


def test_beta_sweep_draws_its_curves(tmp_path):
    records = [({"beta": b, "seed": s}, {"metrics": {"train": {"sse": 10 / b + s, "nmi": 0.5,
                                                               "accuracy_hungarian": 0.6}}})
               for b in (0.1, 1.0, 10.0) for s in (0, 1)]
    made = sweep_figures(tmp_path, records, {"k": [5], "beta": [0.1, 1.0, 10.0], "seed": [0, 1]}, ["train"])
    assert [name for name, _ in made] == ["beta_sse.png", "beta_purity.png", "beta_gini.png",
                                          "beta_accuracy_majority.png", "beta_accuracy_hungarian.png",
                                          "beta_nmi.png"]
    for name, caption in made:
        assert (tmp_path / name).read_bytes().startswith(b"\x89PNG") and "vs β" in caption
