"""Data loaders: MNIST-family IDX files (cache, checksums, download), digits, arrays.

Where MNIST is looked for, in order (each folder holding ``mnist/<file>``):

1. ``data_home`` when the caller passes one;
2. ``$KMEANSLAB_DATA`` (treated as read-only: nothing is ever written there);
3. the user cache, ``$XDG_CACHE_HOME/kmeanslab`` or ``~/.cache/kmeanslab``.

A download goes into ``data_home`` when given (and writable), else into the user cache.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import os
import zlib
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

__all__ = [
    "DataError", "DataNotFoundError", "Dataset", "MNIST_FILES", "MNIST_MIRRORS",
    "MNIST_SHA256", "candidate_homes", "get_data_home", "load_array", "load_dataset",
    "load_digits", "load_idx", "load_mnist", "read_idx",
]

MNIST_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
# Of the decompressed bytes, so a mirror that recompresses the same data still passes.
MNIST_SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
MNIST_SPLITS = ("train", "test", "all")
DATASET_NAMES = ("mnist", "digits", "iris")

# IDX type code -> big-endian numpy dtype, per the format's specification.
_IDX_DTYPES = {
    0x08: np.dtype(">u1"), 0x09: np.dtype(">i1"), 0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8"),
}
_CHUNK = 1 << 16


class DataError(ValueError):
    """A data file is truncated, corrupted or not in the expected format."""


class DataNotFoundError(FileNotFoundError):
    """Data is neither present locally nor could be downloaded."""


# --------------------------------------------------------------------------- homes
def _user_cache() -> Path:
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "kmeanslab"


def get_data_home(data_home=None) -> Path:
    """Return the primary data folder: ``data_home``, ``$KMEANSLAB_DATA`` or the user cache."""
    if data_home is not None:
        return Path(data_home).expanduser()
    env = os.environ.get("KMEANSLAB_DATA")
    return Path(env).expanduser() if env else _user_cache()


def candidate_homes(data_home=None) -> list[Path]:
    """Return the folders searched for data, in order, without duplicates."""
    homes = [Path(data_home).expanduser()] if data_home is not None else []
    env = os.environ.get("KMEANSLAB_DATA")
    if env:
        homes.append(Path(env).expanduser())
    homes.append(_user_cache())
    return list(dict.fromkeys(homes))


def _download_dir(data_home, subdir: str) -> Path:
    """First writable of data_home/subdir (if given) and the user cache's subdir."""
    tried = []
    for home in ([Path(data_home).expanduser()] if data_home is not None else []) + [_user_cache()]:
        folder = home / subdir
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            tried.append(f"{folder} ({exc.strerror or exc})")
            continue
        if os.access(folder, os.W_OK | os.X_OK):
            return folder
        tried.append(f"{folder} (not writable)")
    raise DataNotFoundError(
        "no writable folder to download into; tried: " + "; ".join(tried)
        + ". Pass a writable data_home, or point KMEANSLAB_DATA at a folder that already "
        f"holds {subdir}/ with the data files."
    )


# --------------------------------------------------------------------------- IDX
def _read_bytes(path: Path) -> bytes:
    """Return the file's content, gunzipped when it starts with the gzip magic."""
    raw = path.read_bytes()
    if raw[:2] != b"\x1f\x8b":
        return raw
    try:
        return gzip.decompress(raw)
    except (EOFError, zlib.error, gzip.BadGzipFile, OSError) as exc:
        raise DataError(
            f"{path}: truncated or corrupted gzip file ({exc}); delete it and run again "
            "to re-download, or replace it with a good copy"
        ) from None


