"""MNIST as other tools keep it: Keras's ``mnist.npz``, a torchvision ``MNIST/raw``
folder, Hugging Face's parquet files (``kmeanslab[parquet]``) and scikit-learn's OpenML
cache. Each reader returns both splits as ``(X_train, y_train, X_test, y_test, shape)``
with images as float32 in [0, 1], as the IDX reader gives them.
"""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import numpy as np

from .homes import DataError

KERAS_KEYS = ("x_train", "y_train", "x_test", "y_test")
OPENML_TRAIN_ROWS = 60_000  # mnist_784 holds the 60,000 training images, then the 10,000 test


def _images(arr, where):
    arr = np.asarray(arr)
    if arr.ndim == 2:
        side = int(round(arr.shape[1] ** 0.5))
        if side * side != arr.shape[1]:
            raise DataError(f"{where}: rows of {arr.shape[1]} values are not square images")
        arr = arr.reshape(len(arr), side, side)
    if arr.ndim != 3 or arr.dtype.kind not in "iuf":
        raise DataError(f"{where}: expected images of shape (n, H, W), found {arr.dtype} {arr.shape}")
    X = arr.reshape(len(arr), -1).astype(np.float32)
    if arr.dtype == np.uint8:
        X /= 255.0
    return X, arr.shape[1:]


def _labels(y, n, where):
    y = np.asarray(y).reshape(-1)
    if y.dtype.kind not in "iu" or len(y) != n:
        raise DataError(f"{where}: expected {n} integer labels, found {y.dtype} {y.shape}")
    return y.astype(np.int64)


def is_keras_npz(path):
    path = Path(path)
    if path.suffix.lower() != ".npz" or not path.is_file():
        return False
    with np.load(path, allow_pickle=False) as npz:
        return set(KERAS_KEYS) <= set(npz.files)


def read_keras_npz(path):
    """Keras's ``mnist.npz`` (and its twins, e.g. ``fashion_mnist``): x_train, y_train,
    x_test, y_test, uint8 images."""
    path = Path(path)
    with np.load(path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in KERAS_KEYS}
    X_tr, shape = _images(arrays["x_train"], f"{path}: x_train")
    X_te, shape_te = _images(arrays["x_test"], f"{path}: x_test")
    if shape != shape_te:
        raise DataError(f"{path}: train images are {shape} but test images are {shape_te}")
    return (X_tr, _labels(arrays["y_train"], len(X_tr), f"{path}: y_train"),
            X_te, _labels(arrays["y_test"], len(X_te), f"{path}: y_test"), tuple(shape))


def torchvision_raw(folder):
    """The folder of IDX files under a torchvision root (``root``, ``root/MNIST`` or
    ``root/MNIST/raw``), or None."""
    folder = Path(folder)
    for sub in ("", "raw", "MNIST/raw"):
        cand = folder / sub if sub else folder
        if cand.is_dir() and any(cand.glob("*-images-idx3-ubyte*")):
            return cand
    return None


# -- parquet (Hugging Face) ---------------------------------------------------------------

def _pyarrow():
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise ImportError("reading parquet files needs pyarrow: pip install 'kmeanslab[parquet]'") from None
    return pq


def parquet_parts(path):
    """``{"train": [files], "test": [files]}`` of a folder of parquet files (a file named
    ``*test*`` is the test part; the rest train) or of one file (all train)."""
    path = Path(path)
    if not path.is_dir():  # one file named on its own: all its rows are the rows to cluster
        return {"train": [path], "test": []}
    files = sorted(path.glob("**/*.parquet"))
    parts = {"train": [], "test": []}
    for f in files:
        parts["test" if "test" in f.name.lower() else "train"].append(f)
    if not parts["train"]:
        raise DataError(f"{path}: no training parquet file (only test files: "
                        f"{', '.join(f.name for f in parts['test'])})")
    return parts


def _decode(cells, where):
    from PIL import Image

    rows = []
    for cell in cells:
        data = cell.get("bytes") if isinstance(cell, dict) else cell
        if data is None:
            raise DataError(f"{where}: an image cell holds no bytes")
        rows.append(np.asarray(Image.open(io.BytesIO(data))))
    return np.stack(rows)


def read_parquet(files, label_column=None, columns=None):
    """One part (a list of files): (X, y, image shape or None, notes).

    A column of encoded images (Hugging Face's ``image``: a struct with ``bytes``, or
    raw bytes) gives image rows; otherwise the numeric columns are a table, with the
    label column chosen as for CSV files.
    """
    from .tables import pick_columns

    pq = _pyarrow()
    import pyarrow as pa

    table = pa.concat_tables([pq.read_table(f) for f in files])
    where = files[0] if len(files) == 1 else files[0].parent
    image_cols = [f.name for f in table.schema
                  if pa.types.is_struct(f.type) or pa.types.is_binary(f.type) or pa.types.is_large_binary(f.type)]
    if image_cols:
        if columns is not None:
            raise ValueError(f"{where}: columns applies to tables of numbers, not to images")
        images = _decode(table.column(image_cols[0]).to_pylist(), where)
        X, shape = _images(images, where)
        label = label_column if label_column not in (None, False) else ("label" if label_column is None else None)
        if label is not None and label not in table.column_names:
            if label_column is not None:
                raise ValueError(f"label_column {label!r} is not a column of {where} "
                                 f"(columns: {', '.join(table.column_names)})")
            label = None
        y = _labels(table.column(label).to_numpy(), len(X), where) if label else None
        return X, y, tuple(shape), []
    names = [f.name for f in table.schema if pa.types.is_integer(f.type) or pa.types.is_floating(f.type)
             or pa.types.is_boolean(f.type)]
    if not names:
        raise DataError(f"{where}: no numeric or image column (columns: {', '.join(table.column_names)})")
    arr = np.column_stack([table.column(n).to_numpy(zero_copy_only=False) for n in names]).astype(np.float64)
    X, y, notes = pick_columns(arr, names, where, label_column, columns)
    return X, y, None, notes


# -- scikit-learn's OpenML cache ----------------------------------------------------------

def read_openml_arff(path):
    """``fetch_openml("mnist_784")``'s cached ARFF (gzipped): 70,000 rows of 784 pixels
    (0-255) and the class; the first 60,000 are MNIST's training images."""
    path = Path(path)
    raw = path.read_bytes()
    raw = gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
    lower = raw.lower()
    at = lower.find(b"@data")
    if at < 0:
        raise DataError(f"{path}: not an ARFF file (no @DATA section)")
    body = raw[raw.index(b"\n", at) + 1:].replace(b'"', b"'")
    try:
        table = np.loadtxt(io.BytesIO(body), delimiter=",", quotechar="'", dtype=np.int64, ndmin=2,
                           comments="%")
    except ValueError as exc:
        raise DataError(f"{path}: cannot read its @DATA rows ({exc})") from None
    if table.shape[1] != 785:
        raise DataError(f"{path}: rows of {table.shape[1]} values, expected 784 pixels and a class")
    if table.shape[0] <= OPENML_TRAIN_ROWS:
        raise DataError(f"{path}: {table.shape[0]} rows; mnist_784 has 70,000")
    X, shape = _images(table[:, :784].astype(np.uint8), path)
    y = table[:, 784].astype(np.int64)
    n = OPENML_TRAIN_ROWS
    return X[:n], y[:n], X[n:], y[n:], tuple(shape)
