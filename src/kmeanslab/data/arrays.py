"""Feature matrices from files: ``.npy``, ``.npz`` and ``.csv``, read into memory (large
``.npy`` files open lazily instead, see :mod:`.lazy`). Pickled data is always refused.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import numpy as np

from .tables import pick_columns



def as_features(arr, path):
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{path}: expected numeric data, found dtype {arr.dtype}")
    if arr.ndim < 2 or arr.shape[0] == 0:
        raise ValueError(f"{path}: expected a 2-D array (n_samples, n_features) with at "
                         f"least one row, found shape {arr.shape}")
    if arr.ndim > 2:
        arr = arr.reshape(len(arr), -1)
    wide = arr.dtype.kind == "f" and arr.dtype.itemsize >= 8
    return np.ascontiguousarray(arr, dtype=np.float64 if wide else np.float32)


def as_labels(y):
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


def _read_csv(path, label_column, columns):
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
    X, y, notes = pick_columns(arr, header, path, label_column, columns)
    if np.all(np.isfinite(X)) and np.all(X == np.round(X)):
        X = X.astype(np.float32)  # integer-valued text, e.g. pixel counts
    return X, y, notes


def read_array(path, label_column=None, columns=None):
    """Like load_array, also returning the per-row shape when the file kept one, and
    notes (one line each) about the columns guessed or suspected to be labels."""
    path = Path(path).expanduser()
    suffix = path.suffix.lower()
    y, notes = None, []
    if suffix == ".csv":
        X, y, notes = _read_csv(path, label_column, columns)
        return as_features(X, path), (None if y is None else as_labels(y)), None, notes
    if suffix == ".npy":
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
                raise ValueError(f"{path}: expected an array named 'X' (and optional 'y'), or Keras's "
                                 f"x_train, y_train, x_test, y_test; found keys {keys}")
        if y is not None and label_column not in (None, False):
            raise ValueError(f"label_column={label_column!r} given but {path} already "
                             "holds labels in 'y'")
    else:
        raise ValueError(f"{path}: unsupported file type {suffix or '(none)'!r}; "
                         "supported: .npy, .npz (arrays 'X' and optional 'y'), .csv, .parquet")
    row_shape = arr.shape[1:] if arr.ndim > 2 else None
    if arr.ndim == 2 and (y is None or columns is not None):
        arr, found, notes = pick_columns(arr, None, path, False if y is not None else label_column, columns)
        y = found if y is None else y
    elif label_column not in (None, False) or columns is not None:
        raise ValueError(f"{path}: label_column and columns need a 2-D array, found shape {arr.shape}")
    X = as_features(arr, path)
    if y is not None and len(y) != len(X):
        raise ValueError(f"{path}: {len(X)} rows but {len(y)} labels")
    return X, (None if y is None else as_labels(y)), row_shape, notes


def load_array(path, label_column=None):
    """Load a feature matrix (and labels, if the file has them) from .npy, .npz or .csv.

    Parameters
    ----------
    path : str or Path
        ``.npy`` (features only), ``.npz`` (arrays ``X`` and optional ``y``; a file with a
        single array of another name is taken as ``X``) or ``.csv`` (numeric, optional
        header row). Pickled data is always refused.
    label_column : int or str, optional
        Column holding the labels (index, or header name for CSV); False for none. A
        CSV header column named "label", "labels", "y", "target" or "class" is taken
        as the labels when None.

    Returns
    -------
    X : ndarray of shape (n, d)
        float64 if stored as float64 (or non-integer CSV text), else float32.
    y : ndarray of shape (n,) or None
        int64 when integer-valued.
    """
    X, y, _, _ = read_array(path, label_column)
    return X, y