def _parse_idx(data: bytes, path) -> np.ndarray:
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_DTYPES:
        raise DataError(
            f"{path}: not an IDX file (expected magic 00 00 <type> <ndim> with type one of "
            f"{', '.join(f'0x{c:02X}' for c in _IDX_DTYPES)}, found {data[:4].hex(' ') or 'an empty file'}); "
            "delete it and run again to re-download, or replace it with a good copy"
        )
    dtype, ndim = _IDX_DTYPES[data[2]], data[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(data) < header:
        raise DataError(f"{path}: IDX header declares {ndim} dimensions but the file "
                        f"holds only {len(data)} bytes; the file is damaged, delete it")
    dims = tuple(int(d) for d in np.frombuffer(data, ">u4", count=ndim, offset=4))
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    if len(data) - header != expected:
        raise DataError(
            f"{path}: IDX dimensions {dims} need {expected} payload bytes, found "
            f"{len(data) - header}; the file is truncated or damaged, delete it and run "
            "again to re-download"
        )
    arr = np.frombuffer(data, dtype, offset=header).reshape(dims)
    return arr.astype(dtype.newbyteorder("="), copy=False)


def read_idx(path) -> np.ndarray:
    """Read one IDX file (gzipped or not) into an array with its IDX shape.

    Parameters
    ----------
    path : str or Path
        The file. Compression is detected by its magic bytes, not its name.

    Returns
    -------
    ndarray
        Native byte order; ``uint8`` for MNIST images and labels.

    Raises
    ------
    DataError
        Truncated gzip, wrong magic number, or payload length not matching the dims.
    """
    path = Path(path)
    arr = _parse_idx(_read_bytes(path), path)
    # A view on bytes is read-only; callers expect an ordinary, writable array.
    return arr if arr.flags.writeable else arr.copy()


def _images_labels(img_path: Path, lbl_path: Path, sha256: dict | None = None):
    """Read an image file and a label file, check them, return (X, y, (H, W)).

    ``sha256`` maps file stems to the checksums to verify; files not in it are trusted.
    """
    arrays = []
    for path in (img_path, lbl_path):
        data = _read_bytes(path)
        if sha256 and _stem(path.name) in sha256:
            _check_sha(data, sha256[_stem(path.name)], path)
        arrays.append(_parse_idx(data, path))
    images, labels = arrays
    if images.ndim != 3 or images.dtype != np.uint8:
        raise DataError(f"{img_path}: expected unsigned-byte images of shape (n, H, W), "
                        f"found {images.dtype} with shape {images.shape}")
    if labels.ndim != 1 or labels.dtype.kind not in "iu":
        raise DataError(f"{lbl_path}: expected a 1-D integer label file, found "
                        f"{labels.dtype} with shape {labels.shape}")
    if len(images) != len(labels):
        raise DataError(
            f"{img_path} holds {len(images)} images but {lbl_path} holds {len(labels)} "
            "labels; one of them is damaged or from another set, delete both and run again"
        )
    n, h, w = images.shape
    X = images.reshape(n, h * w).astype(np.float32)
    X /= 255.0
    return X, labels.astype(np.int64), (h, w)


def _stem(filename: str) -> str:
    return filename[:-3] if filename.endswith(".gz") else filename


def _check_sha(data: bytes, expected: str, where) -> None:
    found = hashlib.sha256(data).hexdigest()
    if found != expected:
        raise DataError(f"{where}: SHA-256 of the content is {found}, expected {expected}; "
                        "the file is damaged or not the expected one, delete it")


# --------------------------------------------------------------------------- download
def _download(filename: str, dest_dir: Path, mirrors, progress=None, timeout=30) -> Path:
    """Fetch ``filename`` from the first mirror that serves it with the right checksum.

    The bytes go to a temporary file beside the destination, which is renamed onto the
    final name only once its decompressed SHA-256 matches, so an interrupted or bad
    download never leaves a file that a later run would trust.
    """
    from http.client import HTTPException  # network modules load only when needed

    expected = MNIST_SHA256[_stem(filename)]
    final = dest_dir / filename
    errors = []
    for base in mirrors:
        url = base if base.endswith("/") else base + "/"
        url += filename
        logger.info("downloading %s", url)
        try:
            _fetch(url, final, expected, progress, timeout)
        except (OSError, HTTPException, ValueError) as exc:
            logger.warning("download of %s failed: %s", url, exc)
            errors.append(f"{url}: {type(exc).__name__}: {exc}")
            continue
        logger.info("saved %s", final)
        return final
    raise DataNotFoundError(
        f"could not download {filename}; every mirror failed:\n  " + "\n  ".join(errors)
        + f"\nCopy the file into {dest_dir} by hand, or point KMEANSLAB_DATA at a folder "
        "holding mnist/ with the four MNIST files."
    )


def _fetch(url: str, final: Path, expected_sha: str, progress, timeout) -> None:
    import urllib.request

    from ._io import atomic_open

    def verify(tmp):
        _check_sha(_read_bytes(tmp), expected_sha, url)

    # Also on KeyboardInterrupt: a half-written .part never outlives the attempt.
    with atomic_open(final, check=verify, suffix=".part") as out:
        request = urllib.request.Request(url, headers={"User-Agent": "kmeanslab"})
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            length = resp.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            done = 0
            if progress is not None:
                progress(final.name, 0, total)
            while chunk := resp.read(_CHUNK):
                out.write(chunk)
                done += len(chunk)
                if progress is not None:
                    progress(final.name, done, total)
        if total is not None and done != total:
            raise OSError(f"connection closed after {done} of {total} bytes")


# --------------------------------------------------------------------------- MNIST
def _find(filename: str, homes) -> Path | None:
    for home in homes:
        for name in (filename, _stem(filename)):
            path = home / "mnist" / name
            if path.is_file():
                return path
    return None


def load_mnist(split="train", data_home=None, download=True, *, mirrors=None,
               progress=None, timeout=30, verify=False):
    """Load MNIST from the local copy, downloading the missing files first if allowed.

    Parameters
    ----------
    split : {"train", "test", "all"}
        "all" is the 60,000 training rows followed by the 10,000 test rows.
    data_home : str or Path, optional
        Folder holding ``mnist/``; searched first, and where downloads go.
    download : bool
        Fetch missing files from ``mirrors`` (checksums are verified after download).
    mirrors : sequence of str, optional
        Base URLs tried in order; default :data:`MNIST_MIRRORS`.
    progress : callable, optional
        ``progress(filename, done_bytes, total_bytes_or_None)``, called while downloading.
    timeout : float
        Socket timeout in seconds for each download attempt.
    verify : bool
        Also check the SHA-256 of files already present (reads them once more).

    Returns
    -------
    X : ndarray of shape (n, 784), float32 in [0, 1], C-contiguous
    y : ndarray of shape (n,), int64
    """
    if split not in MNIST_SPLITS:
        raise ValueError(f"split must be one of {MNIST_SPLITS}, got {split!r}")
    parts = ("train", "test") if split == "all" else (split,)
    homes = candidate_homes(data_home)
    mirrors = MNIST_MIRRORS if mirrors is None else tuple(mirrors)
    Xs, ys = [], []
    for part in parts:
        paths, to_verify = [], {}
        for filename in MNIST_FILES[part]:
            path = _find(filename, homes)
            if path is None:
                if not download:
                    raise DataNotFoundError(
                        f"MNIST file {filename} not found; looked in: "
                        + ", ".join(str(h / "mnist") for h in homes)
                        + ". Set KMEANSLAB_DATA to a folder holding mnist/ with the four "
                        "MNIST .gz files, pass data_home=..., or use download=True."
                    )
                path = _download(filename, _download_dir(data_home, "mnist"), mirrors,
                                 progress, timeout)
            elif verify:  # freshly downloaded files were hashed on the way in
                to_verify[_stem(filename)] = MNIST_SHA256[_stem(filename)]
            paths.append(path)
        X, y, _ = _images_labels(*paths, sha256=to_verify)
        Xs.append(X)
        ys.append(y)
    if len(Xs) == 1:
        return Xs[0], ys[0]
    return np.concatenate(Xs), np.concatenate(ys)


# --------------------------------------------------------------------------- IDX folders
_IDX_PATTERNS = {
    "train": (("*train-images*idx3*",), ("*train-labels*idx1*",)),
    "test": (("*t10k-images*idx3*", "*test-images*idx3*"),
             ("*t10k-labels*idx1*", "*test-labels*idx1*")),
}


def _glob_one(folder: Path, patterns, what: str) -> Path:
    found = {}
    for pattern in patterns:
        for p in folder.glob(pattern):
            if p.is_file() and not p.name.startswith(".") and not p.name.endswith(".part"):
                # A file and its gzipped twin are the same data; keep one of them.
                found.setdefault(_stem(p.name), p)
    if not found:
        raise DataNotFoundError(
            f"{folder}: no {what} file (looked for {' or '.join(patterns)}, "
            "with or without .gz)"
        )
    if len(found) > 1:
        raise ValueError(f"{folder}: several {what} files match: "
                         f"{', '.join(sorted(found))}; keep one set per folder")
    return next(iter(found.values()))


def _load_idx_folder(folder, split):
    folder = Path(folder).expanduser()
    if split not in MNIST_SPLITS:
        raise ValueError(f"split must be one of {MNIST_SPLITS}, got {split!r}")
    if not folder.is_dir():
        raise DataNotFoundError(f"IDX folder {folder} does not exist or is not a folder")
    parts = ("train", "test") if split == "all" else (split,)
    out = []
    for part in parts:
        img_pats, lbl_pats = _IDX_PATTERNS[part]
        out.append(_images_labels(_glob_one(folder, img_pats, f"{part} images"),
                                  _glob_one(folder, lbl_pats, f"{part} labels")))
    if len(out) == 1:
        return out[0]
    (X1, y1, s1), (X2, y2, s2) = out
    if s1 != s2:
        raise DataError(f"{folder}: train images are {s1} but test images are {s2}")
    return np.concatenate([X1, X2]), np.concatenate([y1, y2]), s1


def load_idx(folder, split="train"):
    """Load an MNIST-like set (Fashion-MNIST, KMNIST, EMNIST ...) from a folder of IDX files.

    Files are matched by pattern (``*train-images*idx3*``, ``*t10k-images*idx3*`` or
    ``*test-images*idx3*``, and the ``labels``/``idx1`` twins), gzipped or not. EMNIST
    stores its images transposed; transpose them yourself before displaying.

    Returns
    -------
    X : ndarray of shape (n, H*W), float32 in [0, 1]
    y : ndarray of shape (n,), int64
    """
    X, y, _ = _load_idx_folder(folder, split)
    return X, y


# --------------------------------------------------------------------------- sklearn sets
def load_digits(split="all", test_size=0.2, random_state=0):
    """Load scikit-learn's 8x8 digits as float32 in [0, 1] with int64 labels.

    "train" and "test" are the two sides of a stratified split seeded by
    ``random_state``; "all" is every row in the original order.
    """
    if split not in MNIST_SPLITS:
        raise ValueError(f"split must be one of {MNIST_SPLITS}, got {split!r}")
    from sklearn.datasets import load_digits as sk_load_digits

    bunch = sk_load_digits()
    X = (bunch.data / 16.0).astype(np.float32)
    y = bunch.target.astype(np.int64)
    if split == "all":
        return X, y
    from sklearn.model_selection import train_test_split

    X_tr, X_te, y_tr, y_te = train_test_split(
        X, y, test_size=test_size, random_state=random_state, stratify=y)
    return (X_tr, y_tr) if split == "train" else (X_te, y_te)


# --------------------------------------------------------------------------- arrays
_LABEL_NAMES = ("label", "y", "target")


def _as_features(arr, path):
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{path}: expected numeric data, found dtype {arr.dtype}")
    if arr.ndim < 2 or arr.shape[0] == 0:
        raise ValueError(f"{path}: expected a 2-D array (n_samples, n_features) with at "
                         f"least one row, found shape {arr.shape}")
    if arr.ndim > 2:
        arr = arr.reshape(len(arr), -1)
    wide = arr.dtype.kind == "f" and arr.dtype.itemsize >= 8
    return np.ascontiguousarray(arr, dtype=np.float64 if wide else np.float32)


def _as_labels(y):
    y = np.asarray(y)
    if y.dtype.kind in "biu":
        return y.astype(np.int64)
    if y.dtype.kind == "f" and np.all(np.isfinite(y)) and np.all(y == np.round(y)):
        return y.astype(np.int64)
    return y


@contextmanager
def _refusing_pickle(path):
    """Turn numpy's pickle refusal (raised on load or on first access) into a clear error."""
    try:
        yield
    except ValueError as exc:
        if "pickle" in str(exc):
            raise ValueError(f"{path}: holds pickled (object) data, which is refused "
                             "for safety; save plain numeric arrays instead") from None
        raise ValueError(f"{path}: cannot read as a NumPy file ({exc})") from None


def _split_column(arr, label_column, path, header=None):
    if label_column is None:
        return arr, None
    if isinstance(label_column, str):
        if header is None or label_column not in header:
            raise ValueError(f"label_column {label_column!r} is not a column of {path}"
                             + (f" (columns: {header})" if header else " (no header row)"))
        label_column = header.index(label_column)
    if not isinstance(label_column, (int, np.integer)) or isinstance(label_column, bool):
        raise TypeError(f"label_column must be an int, a column name or None, "
                        f"got {type(label_column).__name__}")
    if arr.ndim != 2 or not -arr.shape[1] <= label_column < arr.shape[1]:
        raise ValueError(f"label_column={label_column} is out of range for {path} "
                         f"with shape {arr.shape}")
    return np.delete(arr, label_column, axis=1), arr[:, label_column]


def _read_csv(path, label_column):
    with open(path, encoding="utf-8-sig") as f:
        first = f.readline()
    fields = [s.strip().strip('"') for s in first.split(",")]
    try:
        [float(s) for s in fields]
        header = None
    except ValueError:
        header = fields
    try:
        arr = np.loadtxt(path, delimiter=",", skiprows=1 if header else 0, ndmin=2,
                         dtype=np.float64, encoding="utf-8-sig")
    except ValueError as exc:
        raise ValueError(f"{path}: not a numeric CSV file ({exc})") from None
    if label_column is None and header:
        auto = [i for i, name in enumerate(header) if name.lower() in _LABEL_NAMES]
        if len(auto) == 1:
            label_column = auto[0]
    X, y = _split_column(arr, label_column, path, header)
    if np.all(np.isfinite(X)) and np.all(X == np.round(X)):
        X = X.astype(np.float32)  # integer-valued text, e.g. pixel counts
    return X, y


def _load_array(path, label_column=None):
    """Like load_array, also returning the per-row shape when the file kept one."""
    path = Path(path).expanduser()
    suffix = path.suffix.lower()
    y = None
    if suffix == ".csv":
        arr, y = _read_csv(path, label_column)
        label_column = None
    elif suffix == ".npy":
        with _refusing_pickle(path):
            arr = np.load(path, allow_pickle=False)
    elif suffix == ".npz":
        with _refusing_pickle(path), np.load(path, allow_pickle=False) as npz:
            keys = list(npz.files)
            if "X" in keys:
                arr = npz["X"]
                y = npz["y"] if "y" in keys else None
            elif len(keys) == 1:
                arr = npz[keys[0]]
            else:
                raise ValueError(f"{path}: expected an array named 'X' (and optional 'y'), "
                                 f"found keys {keys}")
        if y is not None and label_column is not None:
            raise ValueError(f"label_column={label_column!r} given but {path} already "
                             "holds labels in 'y'")
    else:
        raise ValueError(f"{path}: unsupported file type {suffix or '(none)'!r}; "
                         "supported: .npy, .npz (arrays 'X' and optional 'y'), .csv")
    row_shape = arr.shape[1:] if arr.ndim > 2 else None
    if label_column is not None:
        arr, y = _split_column(arr, label_column, path)
    X = _as_features(arr, path)
    if y is not None and len(y) != len(X):
        raise ValueError(f"{path}: {len(X)} rows but {len(y)} labels")
    return X, (None if y is None else _as_labels(y)), row_shape


def load_array(path, label_column=None):
    """Load a feature matrix (and labels, if the file has them) from .npy, .npz or .csv.

    Parameters
    ----------
    path : str or Path
        ``.npy`` (features only), ``.npz`` (arrays ``X`` and optional ``y``; a file with a
        single array of another name is taken as ``X``) or ``.csv`` (numeric, optional
        header row). Pickled data is always refused.
    label_column : int or str, optional
        Column holding the labels (index, or header name for CSV). A CSV header column
        named "label", "y" or "target" is taken as the labels automatically.

    Returns
    -------
    X : ndarray of shape (n, d)
        float64 if stored as float64 (or non-integer CSV text), else float32.
    y : ndarray of shape (n,) or None
        int64 when integer-valued.
    """
    X, y, _ = _load_array(path, label_column)
    return X, y


# --------------------------------------------------------------------------- Dataset
@dataclass
class Dataset:
    """A loaded data set: train part, optional test part, and image shape if images."""

    name: str
    X_train: np.ndarray
    y_train: np.ndarray | None
    X_test: np.ndarray | None = None
    y_test: np.ndarray | None = None
    image_shape: tuple | None = None

    def __repr__(self):
        def shape(a):
            return None if a is None else tuple(a.shape)

        return (f"Dataset(name={self.name!r}, X_train={shape(self.X_train)}, "
                f"y_train={shape(self.y_train)}, X_test={shape(self.X_test)}, "
                f"y_test={shape(self.y_test)}, image_shape={self.image_shape})")


def _square_shape(width):
    s = int(round(width ** 0.5))
    return (s, s) if s > 1 and s * s == width and width >= 16 else None


def load_dataset(spec, data_home=None, download=True, *, progress=None) -> Dataset:
    """Load a data set by name ("mnist", "digits", "iris") or from a path.

    A path may be a folder of IDX files (train and test parts) or a .npy/.npz/.csv file
    (all rows as the train part). A name wins over a same-named folder in the working
    directory; write ``./mnist`` to mean the folder.
    """
    if not isinstance(spec, (str, os.PathLike)):
        raise TypeError(f"spec must be a data set name or a path, got {type(spec).__name__}")
    name = spec.lower() if isinstance(spec, str) else None
    if name == "mnist":
        X_tr, y_tr = load_mnist("train", data_home, download, progress=progress)
        X_te, y_te = load_mnist("test", data_home, download, progress=progress)
        return Dataset("mnist", X_tr, y_tr, X_te, y_te, (28, 28))
    if name == "digits":
        X_tr, y_tr = load_digits("train")
        X_te, y_te = load_digits("test")
        return Dataset("digits", X_tr, y_tr, X_te, y_te, (8, 8))
    if name == "iris":
        from sklearn.datasets import load_iris

        bunch = load_iris()
        return Dataset("iris", bunch.data.astype(np.float32), bunch.target.astype(np.int64))
    path = Path(spec).expanduser()
    if path.is_dir():
        X_tr, y_tr, shape = _load_idx_folder(path, "train")
        X_te, y_te, shape_te = _load_idx_folder(path, "test")
        if shape != shape_te:
            raise DataError(f"{path}: train images are {shape} but test images are {shape_te}")
        return Dataset(path.name, X_tr, y_tr, X_te, y_te, shape)
    if path.is_file():
        X, y, row_shape = _load_array(path)
        shape = tuple(row_shape) if row_shape and len(row_shape) == 2 else _square_shape(X.shape[1])
        return Dataset(path.stem, X, y, None, None, shape)
    raise ValueError(f"unknown data set {str(spec)!r}: not one of {', '.join(DATASET_NAMES)} "
                     "and not an existing folder of IDX files or .npy/.npz/.csv file")
