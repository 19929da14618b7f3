import gzip
import hashlib
import http.server
import socket
import threading
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kmeanslab.data import mnist as datasets
from kmeanslab.data import (
    DataError,
    DataNotFoundError,
    Dataset,
    candidate_homes,
    get_data_home,
    load_array,
    load_dataset,
    load_digits,
    load_idx,
    load_mnist,
    read_idx,
)

TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
_CODES = {np.dtype(np.uint8): 0x08, np.dtype(np.int8): 0x09, np.dtype(np.int16): 0x0B,
          np.dtype(np.int32): 0x0C, np.dtype(np.float32): 0x0D, np.dtype(np.float64): 0x0E}


def _closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path, monkeypatch):
    """Keep every test off the real cache and off the network."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.delenv("KMEANSLAB_DATA", raising=False)
    for var in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    # A download that a test forgets to point at a local server fails here, offline.
    monkeypatch.setattr(datasets, "MNIST_MIRRORS", (f"http://127.0.0.1:{_closed_port()}/",))


def idx_bytes(arr):
    arr = np.asarray(arr)
    header = bytes([0, 0, _CODES[arr.dtype], arr.ndim]) + np.array(arr.shape, ">u4").tobytes()
    return header + arr.astype(arr.dtype.newbyteorder(">")).tobytes()


def make_set(n_train=30, n_test=12, shape=(28, 28), seed=0):
    """Synthetic MNIST-like arrays: {stem: uint8 array}."""
    rng = np.random.RandomState(seed)
    return {
        "train-images-idx3-ubyte": rng.randint(0, 256, (n_train, *shape)).astype(np.uint8),
        "train-labels-idx1-ubyte": (np.arange(n_train) % 10).astype(np.uint8),
        "t10k-images-idx3-ubyte": rng.randint(0, 256, (n_test, *shape)).astype(np.uint8),
        "t10k-labels-idx1-ubyte": (np.arange(n_test) % 10).astype(np.uint8),
    }


@pytest.fixture
def synthetic(monkeypatch):
    """Gzipped synthetic MNIST files {filename: gz bytes}, with MNIST_SHA256 patched to match."""
    arrays = make_set()
    raw = {stem: idx_bytes(a) for stem, a in arrays.items()}
    monkeypatch.setattr(datasets, "MNIST_SHA256",
                        {stem: hashlib.sha256(b).hexdigest() for stem, b in raw.items()})
    files = {stem + ".gz": gzip.compress(b) for stem, b in raw.items()}
    return files, arrays


class _Server:
    def __init__(self, files, mode="good"):
        self.files, self.mode, self.requests = dict(files), mode, []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                name = self.path.rsplit("/", 1)[-1]
                server.requests.append(name)
                if name not in server.files:
                    self.send_error(404)
                    return
                body = server.files[name]
                if server.mode == "corrupt":
                    body = gzip.compress(b"\0\0\x08\x01" + b"\0" * 8)
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if server.mode == "halfway":
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/mnist/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def serve():
    servers = []

    def start(files, mode="good"):
        servers.append(_Server(files, mode))
        return servers[-1]

    yield start
    for s in servers:
        s.close()


def _listing(folder):
    return sorted(p.name for p in Path(folder).iterdir()) if Path(folder).exists() else []


# --------------------------------------------------------------------------- shared MNIST
def test_load_mnist_all_from_shared_copy(mnist_home, mnist_train, mnist_test):
    X, y = load_mnist("all", data_home=mnist_home, download=False)
    assert X.shape == (70000, 784) and X.dtype == np.float32 and X.flags.c_contiguous
    assert y.dtype == np.int64
    assert X.min() == 0.0 and X.max() == 1.0
    np.testing.assert_array_equal(np.bincount(y[:60000]), TRAIN_COUNTS)
    np.testing.assert_array_equal(np.bincount(y[60000:]), TEST_COUNTS)
    assert mnist_train[0].shape == (60000, 784) and mnist_test[0].shape == (10000, 784)
    np.testing.assert_array_equal(X[60000:], mnist_test[0])
    np.testing.assert_array_equal(y[:60000], mnist_train[1])
    # uint8 / 255 exactly: every value is a multiple of 1/255.
    np.testing.assert_allclose(np.unique(X[:1000]) * 255, np.round(np.unique(X[:1000]) * 255),
                               atol=1e-4)


def test_kmeanslab_data_env_is_read_not_written(mnist_home, monkeypatch, tmp_path):
    monkeypatch.setenv("KMEANSLAB_DATA", str(mnist_home))
    X, y = load_mnist("test", download=False, verify=True)
    assert X.shape == (10000, 784)
    np.testing.assert_array_equal(np.bincount(y), TEST_COUNTS)
    assert not (tmp_path / "xdg-cache").exists()


def test_missing_without_download_names_kmeanslab_data(tmp_path):
    with pytest.raises(DataNotFoundError, match="KMEANSLAB_DATA") as info:
        load_mnist("train", data_home=tmp_path / "empty", download=False)
    assert isinstance(info.value, FileNotFoundError)
    assert str(tmp_path / "empty" / "mnist") in str(info.value)


def test_homes_order(tmp_path, monkeypatch):
    cache = tmp_path / "xdg-cache" / "kmeanslab"
    assert get_data_home() == cache
    assert candidate_homes() == [cache]
    monkeypatch.setenv("KMEANSLAB_DATA", str(tmp_path / "env"))
    assert get_data_home() == tmp_path / "env"
    assert candidate_homes(tmp_path / "mine") == [tmp_path / "mine", tmp_path / "env", cache]
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert candidate_homes()[-1] == tmp_path / "home" / ".cache" / "kmeanslab"


# --------------------------------------------------------------------------- download
def test_download_good_then_cached(synthetic, serve, tmp_path):
    files, arrays = synthetic
    server = serve(files)
    X, y = load_mnist("all", data_home=tmp_path, mirrors=[server.url])
    assert sorted(server.requests) == sorted(files)
    assert X.shape == (42, 784) and X.dtype == np.float32
    np.testing.assert_array_equal(X[:30] * 255, arrays["train-images-idx3-ubyte"].reshape(30, -1))
    np.testing.assert_array_equal(y[30:], arrays["t10k-labels-idx1-ubyte"])
    assert _listing(tmp_path / "mnist") == sorted(files)
    n = len(server.requests)
    X2, _ = load_mnist("all", data_home=tmp_path, mirrors=[server.url], verify=True)
    assert len(server.requests) == n
    np.testing.assert_array_equal(X, X2)


def test_download_goes_to_user_cache_not_env_folder(synthetic, serve, tmp_path, monkeypatch):
    files, _ = synthetic
    env_dir = tmp_path / "env"
    env_dir.mkdir()
    monkeypatch.setenv("KMEANSLAB_DATA", str(env_dir))
    server = serve(files)
    load_mnist("test", mirrors=[server.url])
    assert _listing(env_dir) == []
    assert _listing(tmp_path / "xdg-cache" / "kmeanslab" / "mnist") == [
        "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]


def test_corrupted_first_mirror_falls_back(synthetic, serve, tmp_path, caplog):
    files, arrays = synthetic
    bad, good = serve(files, "corrupt"), serve(files)
    X, y = load_mnist("train", data_home=tmp_path, mirrors=[bad.url, good.url])
    assert bad.requests and good.requests
    np.testing.assert_array_equal(y, arrays["train-labels-idx1-ubyte"])
    assert "SHA-256" in caplog.text
    assert _listing(tmp_path / "mnist") == ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"]


def test_down_mirror_falls_back(synthetic, serve, tmp_path):
    files, arrays = synthetic
    good = serve(files)
    down = f"http://127.0.0.1:{_closed_port()}/mnist"
    X, y = load_mnist("test", data_home=tmp_path, mirrors=[down, good.url], timeout=5)
    np.testing.assert_array_equal(X * 255, arrays["t10k-images-idx3-ubyte"].reshape(12, -1))


def test_connection_cut_halfway(synthetic, serve, tmp_path):
    files, _ = synthetic
    cut = serve(files, "halfway")
    with pytest.raises(DataNotFoundError, match=r"every mirror failed") as info:
        load_mnist("test", data_home=tmp_path, mirrors=[cut.url], timeout=5)
    assert cut.url in str(info.value)
    assert _listing(tmp_path / "mnist") == []
    good = serve(files)
    load_mnist("test", data_home=tmp_path, mirrors=[cut.url, good.url], timeout=5)
    assert _listing(tmp_path / "mnist") == ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]


def test_all_mirrors_fail_lists_each(synthetic, serve, tmp_path):
    files, _ = synthetic
    bad = serve(files, "corrupt")
    missing = serve({})
    with pytest.raises(DataNotFoundError) as info:
        load_mnist("train", data_home=tmp_path, mirrors=[bad.url, missing.url])
    msg = str(info.value)
    assert bad.url in msg and missing.url in msg and "404" in msg and "KMEANSLAB_DATA" in msg
    assert _listing(tmp_path / "mnist") == []


def test_progress_callback(synthetic, serve, tmp_path):
    files, _ = synthetic
    big = {k: v + b"" for k, v in files.items()}
    server = serve(big)
    calls = []
    load_mnist("train", data_home=tmp_path, mirrors=[server.url],
               progress=lambda name, done, total: calls.append((name, done, total)))
    name = "train-images-idx3-ubyte.gz"
    done = [d for n, d, _ in calls if n == name]
    assert done[0] == 0 and done[-1] == len(files[name])
    assert all(b > a for a, b in zip(done, done[1:]))
    assert {t for n, _, t in calls if n == name} == {len(files[name])}


def test_interrupted_download_leaves_nothing(synthetic, serve, tmp_path):
    files, _ = synthetic
    server = serve(files)

    def interrupt(name, done, total):
        if done > 0:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        load_mnist("test", data_home=tmp_path, mirrors=[server.url], progress=interrupt)
    assert _listing(tmp_path / "mnist") == []


def test_download_real_t10k(mnist_home, mnist_test, serve, tmp_path):
    real = {f: (mnist_home / "mnist" / f).read_bytes()
            for f in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")}
    server = serve(real)
    X, y = load_mnist("test", data_home=tmp_path, mirrors=[server.url])
    np.testing.assert_array_equal(X, mnist_test[0])
    np.testing.assert_array_equal(y, mnist_test[1])


def test_verify_detects_wrong_content(synthetic, tmp_path, monkeypatch):
    files, _ = synthetic
    (tmp_path / "mnist").mkdir()
    for name, body in files.items():
        (tmp_path / "mnist" / name).write_bytes(body)
    load_mnist("train", data_home=tmp_path, download=False, verify=True)
    monkeypatch.setattr(datasets, "MNIST_SHA256", dict.fromkeys(datasets.MNIST_SHA256, "0" * 64))
    load_mnist("train", data_home=tmp_path, download=False)  # no hashing unless asked
    with pytest.raises(DataError, match="train-images-idx3-ubyte.gz.*SHA-256"):
        load_mnist("train", data_home=tmp_path, download=False, verify=True)


def test_bad_split():
    with pytest.raises(ValueError, match="split"):
        load_mnist("validation", download=False)


# --------------------------------------------------------------------------- IDX integrity
@settings(max_examples=30, deadline=None)
@given(dtype=st.sampled_from(sorted(_CODES, key=str)),
       shape=st.lists(st.integers(0, 5), min_size=1, max_size=4))
def test_read_idx_roundtrip(tmp_path_factory, dtype, shape):
    arr = (np.arange(int(np.prod(shape))) % 100 - 50).astype(dtype).reshape(shape)
    path = tmp_path_factory.mktemp("idx") / "x.idx"
    path.write_bytes(idx_bytes(arr))
    got = read_idx(path)
    assert got.dtype == dtype and got.shape == tuple(shape)
    np.testing.assert_array_equal(got, arr)
    got.flat[:1] = 0  # writable


def test_gzip_detected_by_magic_not_name(tmp_path):
    arr = np.arange(12, dtype=np.uint8).reshape(3, 4)
    (tmp_path / "plain.gz").write_bytes(idx_bytes(arr))
    (tmp_path / "packed.idx").write_bytes(gzip.compress(idx_bytes(arr)))
    np.testing.assert_array_equal(read_idx(tmp_path / "plain.gz"), arr)
    np.testing.assert_array_equal(read_idx(tmp_path / "packed.idx"), arr)


@pytest.mark.parametrize("damage, match", [
    (lambda b: gzip.compress(b)[:-30], "truncated or corrupted gzip"),
    (lambda b: gzip.compress(b)[:20], "truncated or corrupted gzip"),
    (lambda b: b"\x08\x03" + b[2:], "not an IDX file"),
    (lambda b: b[:2] + b"\x07" + b[3:], "not an IDX file"),
    (lambda b: b"", "not an IDX file"),
    (lambda b: b[:-1], "payload"),
    (lambda b: b + b"\0", "payload"),
    (lambda b: b[:8], "declares 3 dimensions"),
    (lambda b: b[:3] + b"\x05" + b[4:], "payload|dimensions"),
])
def test_damaged_idx_raises_data_error(tmp_path, damage, match):
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(damage(idx_bytes(np.zeros((4, 5, 6), np.uint8))))
    with pytest.raises(DataError, match=match) as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_count_mismatch_raises(tmp_path):
    arrays = make_set()
    arrays["t10k-labels-idx1-ubyte"] = arrays["t10k-labels-idx1-ubyte"][:-1]
    (tmp_path / "mnist").mkdir()
    for stem, a in arrays.items():
        (tmp_path / "mnist" / (stem + ".gz")).write_bytes(gzip.compress(idx_bytes(a)))
    load_mnist("train", data_home=tmp_path, download=False)
    with pytest.raises(DataError, match="12 images.*11 labels") as info:
        load_mnist("test", data_home=tmp_path, download=False)
    assert "t10k-labels-idx1-ubyte.gz" in str(info.value)


def test_damaged_local_file_named(tmp_path):
    (tmp_path / "mnist").mkdir()
    for stem, a in make_set().items():
        (tmp_path / "mnist" / (stem + ".gz")).write_bytes(gzip.compress(idx_bytes(a))[:-10])
    with pytest.raises(DataError, match="train-images-idx3-ubyte.gz.*delete it"):
        load_mnist("train", data_home=tmp_path, download=False)


# --------------------------------------------------------------------------- IDX folders
def _write_folder(folder, names, shape=(28, 28), gz=True):
    folder.mkdir(parents=True, exist_ok=True)
    arrays = make_set(shape=shape)
    for stem, name in zip(arrays, names):
        body = idx_bytes(arrays[stem])
        (folder / name).write_bytes(gzip.compress(body) if gz else body)
    return arrays


def test_load_idx_fashion_like(tmp_path):
    folder = tmp_path / "fashion"
    arrays = _write_folder(folder, ["train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                                    "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"], gz=False)
    X, y = load_idx(folder, "train")
    assert X.shape == (30, 784) and X.dtype == np.float32 and y.dtype == np.int64
    np.testing.assert_array_equal(X * 255, arrays["train-images-idx3-ubyte"].reshape(30, -1))
    X, y = load_idx(folder, "all")
    assert X.shape == (42, 784)


def test_load_idx_emnist_names_any_shape(tmp_path):
    folder = tmp_path / "emnist"
    arrays = _write_folder(folder, ["emnist-balanced-train-images-idx3-ubyte.gz",
                                    "emnist-balanced-train-labels-idx1-ubyte.gz",
                                    "emnist-balanced-test-images-idx3-ubyte.gz",
                                    "emnist-balanced-test-labels-idx1-ubyte.gz"], shape=(5, 7))
    X, y = load_idx(folder, "test")
    assert X.shape == (12, 35)
    np.testing.assert_array_equal(y, arrays["t10k-labels-idx1-ubyte"])
    ds = load_dataset(folder)
    assert ds.image_shape == (5, 7) and ds.X_train.shape == (30, 35) and ds.X_test.shape == (12, 35)
    assert ds.name == "emnist"


def test_load_idx_missing_file(tmp_path):
    folder = tmp_path / "partial"
    _write_folder(folder, ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                           "t10k-images-idx3-ubyte.gz", "unrelated.txt"])
    load_idx(folder, "train")
    with pytest.raises(DataNotFoundError, match="test labels") as info:
        load_idx(folder, "test")
    assert str(folder) in str(info.value)
    with pytest.raises(DataNotFoundError, match="does not exist"):
        load_idx(tmp_path / "nowhere")


def test_load_idx_ambiguous(tmp_path):
    folder = tmp_path / "two"
    _write_folder(folder, ["a-train-images-idx3-ubyte", "a-train-labels-idx1-ubyte",
                           "b-train-images-idx3-ubyte", "t10k-labels-idx1-ubyte"])
    with pytest.raises(ValueError, match="several train images"):
        load_idx(folder, "train")


# --------------------------------------------------------------------------- digits, arrays
def test_load_digits():
    X, y = load_digits()
    assert X.shape == (1797, 64) and X.dtype == np.float32 and y.dtype == np.int64
    assert X.min() == 0.0 and X.max() == 1.0
    Xtr, ytr = load_digits("train")
    Xte, yte = load_digits("test")
    assert len(Xtr) + len(Xte) == 1797 and len(Xte) == 360
    np.testing.assert_allclose(np.bincount(yte) / len(yte), np.bincount(y) / len(y), atol=0.01)
    np.testing.assert_array_equal(load_digits("test")[0], Xte)
    assert not np.array_equal(load_digits("test", random_state=1)[1], yte)


def test_load_array_npy(tmp_path):
    np.save(tmp_path / "i.npy", np.arange(12, dtype=np.int64).reshape(4, 3))
    np.save(tmp_path / "d.npy", np.ones((4, 3)))
    np.save(tmp_path / "v.npy", np.ones(4))
    X, y = load_array(tmp_path / "i.npy")
    assert X.dtype == np.float32 and y is None and X.shape == (4, 3)
    assert load_array(tmp_path / "d.npy")[0].dtype == np.float64
    X, y = load_array(tmp_path / "i.npy", label_column=-1)
    assert X.shape == (4, 2) and y.tolist() == [2, 5, 8, 11] and y.dtype == np.int64
    with pytest.raises(ValueError, match="2-D"):
        load_array(tmp_path / "v.npy")


def test_load_array_npz(tmp_path):
    np.savez(tmp_path / "a.npz", X=np.ones((5, 2), np.float32), y=np.arange(5.0))
    X, y = load_array(tmp_path / "a.npz")
    assert X.dtype == np.float32 and y.dtype == np.int64 and y.tolist() == [0, 1, 2, 3, 4]
    np.savez(tmp_path / "one.npz", data=np.ones((5, 2)))
    assert load_array(tmp_path / "one.npz")[0].shape == (5, 2)
    np.savez(tmp_path / "two.npz", a=np.ones((5, 2)), b=np.ones(5))
    with pytest.raises(ValueError, match=r"'a', 'b'"):
        load_array(tmp_path / "two.npz")
    np.savez(tmp_path / "obj.npz", X=np.array([{"a": 1}, None], dtype=object))
    with pytest.raises(ValueError, match="pickled"):
        load_array(tmp_path / "obj.npz")
    np.savez(tmp_path / "short.npz", X=np.ones((5, 2)), y=np.arange(4))
    with pytest.raises(ValueError, match="5 rows but 4 labels"):
        load_array(tmp_path / "short.npz")


def test_load_array_csv(tmp_path):
    (tmp_path / "h.csv").write_text("a,b,label\n1,2,0\n3,4,1\n5,6,1\n")
    X, y = load_array(tmp_path / "h.csv")
    np.testing.assert_array_equal(X, [[1, 2], [3, 4], [5, 6]])
    assert X.dtype == np.float32 and y.tolist() == [0, 1, 1] and y.dtype == np.int64
    X, y = load_array(tmp_path / "h.csv", label_column="a")
    assert y.tolist() == [1, 3, 5] and X.shape == (3, 2)
    (tmp_path / "n.csv").write_text("0.5,2,7\n1.5,4,8\n")
    X, y = load_array(tmp_path / "n.csv")
    assert y is None and X.dtype == np.float64 and X.shape == (2, 3)
    X, y = load_array(tmp_path / "n.csv", label_column=2)
    assert y.tolist() == [7, 8] and X.shape == (2, 2)
    with pytest.raises(ValueError, match="no header"):
        load_array(tmp_path / "n.csv", label_column="label")
    (tmp_path / "t.csv").write_text("a,b\n1,x\n")
    with pytest.raises(ValueError, match="numeric"):
        load_array(tmp_path / "t.csv")


def test_load_array_unknown_extension(tmp_path):
    (tmp_path / "data.parquet").write_bytes(b"x")
    with pytest.raises(ValueError, match=r"data\.parquet.*\.npy.*\.csv"):
        load_array(tmp_path / "data.parquet")


# --------------------------------------------------------------------------- load_dataset
def test_load_dataset_builtin(mnist_home):
    ds = load_dataset("mnist", data_home=mnist_home, download=False)
    assert isinstance(ds, Dataset) and ds.image_shape == (28, 28)
    assert ds.X_train.shape == (60000, 784) and ds.X_test.shape == (10000, 784)
    np.testing.assert_array_equal(np.bincount(ds.y_test), TEST_COUNTS)
    assert "60000" in repr(ds) and len(repr(ds)) < 300
    ds = load_dataset("digits")
    assert ds.image_shape == (8, 8) and ds.X_train.shape == (1437, 64) and len(ds.y_test) == 360
    ds = load_dataset("iris")
    assert ds.X_train.shape == (150, 4) and ds.X_test is None and ds.image_shape is None
    assert np.bincount(ds.y_train).tolist() == [50, 50, 50]


def test_load_dataset_files(tmp_path):
    np.save(tmp_path / "pix.npy", np.zeros((3, 784), np.uint8))
    np.save(tmp_path / "tab.npy", np.zeros((3, 9)))
    np.save(tmp_path / "stack.npy", np.zeros((3, 4, 6), np.float32))
    ds = load_dataset(str(tmp_path / "pix.npy"))
    assert ds.name == "pix" and ds.image_shape == (28, 28) and ds.y_train is None and ds.X_test is None
    assert load_dataset(tmp_path / "tab.npy").image_shape is None
    ds = load_dataset(tmp_path / "stack.npy")
    assert ds.image_shape == (4, 6) and ds.X_train.shape == (3, 24)


def test_load_dataset_unknown():
    with pytest.raises(ValueError, match=r"'cifar'.*mnist, digits, iris"):
        load_dataset("cifar")
    with pytest.raises(TypeError, match="spec"):
        load_dataset(3)
