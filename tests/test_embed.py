import importlib.util
import json
import os
import sys

import numpy as np
import pytest

from kmeanslab import metrics
from kmeanslab.cli import main
from kmeanslab.embed import make_embedding, make_pipeline, parse_embed
from kmeanslab.experiment import RunConfig, fit_evaluate, load_data, prepare, run


@pytest.mark.parametrize("spec, expected", [
    (None, None), ("none", None), ("pca:8", ("pca", 8)), ("UMAP:10", ("umap", 10)), (" pca : 3 ", ("pca", 3)),
])
def test_parse_embed(spec, expected):
    assert parse_embed(spec) == expected


@pytest.mark.parametrize("spec", ["pca", "pca:0", "tsne:2", "pca:x", 5])
def test_bad_embed_names_embed(spec):
    with pytest.raises(ValueError, match="embed"):
        parse_embed(spec)
    with pytest.raises(ValueError, match="embed"):
        RunConfig(dataset="digits", embed=spec).validated()


def test_pca_pipeline_sends_test_images_through_the_same_transform():
    config = RunConfig(dataset="digits", k=10, n_init=1, embed="pca:12", seed=3).validated()
    ds, _ = load_data(config)
    front, X_train, X_test = prepare(config, ds)
    assert [name for name, _ in front.steps] == ["preprocess", "embed"]
    assert X_train.shape == (ds.X_train.shape[0], 12) and X_test.shape == (ds.X_test.shape[0], 12)
    model, results, labels, _ = fit_evaluate(config, ds, X_train, X_test)
    pipeline = make_pipeline(front, model)
    assert [name for name, _ in pipeline.steps] == ["preprocess", "embed", "cluster"]
    # Raw test images in, the same cluster ids out: one fitted transform, not a re-fit on test.
    assert np.array_equal(pipeline.predict(ds.X_test), labels["test"])
    assert results["test"]["nmi"] == metrics.nmi(ds.y_test, labels["test"])
    assert results["train"]["sse"] == pytest.approx(metrics.sse(X_train, labels["train"], model.cluster_centers_))


def test_run_with_embedding_writes_pixel_space_pictures(capsys, tmp_path):
    out = tmp_path / "pca"
    assert main(["run", "--dataset", "digits", "--k", "10", "--embed", "pca:16", "--n-init", "1",
                 "--out", str(out), "--quiet"]) == 0
    result = json.loads((out / "metrics.json").read_text())
    assert result["pipeline"] == ["preprocess", "embed", "cluster"]
    assert result["config"]["embed"] == "pca:16"
    assert result["dataset"]["n_features"] == 64 and result["dataset"]["n_features_clustered"] == 16
    assert np.load(out / "centroids.npy").shape == (10, 16)
    assert "mean image of each cluster" in (out / "report.html").read_text()
    assert result["metrics"]["test"]["accuracy_hungarian"] > 0.5


def test_missing_umap_is_one_clear_line(capsys, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "umap", None)  # import umap -> ImportError
    with pytest.raises(ImportError, match="pip install"):
        make_embedding("umap:2")
    code = main(["run", "--dataset", "digits", "--embed", "umap:2", "--out", str(tmp_path / "u")])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "umap-learn" in err and "pip install" in err and "Traceback" not in err


def _need_umap():
    if importlib.util.find_spec("umap") is None:
        if os.environ.get("CI") or os.environ.get("KMEANSLAB_REQUIRE_DATA"):
            pytest.fail("umap-learn is not installed (pip install -e '.[test]')")
        pytest.skip("umap-learn not installed (pip install 'kmeanslab[umap]')")


def test_umap_front_end_on_a_small_data_set(tmp_path):
    _need_umap()
    result = run(RunConfig(dataset="digits", k=10, embed="umap:5", seed=0, out=str(tmp_path / "u")))
    m = result["metrics"]
    assert result["pipeline"] == ["preprocess", "embed", "cluster"]
    assert result["dataset"]["n_features_clustered"] == 5
    assert np.load(tmp_path / "u" / "centroids.npy").shape == (10, 5)
    # UMAP separates the digits far better than raw pixels (~0.68 accuracy, ~0.71 NMI here).
    assert m["train"]["accuracy_hungarian"] > 0.75 and m["train"]["nmi"] > 0.8
    assert m["test"]["accuracy_hungarian"] > 0.75  # test rows through the fitted UMAP's transform
