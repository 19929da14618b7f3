"""The data layer's rules: one rule for laziness, split suffixes, lazy preprocessing, one
rule for row blocks, and the CLI reaching lazy sources with the default preprocessing."""

import json

import numpy as np
import pytest

from kmeanslab import data
from kmeanslab._blocks import block_rows
from kmeanslab.cli import main
from kmeanslab.data import dataset as dataset_module
from kmeanslab.data import load_dataset

da = pytest.importorskip("dask.array")
zarr = pytest.importorskip("zarr")


def _zarr_store(path, X, y=None):
    group = zarr.open_group(str(path), mode="w")
    group.create_array("X", shape=X.shape, chunks=(100, X.shape[1]), dtype=X.dtype)[:] = X
    if y is not None:
        group.create_array("y", shape=y.shape, chunks=(100,), dtype=y.dtype)[:] = y
    return path


@pytest.fixture
def blobs():
    rng = np.random.RandomState(0)
    centers = rng.uniform(0, 255, (3, 16))
    y = rng.randint(0, 3, 600)
    X = (centers[y] + rng.normal(0, 8, (600, 16))).astype(np.float32)
    return X, y.astype(np.int64)


def test_npy_opens_lazily_above_the_threshold_and_not_below(tmp_path, monkeypatch, blobs):
    X, _ = blobs
    path = tmp_path / "x.npy"
    np.save(path, X)
    assert not load_dataset(path).lazy
    monkeypatch.setattr(dataset_module, "LAZY_BYTES", path.stat().st_size - 1)
    ds = load_dataset(path)
    assert ds.lazy and isinstance(ds.X_train, da.Array)
    np.testing.assert_array_equal(np.asarray(ds.X_train), X)
    monkeypatch.setattr(dataset_module, "LAZY_BYTES", 1 << 40)
    assert load_dataset(path, lazy=True).lazy  # forced, whatever the size
    np.savetxt(tmp_path / "x.csv", X, delimiter=",")
    with pytest.raises(ValueError, match="only .npy files and .zarr stores"):
        load_dataset(tmp_path / "x.csv", lazy=True)


def test_zarr_is_lazy_unless_asked_otherwise(tmp_path, blobs):
    X, y = blobs
    store = _zarr_store(tmp_path / "s.zarr", X, y)
    ds = load_dataset(store)
    assert ds.lazy and ds.image_shape == (4, 4) and ds.X_test is None
    np.testing.assert_array_equal(ds.y_train, y)
    eager = load_dataset(store, lazy=False)
    assert not eager.lazy and isinstance(eager.X_train, np.ndarray)
    np.testing.assert_array_equal(eager.X_train, X)


def test_split_suffixes():
    whole = load_dataset("digits")
    test = load_dataset("digits:test")
    assert test.name == "digits:test" and test.X_test is None
    np.testing.assert_array_equal(test.X_train, whole.X_test)
    both = load_dataset("digits:all")
    assert both.X_test is None and len(both.X_train) == len(whole.X_train) + len(whole.X_test)
    np.testing.assert_array_equal(both.y_train, np.concatenate([whole.y_train, whole.y_test]))
    assert load_dataset("iris:all").X_train.shape == (150, 4)  # no test split: all is the whole
    with pytest.raises(ValueError, match="no test split"):
        load_dataset("iris:test")
    assert data.parse_spec("C:/data/x.npy") == ("C:/data/x.npy", None)


def test_mnist_all_is_train_then_test(mnist_home, mnist_train, mnist_test):
    ds = load_dataset("mnist:all", data_home=mnist_home, download=False)
    assert ds.X_train.shape == (70000, 784) and ds.X_test is None
    np.testing.assert_array_equal(ds.y_train[:60000], mnist_train[1])
    np.testing.assert_array_equal(ds.y_train[60000:], mnist_test[1])


@pytest.mark.parametrize("name", ["scale", "zscore"])
def test_lazy_preprocessing_equals_the_in_memory_one(name, blobs):
    from kmeanslab.preprocessing import make_preprocessor

    X, _ = blobs
    eager = make_preprocessor(name).fit(X)
    lazy = make_preprocessor(name).fit(da.from_array(X, chunks=(128, -1)))
    Xt = lazy.transform(da.from_array(X, chunks=(100, -1)))
    assert isinstance(Xt, da.Array) and Xt.dtype == np.float32
    np.testing.assert_allclose(np.asarray(Xt), eager.transform(X), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="features"):
        lazy.transform(da.from_array(X[:, :5]))


def test_one_rule_for_row_blocks(tmp_path):
    from kmeanslab.cluster.backends.dask import as_dask

    X = np.zeros((70000, 784), dtype=np.float32)
    np.save(tmp_path / "m.npy", X)
    rows = block_rows(70000, 784 * 4)
    assert data.open_npy(tmp_path / "m.npy").chunks[0][0] == rows == as_dask(X).chunks[0][0]
    assert 1 <= block_rows(10, 8) <= 10 and block_rows(10**7, 4 * 784) * 784 * 4 <= 64 * 2**20


def test_cli_clusters_a_zarr_store_with_the_default_preprocessing(tmp_path, capsys, blobs):
    X, y = blobs
    store = _zarr_store(tmp_path / "s.zarr", X * 3 + 7, y)  # not in [0, 1]: scaling is not a no-op
    out = tmp_path / "run"
    code = main(["run", "--dataset", str(store), "--k", "3", "--out", str(out), "--quiet"])
    assert code == 0, capsys.readouterr().err
    result = json.loads((out / "metrics.json").read_text())
    assert result["config"]["preprocess"] == "scale"
    assert any("out of core" in n for n in result["notes"])
    assert result["metrics"]["train"]["purity"] > 0.99  # three well-separated blobs


def test_cli_reads_a_large_npy_lazily(tmp_path, capsys, monkeypatch, blobs):
    X, _ = blobs
    np.save(tmp_path / "big.npy", X)
    monkeypatch.setattr(dataset_module, "LAZY_BYTES", 1024)
    out = tmp_path / "run"
    assert main(["run", "--dataset", str(tmp_path / "big.npy"), "--k", "3", "--out", str(out), "--quiet"]) == 0
    result = json.loads((out / "metrics.json").read_text())
    assert any("out of core" in n for n in result["notes"]) and result["dataset"]["n_train"] == 600
    code = main(["run", "--dataset", str(tmp_path / "big.npy"), "--k", "3", "--embed", "pca:2",
                 "--out", str(tmp_path / "r2"), "--quiet"])
    assert code == 2 and "--embed needs the rows in memory" in capsys.readouterr().err
