"""A dataset spec in, a :class:`Dataset` out, eager or lazy by one rule."""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from .._blocks import is_dask_array
from .homes import DataError

NAMES = ("mnist", "digits", "iris")
SPLITS = ("train", "test", "all")
# A .npy file larger than this opens lazily (row blocks read on demand); smaller ones are read.
LAZY_BYTES = 1 << 30


@dataclass(frozen=True)
class Dataset:
    """A loaded data set: rows to cluster, optional held-out rows, image shape if images.

    ``X_train`` is a NumPy array, or a dask array of row blocks when the source is opened
    lazily (see :func:`load_dataset`); labels are always in memory (or None).
    """

    name: str
    X_train: object
    y_train: np.ndarray | None
    X_test: np.ndarray | None = None
    y_test: np.ndarray | None = None
    image_shape: tuple | None = None
    notes: tuple = ()  # one line each: what was guessed, read from where, or looks wrong
    source: str | None = None  # the file a lazy X_train is read from

    @cached_property
    def fingerprint(self):
        """A short hash of the data, computed once: the shapes, dtypes and labels, and
        every row's and column's sum in float64 (one pass over X), so that any changed
        value changes it. A lazy X is fingerprinted by its source file's size and time."""
        h = hashlib.sha256()
        for arr in (self.X_train, self.y_train, self.X_test, self.y_test):
            if arr is None:
                h.update(b"none;")
                continue
            h.update(repr((tuple(arr.shape), str(arr.dtype))).encode())
            if arr is self.X_train and self.lazy:
                h.update(_file_stamp(self.source).encode())
            elif arr.ndim == 2:
                a = np.asarray(arr)
                h.update(a.sum(axis=0, dtype=np.float64).tobytes())
                h.update(a.sum(axis=1, dtype=np.float64).tobytes())
            else:
                h.update(np.asarray(arr).astype(str).tobytes() if arr.dtype.kind == "O"
                         else np.ascontiguousarray(arr).tobytes())
        return h.hexdigest()[:16]

    @property
    def lazy(self):
        """Whether ``X_train`` is a dask array (read block by block when used)."""
        return is_dask_array(self.X_train)

    def __repr__(self):
        def shape(a):
            return None if a is None else tuple(a.shape)

        return (f"Dataset(name={self.name!r}, X_train={shape(self.X_train)}, "
                f"y_train={shape(self.y_train)}, X_test={shape(self.X_test)}, "
                f"y_test={shape(self.y_test)}, image_shape={self.image_shape}, lazy={self.lazy})")


def _file_stamp(source):
    """Size and modification time of a file, or of every file under a folder (a store)."""
    if source is None:
        return "?"
    path = Path(source)
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    return ";".join(f"{p.relative_to(path) if p != path else p.name}:{p.stat().st_size}:{p.stat().st_mtime_ns}"
                    for p in files)


def source_stamp(spec):
    """Sizes and times of the files a spec names ("" for a named set): what changes when
    the data are edited in place."""
    source, _ = parse_spec(spec)
    path = Path(source).expanduser()
    return "" if source.lower() in NAMES or not path.exists() else _file_stamp(path)


def parse_spec(spec):
    """``"mnist:test"`` -> ("mnist", "test"); a spec without a split suffix -> (spec, None)."""
    if not isinstance(spec, (str, os.PathLike)):
        raise TypeError(f"spec must be a data set name or a path, got {type(spec).__name__}")
    base, sep, part = str(spec).rpartition(":")
    if sep and base and part.lower() in SPLITS:
        return base, part.lower()
    return str(spec), None


def square_shape(width):
    s = int(round(width ** 0.5))
    return (s, s) if s > 1 and s * s == width and width >= 16 else None


