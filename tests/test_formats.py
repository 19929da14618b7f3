"""MNIST as other tools keep it (Keras's mnist.npz, torchvision's MNIST/raw, Hugging Face's
parquet files, scikit-learn's OpenML cache), found before any download; the fingerprint
of a loaded data set; the seeded test split."""

import gzip
import io

import numpy as np
import pytest

from conftest import need

from kmeanslab.data import DataError, load_dataset, looks_like_labels, split_test
from kmeanslab.data import mnist as mnist_module

IDX_NAMES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
             "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


@pytest.fixture(autouse=True)
def _no_data_anywhere(tmp_path, monkeypatch):
    """An empty home, no KMEANSLAB_DATA, no network: only what a test puts there is found."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "home" / ".cache"))
    for var in ("KMEANSLAB_DATA", "KERAS_HOME", "TORCH_HOME", "SCIKIT_LEARN_DATA", "HF_HOME", "HF_HUB_CACHE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(mnist_module, "MNIST_MIRRORS", ("http://127.0.0.1:9/",))


@pytest.fixture(scope="module")
def small():
    """MNIST-shaped uint8 images: 50 train, 20 test, every digit present."""
    rng = np.random.RandomState(0)
    return {"x_train": rng.randint(0, 256, (50, 28, 28)).astype(np.uint8), "y_train": np.arange(50) % 10,
            "x_test": rng.randint(0, 256, (20, 28, 28)).astype(np.uint8), "y_test": np.arange(20) % 10}


def check(ds, small):
    assert ds.image_shape == (28, 28) and ds.X_train.dtype == np.float32
    np.testing.assert_array_equal(ds.X_train * 255, small["x_train"].reshape(50, -1))
    np.testing.assert_array_equal(ds.X_test * 255, small["x_test"].reshape(20, -1))
    assert ds.y_train.tolist() == small["y_train"].tolist() and ds.y_test.tolist() == small["y_test"].tolist()


def idx_bytes(arr):
    code = 0x08
    header = bytes([0, 0, code, arr.ndim]) + np.array(arr.shape, ">u4").tobytes()
    return header + arr.astype(np.uint8).tobytes()


def test_keras_npz_keeps_its_split(tmp_path, small):
    path = tmp_path / "mnist.npz"
    np.savez(path, **small)
    check(load_dataset(path), small)
    ds = load_dataset(f"{path}:all")
    assert ds.X_train.shape == (70, 784) and ds.X_test is None


def test_mnist_is_read_from_the_keras_cache_before_downloading(tmp_path, small):
    cache = tmp_path / "home" / ".keras" / "datasets"
    cache.mkdir(parents=True)
    np.savez(cache / "mnist.npz", **small)
    ds = load_dataset("mnist", download=True)  # a download would fail: the mirror is closed
    check(ds, small)
    assert ds.notes == (f"MNIST read from Keras's copy at {cache / 'mnist.npz'}",)


@pytest.mark.parametrize("where", ["data", "data/MNIST", "data/MNIST/raw"])
def test_torchvision_folder_as_dataset_and_as_cache(tmp_path, small, where):
    raw = tmp_path / "data" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for part in ("train", "test"):
        images, labels = IDX_NAMES[part]
        (raw / images).write_bytes(idx_bytes(small[f"x_{part}"]))
        (raw / f"{labels}.gz").write_bytes(gzip.compress(idx_bytes(small[f"y_{part}"])))
    check(load_dataset(tmp_path / where), small)
    ds = load_dataset("mnist", download=False)  # ./data/MNIST/raw: where torchvision's tutorials put it
    check(ds, small)
    assert "torchvision" in ds.notes[0]


def _hf_parquet(folder, small):
    pa = need("pyarrow", reason="parquet needs pyarrow (pip install 'kmeanslab[parquet]')")
    import pyarrow.parquet as pq
    from PIL import Image

    folder.mkdir(parents=True)
    for part, name in (("train", "train-00000-of-00001.parquet"), ("test", "test-00000-of-00001.parquet")):
        cells = []
        for img in small[f"x_{part}"]:
            buf = io.BytesIO()
            Image.fromarray(img).save(buf, format="PNG")
            cells.append({"bytes": buf.getvalue(), "path": None})
        pq.write_table(pa.table({"image": cells, "label": small[f"y_{part}"]}), folder / name)


def test_hugging_face_parquet_folder_and_hub_cache(tmp_path, small):
    _hf_parquet(tmp_path / "mnist", small)
    check(load_dataset(tmp_path / "mnist"), small)
    one = load_dataset(tmp_path / "mnist" / "test-00000-of-00001.parquet")
    assert one.X_train.shape == (20, 784) and one.X_test is None
    snap = tmp_path / "home" / ".cache" / "huggingface" / "hub" / "datasets--ylecun--mnist" / "snapshots" / "abc"
    _hf_parquet(snap / "mnist", small)
    ds = load_dataset("mnist", download=False)
    check(ds, small)
    assert "Hugging Face" in ds.notes[0]


def test_parquet_table_chooses_its_label_column(tmp_path):
    pa = need("pyarrow")
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"a": [0.1, 0.2, 0.3, 0.4], "b": [1.0, 2, 3, 4], "target": [0, 1, 0, 1]}),
                   tmp_path / "t.parquet")
    ds = load_dataset(tmp_path / "t.parquet")
    assert ds.X_train.shape == (4, 2) and ds.y_train.tolist() == [0, 1, 0, 1] and "'target'" in ds.notes[0]
    ds = load_dataset(tmp_path / "t.parquet", label_column=False, columns=["b"])
    assert ds.X_train.tolist() == [[1], [2], [3], [4]] and ds.y_train is None


def test_scikit_learn_openml_cache(tmp_path):
    # fetch_openml("mnist_784")'s cached ARFF: 70,000 rows, the 60,000 training images first.
    rng = np.random.RandomState(0)
    rows = rng.randint(0, 256, (70_000, 784)).astype(np.uint8)
    rows[:, :700] = 0  # keeps the text short
    y = np.arange(70_000) % 10
    body = "\n".join(",".join(map(str, r)) + f",'{c}'" for r, c in zip(rows[::7000], y[::7000]))
    lines = body.split("\n")
    text = "@RELATION mnist_784\n@ATTRIBUTE class {'0','1'}\n@DATA\n" + "\n".join(
        lines[i // 7000] for i in range(70_000)) + "\n"
    folder = tmp_path / "home" / "scikit_learn_data" / "openml" / "openml.org" / "data" / "v1" / "download" / "52667"
    folder.mkdir(parents=True)
    (folder / "mnist_784.arff.gz").write_bytes(gzip.compress(text.encode(), 1))
    ds = load_dataset("mnist", download=False)
    assert ds.X_train.shape == (60_000, 784) and ds.X_test.shape == (10_000, 784)
    np.testing.assert_array_equal(ds.X_train[7000] * 255, rows[7000])
    assert ds.y_test[0] == y[60_000] and "scikit-learn" in ds.notes[0]


def test_a_damaged_cache_file_is_an_error_naming_it(tmp_path):
    cache = tmp_path / "home" / ".keras" / "datasets"
    cache.mkdir(parents=True)
    np.savez(cache / "mnist.npz", x_train=np.zeros((3, 5)), y_train=np.zeros(3, int),
             x_test=np.zeros((2, 28, 28), np.uint8), y_test=np.zeros(2, int))
    with pytest.raises(DataError, match="mnist.npz: x_train"):
        load_dataset("mnist", download=False)


# -- fingerprint, split, labels -----------------------------------------------------------

def test_fingerprint_changes_with_any_value_and_only_then():
    a = load_dataset("digits")
    assert a.fingerprint == load_dataset("digits").fingerprint
    X = a.X_train.copy()
    X[123, 40] += 1 / 16
    import dataclasses

    assert dataclasses.replace(a, X_train=X).fingerprint != a.fingerprint
    y = a.y_test.copy()
    y[0] = (y[0] + 1) % 10
    assert dataclasses.replace(a, y_test=y).fingerprint != a.fingerprint
    assert load_dataset("digits:train").fingerprint != a.fingerprint


def test_split_test_is_seeded_and_stratified():
    iris = load_dataset("iris")
    a, b = split_test(iris, 0.2), split_test(iris, 0.2)
    np.testing.assert_array_equal(a.X_test, b.X_test)
    assert np.bincount(a.y_test).tolist() == [10, 10, 10] and a.X_train.shape == (120, 4)
    assert split_test(iris, 15).X_test.shape == (15, 4)
    for bad in (0, 1.5, 150, "0.2", True):
        with pytest.raises(ValueError, match="test_size"):
            split_test(iris, bad)


def test_what_looks_like_labels():
    assert looks_like_labels(np.arange(100) % 10)
    assert looks_like_labels(np.repeat([1.0, 2.0, 3.0], 20))
    assert not looks_like_labels(np.r_[np.zeros(995), np.arange(5) + 1])  # a mostly blank pixel
    assert not looks_like_labels(np.arange(100) % 10 + 0.5)
    assert not looks_like_labels(np.arange(100) % 60)  # too many values
    assert not looks_like_labels(np.repeat([0, 2, 4], 20))  # not consecutive
