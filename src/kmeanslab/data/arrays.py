"""Feature matrices from files: ``.npy``, ``.npz`` and ``.csv``, read into memory (large
``.npy`` files open lazily instead, see :mod:`.lazy`). Pickled data is always refused.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import numpy as np

_LABEL_NAMES = ("label", "y", "target")


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


def read_array(path, label_column=None):
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
    X = as_features(arr, path)
    if y is not None and len(y) != len(X):
        raise ValueError(f"{path}: {len(X)} rows but {len(y)} labels")
    return X, (None if y is None else as_labels(y)), row_shape


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
    X, y, _ = read_array(path, label_column)
    return X, y