def _whole(spec, data_home, download, progress, lazy, label_column, columns):
    """Every split the source has, as a Dataset."""
    from . import arrays, formats, lazy as lazy_files, toy
    from .idx import load_idx_folder
    from .mnist import load_mnist_parts

    name = spec.lower()
    if name in NAMES and (label_column is not None or columns is not None):
        raise ValueError(f"label_column and columns apply to files; {name} has its own labels and features")
    if name == "mnist":
        found, note = load_mnist_parts(("train", "test"), data_home, download, progress=progress)
        return Dataset("mnist", *found["train"], *found["test"], (28, 28), notes=(note,) if note else ())
    if name == "digits":
        X_tr, y_tr = toy.load_digits("train")
        X_te, y_te = toy.load_digits("test")
        return Dataset("digits", X_tr, y_tr, X_te, y_te, (8, 8))
    if name == "iris":
        return Dataset("iris", *toy.load_iris())
    path = Path(spec).expanduser()
    suffix = path.suffix.lower()
    if lazy_files.is_zarr(path):
        X = lazy_files.open_zarr(path)
        if lazy is False:
            X = np.asarray(X)
        return Dataset(path.stem, X, lazy_files.zarr_labels(path), image_shape=square_shape(X.shape[1]),
                       source=str(path))
    if suffix == ".parquet" or (path.is_dir() and not formats.torchvision_raw(path)
                                and any(path.glob("**/*.parquet"))):
        parts = formats.parquet_parts(path)
        X_tr, y_tr, shape, notes = formats.read_parquet(parts["train"], label_column, columns)
        X_te = y_te = None
        if parts["test"]:
            X_te, y_te, _, _ = formats.read_parquet(parts["test"], label_column, columns)
        return Dataset(path.stem if path.is_file() else path.name, X_tr, y_tr, X_te, y_te,
                       shape or square_shape(X_tr.shape[1]), notes=tuple(notes))
    if path.is_dir():
        if label_column is not None or columns is not None:
            raise ValueError(f"label_column and columns apply to table files, not to the images in {path}")
        folder = formats.torchvision_raw(path) or path
        X_tr, y_tr, shape = load_idx_folder(folder, "train")
        X_te, y_te, shape_te = load_idx_folder(folder, "test")
        if shape != shape_te:
            raise DataError(f"{path}: train images are {shape} but test images are {shape_te}")
        return Dataset(path.name if folder == path else f"{path.name}:{folder.relative_to(path)}",
                       X_tr, y_tr, X_te, y_te, shape)
    if path.is_file():
        if suffix == ".npy" and (lazy or (lazy is None and path.stat().st_size > LAZY_BYTES)):
            if label_column is not None or columns is not None:
                raise ValueError(f"{path} is read lazily; label_column and columns need it in memory")
            X = lazy_files.open_npy(path)
            return Dataset(path.stem, X, None, image_shape=square_shape(X.shape[1]), source=str(path))
        if lazy:
            raise ValueError(f"{path}: only .npy files and .zarr stores can be opened lazily")
        if formats.is_keras_npz(path):
            if label_column is not None or columns is not None:
                raise ValueError(f"label_column and columns apply to tables; {path} holds Keras's images")
            return Dataset(path.stem, *formats.read_keras_npz(path))
        X, y, row_shape, notes = arrays.read_array(path, label_column, columns)
        shape = tuple(row_shape) if row_shape and len(row_shape) == 2 else square_shape(X.shape[1])
        return Dataset(path.stem, X, y, None, None, shape if columns is None else None, notes=tuple(notes))
    close = difflib.get_close_matches(spec.lower(), NAMES, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise ValueError(f"unknown data set {spec!r}: not one of {', '.join(NAMES)} and not an existing "
                     f"folder of IDX files, .zarr store or .npy/.npz/.csv/.parquet file{hint}")


def load_dataset(spec, data_home=None, download=True, *, progress=None, lazy=None,
                 label_column=None, columns=None, test_size=None, random_state=0) -> Dataset:
    """Load a data set by name ("mnist", "digits", "iris") or from a path.

    Parameters
    ----------
    spec : str or Path
        A name, a folder of IDX files (train and test parts; a torchvision root or its
        ``MNIST/raw`` folder), a folder of parquet files (Hugging Face's ``mnist``: files
        named ``*test*`` are the test part), a ``.zarr`` store or a ``.npy`` / ``.npz`` /
        ``.csv`` / ``.parquet`` file (all rows as the train part; Keras's ``mnist.npz``,
        with ``x_train`` ... ``y_test``, keeps its split). A name wins over a same-named
        folder in the working directory; write ``./mnist`` to mean the folder. A suffix
        picks a split: ``NAME:test`` clusters the test rows on their own,
        ``NAME:train`` the training rows without a held-out part, ``NAME:all`` both
        together (e.g. ``mnist:all``, 70,000 rows).
    data_home, download, progress
        Where MNIST is looked for and whether it may be downloaded (see
        :func:`kmeanslab.data.load_mnist`).
    lazy : bool, optional
        The rule when None: a ``.zarr`` store opens lazily (a dask array of row blocks,
        read when used), a ``.npy`` file does when larger than :data:`LAZY_BYTES`, every
        other source is read into memory. True opens a ``.npy`` file lazily whatever its
        size; False reads a store into memory.
    label_column : int, str or False, optional
        Tables (CSV, parquet, 2-D .npy): the column holding the class labels, by index
        or header name; False for none. Default: a column named ``label``, ``labels``,
        ``y``, ``target`` or ``class``, if there is exactly one (said in ``notes``).
    columns : list of int or str, or str, optional
        Tables: the feature columns (names, indices, inclusive ranges ``"0:783"``);
        default all but the labels.
    test_size : float or int, optional
        Hold out this fraction (or number) of the rows as the test part, for data that
        have no test split (stratified by class when possible; seeded by
        ``random_state``).

    The returned :class:`Dataset` says in ``notes`` what was guessed or where MNIST was
    found, and carries a ``fingerprint`` of its arrays.
    """
    source, split = parse_spec(spec)
    ds = _whole(source, data_home, download, progress, lazy, label_column, columns)
    if split == "train":
        ds = dataclasses.replace(ds, name=f"{ds.name}:train", X_test=None, y_test=None)
    elif split is not None and ds.X_test is None:
        if split == "test":
            raise ValueError(f"dataset {str(spec)!r}: {source} has no test split")
        ds = dataclasses.replace(ds, name=f"{ds.name}:all")
    elif split == "test":
        ds = dataclasses.replace(ds, name=f"{ds.name}:test", X_train=ds.X_test, y_train=ds.y_test,
                                 X_test=None, y_test=None)
    elif split == "all":
        y = None if ds.y_train is None or ds.y_test is None else np.concatenate([ds.y_train, ds.y_test])
        ds = dataclasses.replace(ds, name=f"{ds.name}:all", X_train=np.concatenate([ds.X_train, ds.X_test]),
                                 y_train=y, X_test=None, y_test=None)
    if test_size is not None:
        from .tables import split_test

        ds = split_test(ds, test_size, random_state)
    return ds
