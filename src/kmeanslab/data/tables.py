"""Tables of numbers (CSV, parquet, 2-D arrays): which column holds the labels, which
columns are features, and a seeded train/test split for data that have none.

A label column is taken by name only when its header says so (``label``, ``y``,
``target``, ``class``), and then with a note; a feature column that merely looks like
class labels is never taken, but named in a note, so that a user is not left with
every label metric blank and no word why.
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np

LABEL_NAMES = ("label", "labels", "y", "target", "class")
# A first or last column of consecutive small integers, each common, looks like classes.
_MAX_CLASSES = 50
_MIN_SHARE = 0.01


def parse_columns(text):
    """``"a,b,3,5:9"`` -> ``["a", "b", 3, 5, 6, 7, 8, 9]``: names, indices and inclusive
    index ranges; a list is taken item by item."""
    items = text if isinstance(text, (list, tuple)) else str(text).split(",")
    out = []
    for item in items:
        if isinstance(item, (int, np.integer)) and not isinstance(item, bool):
            out.append(int(item))
            continue
        if not isinstance(item, str):
            raise TypeError(f"columns must hold names or indices, got {item!r}")
        part = item.strip()
        if re.fullmatch(r"\d+:\d+", part):
            a, b = (int(v) for v in part.split(":"))
            if b < a:
                raise ValueError(f"columns: range {part!r} must go up")
            out.extend(range(a, b + 1))
        elif re.fullmatch(r"-?\d+", part):
            out.append(int(part))
        elif part:
            out.append(part)
    if not out:
        raise ValueError(f"columns: no column in {text!r}")
    return out


def _index(column, header, width, path, what):
    """Index of ``column`` (a name or an index) among ``width`` columns."""
    if isinstance(column, str):
        if header is None or column not in header:
            hint = f" (columns: {', '.join(header[:20])}{', ...' if len(header) > 20 else ''})" if header \
                else " (no header row: give an index)"
            raise ValueError(f"{what} {column!r} is not a column of {path}{hint}")
        return header.index(column)
    if not isinstance(column, (int, np.integer)) or isinstance(column, bool):
        raise TypeError(f"{what} must be an int, a column name or None, got {type(column).__name__}")
    if not -width <= column < width:
        raise ValueError(f"{what}={column} is out of range for {path} with {width} columns")
    return int(column) % width


def _name(i, header):
    return f"{header[i]!r} (column {i})" if header else f"column {i}"


def looks_like_labels(values):
    """Consecutive small integers from 0 or 1, 2 to 50 of them, each in >= 1 % of rows."""
    values = np.asarray(values)
    if values.dtype.kind not in "biuf" or values.size < 4:
        return False
    if values.dtype.kind == "f" and not (np.all(np.isfinite(values)) and np.all(values == np.round(values))):
        return False
    found, counts = np.unique(values.astype(np.int64), return_counts=True)
    return (2 <= found.size <= _MAX_CLASSES and found[0] in (0, 1)
            and found[-1] - found[0] == found.size - 1 and counts.min() >= _MIN_SHARE * values.size)


def pick_columns(arr, header, path, label_column=None, columns=None):
    """Split a 2-D table into features and labels.

    Parameters
    ----------
    arr : ndarray (n, width)
    header : list of str or None
    label_column : None, False, int or str
        None: a column whose header is one of :data:`LABEL_NAMES` (exactly one) is the
        labels, with a note; False: no labels; otherwise that column.
    columns : list of int or str, optional
        The feature columns (default: all but the labels).

    Returns
    -------
    X, y (or None), notes (list of str)
    """
    width = arr.shape[1]
    notes = []
    label = None
    if label_column is None and header:
        named = [i for i, name in enumerate(header) if name.strip().lower() in LABEL_NAMES]
        if len(named) == 1:
            label = named[0]
            notes.append(f"{path}: took {_name(label, header)} as the class labels "
                         "(--label-column picks another, --no-labels takes none)")
    elif label_column is not None and label_column is not False:
        label = _index(label_column, header, width, path, "label_column")
    if columns is not None:
        keep = [_index(c, header, width, path, "column") for c in parse_columns(columns)]
        if label is not None and label in keep:
            raise ValueError(f"{path}: {_name(label, header)} is the label column and cannot also be a feature")
        if len(set(keep)) != len(keep):
            raise ValueError(f"{path}: a column is listed twice in columns")
    else:
        keep = [i for i in range(width) if i != label]
    if not keep:
        raise ValueError(f"{path}: no feature column left")
    y = arr[:, label] if label is not None else None
    if label is None and label_column is not False:
        for i in dict.fromkeys((keep[0], keep[-1])):
            if looks_like_labels(arr[:, i]):
                notes.append(f"warning: {path}: {_name(i, header)} looks like class labels but is "
                             f"clustered as a feature; --label-column {header[i] if header else i} "
                             "takes it as the labels, --no-labels keeps it as a feature")
    return arr[:, keep], y, notes


def split_test(ds, test_size, random_state=0):
    """``ds`` with a seeded held-out part of its training rows (stratified by the labels
    when every class has two rows or more)."""
    from sklearn.model_selection import train_test_split

    if ds.X_test is not None:
        raise ValueError(f"test_size given but {ds.name} already has a test split "
                         f"({len(ds.X_test)} rows); use {ds.name}:all to pool and re-split it")
    if ds.lazy:
        raise ValueError("test_size needs the rows in memory; it cannot split a lazily read data set")
    bad = isinstance(test_size, bool) or not isinstance(test_size, (int, float, np.number))
    n = ds.X_train.shape[0]
    if bad or not (0 < test_size < 1 or (float(test_size).is_integer() and 1 <= test_size < n)):
        raise ValueError(f"test_size must be a fraction in (0, 1) or a row count in [1, {n}), got {test_size!r}")
    if isinstance(test_size, float) and test_size >= 1:
        test_size = int(test_size)
    y = ds.y_train
    stratify = None
    if y is not None:
        _, counts = np.unique(y, return_counts=True)
        n_test = test_size if test_size >= 1 else int(np.ceil(test_size * n))
        if counts.min() >= 2 and counts.size <= min(n_test, n - n_test):
            stratify = y
    idx_tr, idx_te = train_test_split(np.arange(n), test_size=test_size, random_state=random_state,
                                      stratify=stratify)
    idx_tr, idx_te = np.sort(idx_tr), np.sort(idx_te)
    return dataclasses.replace(
        ds, X_train=ds.X_train[idx_tr], y_train=None if y is None else y[idx_tr],
        X_test=ds.X_train[idx_te], y_test=None if y is None else y[idx_te],
        notes=ds.notes + (f"held out {len(idx_te)} of {n} rows as the test split (seeded"
                          f"{', stratified by class' if stratify is not None else ''})",))
