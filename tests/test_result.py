"""What a notebook user gets: run()'s result object, figures that show themselves, loss and
elbow plots that say what they show."""

import json
import subprocess
import sys

import numpy as np
import pytest

from conftest import need

from kmeanslab import metrics, plots
from kmeanslab.experiment import RunConfig, run


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    return run(RunConfig(dataset="digits", k=8, n_init=1, seed=3, out=str(tmp_path_factory.mktemp("r") / "run")))


def test_result_holds_the_model_and_reads_as_metrics_json(result):
    on_disk = json.loads((result.out / "metrics.json").read_text())
    assert json.loads(json.dumps(result.to_dict())) == on_disk
    assert dict(result) == result.to_dict() and result["metrics"] == result.metrics == on_disk["metrics"]
    assert result.model.cluster_centers_.shape == (8, 64)
    assert sorted(result.paths) == sorted(p.name for p in result.out.iterdir())
    np.testing.assert_array_equal(np.load(result.paths["labels.npy"]), result.labels["train"])
    from kmeanslab.data import load_dataset

    ds = load_dataset("digits")
    np.testing.assert_array_equal(result.predict(ds.X_test), np.load(result.paths["test_predictions.npy"]))
    assert result.mappings["hungarian"].n_clusters == 8
    with pytest.raises(TypeError):
        result["metrics"] = {}


def test_result_renders_in_jupyter(result):
    html = result._repr_html_()
    for key in ("sse", "purity", "accuracy_majority", "accuracy_hungarian"):
        assert f'data-key="{key}" data-split="test"' in html
    assert html.count("<img") == 1 and "data:image/png;base64," in html
    assert "RunResult(digits, k=8, KMeans, train: purity" in repr(result)


def test_run_takes_keywords(tmp_path):
    res = run(dataset="iris", k=3, test_size=0.2, out=str(tmp_path / "i"))
    assert res["dataset"]["n_test"] == 30 and res.config["test_size"] == 0.2
    with pytest.raises(ValueError, match="did you mean 'k'"):
        run(dataset="iris", kk=3, out=str(tmp_path / "j"))


def test_figures_display_without_pyplot():
    code = ("import sys\n"
            "from IPython.core.formatters import DisplayFormatter\n"
            "from kmeanslab import plots\n"
            "fig = plots.plot_curve([1, 2, 3], {'a': [3, 2, 1]}, 'k', 'SSE')\n"
            "data, _ = DisplayFormatter().format(fig)\n"
            "assert data['image/png'][:8] == b'\\x89PNG\\r\\n\\x1a\\n', data.keys()\n"
            "print('matplotlib.pyplot' in sys.modules)\n")
    need("IPython")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False"


def test_loss_plot_labels_both_curves_and_goes_log_when_flattened():
    steep = [1000.0, 20.0, 19.0, 18.5, 18.4]
    fig = plots.plot_loss(steep, ylabel="SSE (total over 5 rows)", per_sample=metrics.per_sample(steep, 5),
                          per_sample_label="mean SSE per row (J_clust)")
    left, right = fig.axes
    assert left.get_ylabel() == "SSE (total over 5 rows) (log scale)" and left.get_yscale() == "log"
    assert right.get_ylabel() == "mean SSE per row (J_clust) (log scale)"
    np.testing.assert_allclose(right.lines[0].get_ydata(), np.array(steep) / 5)
    gentle = [30.0, 25.0, 22.0, 21.0]
    (ax,) = plots.plot_loss(gentle, ylabel="SSE").axes
    assert ax.get_yscale() == "linear" and ax.get_ylabel() == "SSE"
    assert plots.plot_loss([5.0, -1.0, -2.0, -2.1]).axes[0].get_yscale() == "linear"  # free energy < 0


def test_run_figures_name_their_clusters(tmp_path, monkeypatch):
    seen = {}
    for name in ("plot_centroids", "plot_loss"):
        original = getattr(plots, name)

        def spy(*args, _name=name, _f=original, **kwargs):
            seen[_name] = kwargs
            return _f(*args, **kwargs)

        monkeypatch.setattr(plots, name, spy)
    res = run(RunConfig(dataset="digits", k=6, n_init=1, out=str(tmp_path / "o")))
    clusters = res["clusters"]
    assert seen["plot_centroids"]["titles"] == [
        f"{c}: {m} · {p:.2f}" for c, (m, p) in enumerate(zip(clusters["majority"], clusters["purity"]))]
    assert seen["plot_loss"]["ylabel"] == f"SSE (total over {res['dataset']['n_train']} rows)"
    assert seen["plot_loss"]["per_sample_label"] == "mean SSE per row (J_clust)"
    unrep = set(range(10)) - set(clusters["majority"])
    assert clusters["unrepresented"] == sorted(unrep) and len(unrep) >= 4  # 6 clusters, 10 digits


def test_elbow_stars_each_curves_knee(tmp_path, monkeypatch):
    from kmeanslab.experiment import sweep_figures
    from kmeanslab.experiment.choosek import knee

    calls = {}
    original = plots.plot_curve
    monkeypatch.setattr(plots, "plot_curve", lambda *a, **kw: calls.setdefault(kw["path"].name, kw) and original(*a, **kw))
    sse = {"kmeans": [100, 40, 20, 17, 15, 14], "soft": [90, 60, 30, 25, 22, 21]}
    records = [({"k": k, "algorithm": a, "seed": 0}, {"metrics": {"train": {"sse": sse[a][k - 1]}}})
               for a in sse for k in range(1, 7)]
    sweep_figures.sweep_figures(tmp_path, records, {"algorithm": list(sse), "k": list(range(1, 7)), "seed": [0]},
                                ["train"])
    knees = calls["elbow.png"]["knees"]
    assert knees == {f"algorithm={a}": knee(range(1, 7), sse[a]) for a in sse} and knees["algorithm=kmeans"] == 3
