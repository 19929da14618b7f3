"""A dataset spec in, a :class:`Dataset` out, eager or lazy by one rule."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
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


def _whole(spec, data_home, download, progress, lazy):
    """Every split the source has, as a Dataset."""
    from . import arrays, lazy as lazy_files, toy
    from .idx import load_idx_folder
    from .mnist import load_mnist

    name = spec.lower()
    if name == "mnist":
        X_tr, y_tr = load_mnist("train", data_home, download, progress=progress)
        X_te, y_te = load_mnist("test", data_home, download, progress=progress)
        return Dataset("mnist", X_tr, y_tr, X_te, y_te, (28, 28))
    if name == "digits":
        X_tr, y_tr = toy.load_digits("train")
        X_te, y_te = toy.load_digits("test")
        return Dataset("digits", X_tr, y_tr, X_te, y_te, (8, 8))
    if name == "iris":
        return Dataset("iris", *toy.load_iris())
    path = Path(spec).expanduser()
    if lazy_files.is_zarr(path):
        X = lazy_files.open_zarr(path)
        if lazy is False:
            X = np.asarray(X)
        return Dataset(path.stem, X, lazy_files.zarr_labels(path), image_shape=square_shape(X.shape[1]))
    if path.is_dir():
        X_tr, y_tr, shape = load_idx_folder(path, "train")
        X_te, y_te, shape_te = load_idx_folder(path, "test")
        if shape != shape_te:
            raise DataError(f"{path}: train images are {shape} but test images are {shape_te}")
        return Dataset(path.name, X_tr, y_tr, X_te, y_te, shape)
    if path.is_file():
        if path.suffix.lower() == ".npy" and (lazy or (lazy is None and path.stat().st_size > LAZY_BYTES)):
            X = lazy_files.open_npy(path)
            return Dataset(path.stem, X, None, image_shape=square_shape(X.shape[1]))
        if lazy:
            raise ValueError(f"{path}: only .npy files and .zarr stores can be opened lazily")
        X, y, row_shape = arrays.read_array(path)
        shape = tuple(row_shape) if row_shape and len(row_shape) == 2 else square_shape(X.shape[1])
        return Dataset(path.stem, X, y, None, None, shape)
    raise ValueError(f"unknown data set {spec!r}: not one of {', '.join(NAMES)} and not an existing "
                     "folder of IDX files, .zarr store or .npy/.npz/.csv file")


def load_dataset(spec, data_home=None, download=True, *, progress=None, lazy=None) -> Dataset:
    """Load a data set by name ("mnist", "digits", "iris") or from a path.

    Parameters
    ----------
    spec : str or Path
        A name, a folder of IDX files (train and test parts), a ``.zarr`` store or a
        ``.npy`` / ``.npz`` / ``.csv`` file (all rows as the train part). A name wins over
        a same-named folder in the working directory; write ``./mnist`` to mean the
        folder. A suffix picks a split: ``NAME:test`` clusters the test rows on their
        own, ``NAME:train`` the training rows without a held-out part, ``NAME:all`` both
        together (e.g. ``mnist:all``, 70,000 rows).
    data_home, download, progress
        Where MNIST is looked for and whether it may be downloaded (see
        :func:`kmeanslab.data.load_mnist`).
    lazy : bool, optional
        The rule when None: a ``.zarr`` store opens lazily (a dask array of row blocks,
        read when used), a ``.npy`` file does when larger than :data:`LAZY_BYTES`, every
        other source is read into memory. True opens a ``.npy`` file lazily whatever its
        size; False reads a store into memory.
    """
    source, split = parse_spec(spec)
    ds = _whole(source, data_home, download, progress, lazy)
    if split is None:
        return ds
    if split == "train":
        return dataclasses.replace(ds, name=f"{ds.name}:train", X_test=None, y_test=None)
    if ds.X_test is None:
        if split == "test":
            raise ValueError(f"dataset {str(spec)!r}: {source} has no test split")
        return dataclasses.replace(ds, name=f"{ds.name}:all")
    if split == "test":
        return dataclasses.replace(ds, name=f"{ds.name}:test", X_train=ds.X_test, y_train=ds.y_test,
                                   X_test=None, y_test=None)
    y = None if ds.y_train is None or ds.y_test is None else np.concatenate([ds.y_train, ds.y_test])
    return dataclasses.replace(ds, name=f"{ds.name}:all", X_train=np.concatenate([ds.X_train, ds.X_test]),
                               y_train=y, X_test=None, y_test=None)
