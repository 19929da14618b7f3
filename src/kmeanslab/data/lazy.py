"""Files opened lazily: a ``.zarr`` store or a ``.npy`` file as a dask array of row blocks.

Nothing is read when an array is opened: each block of rows is read by the task that
needs it, on the worker that runs it, so a fit streams the data instead of holding it.
"""

from pathlib import Path

import numpy as np

from .._blocks import block_rows as _block_rows


def _read_npy_rows(path, start, stop):
    """Rows ``start:stop`` of a .npy file, read through a memory map (only those rows)."""
    mm = np.load(path, mmap_mode="r", allow_pickle=False)
    return np.array(mm[start:stop])


def open_npy(path, block_rows=None):
    """A 2-D ``.npy`` file as a dask array of row blocks, each read by its own task.

    A ``np.memmap`` handed to ``da.from_array`` would be pickled with all its data
    into the graph; reading by path keeps the graph a few bytes per block.
    """
    import dask
    import dask.array as da

    path = str(Path(path).expanduser().resolve())
    mm = np.load(path, mmap_mode="r", allow_pickle=False)
    if mm.ndim != 2:
        raise ValueError(f"{path}: expected a 2-D array, got shape {mm.shape}")
    n, d = mm.shape
    rows = block_rows or _block_rows(n, d * mm.dtype.itemsize)
    read = dask.delayed(_read_npy_rows, pure=True)
    blocks = [da.from_delayed(read(path, s, min(s + rows, n)), shape=(min(s + rows, n) - s, d),
                              dtype=mm.dtype) for s in range(0, n, rows)]
    return da.concatenate(blocks, axis=0)


def is_zarr(path):
    p = Path(path).expanduser()
    return p.suffix == ".zarr" or (p.is_dir() and any((p / f).exists() for f in
                                                      ("zarr.json", ".zarray", ".zgroup")))


def open_zarr(path, block_rows=None, component=None):
    """A 2-D Zarr array (or a group's ``X``) as a dask array of row blocks (whole rows).

    The store's own row chunks are kept unless ``block_rows`` is given.
    """
    import dask.array as da
    import zarr

    path = str(Path(path).expanduser())
    if component is None and isinstance(zarr.open(path, mode="r"), zarr.Group):
        component = "X"
    X = da.from_zarr(path, component=component)
    if X.ndim != 2:
        raise ValueError(f"{path}: expected a 2-D array, got shape {X.shape}")
    if len(X.chunks[1]) > 1 or block_rows:
        X = X.rechunk({0: block_rows or max(X.chunks[0][0], 1), 1: -1})
    return X


def zarr_labels(path):
    """The ``y`` array of a Zarr group as numpy, or None when there is none."""
    import zarr

    group = zarr.open(str(Path(path).expanduser()), mode="r")
    return np.asarray(group["y"][:]) if isinstance(group, zarr.Group) and "y" in group else None


def open_array(path, block_rows=None):
    """A ``.zarr`` store or ``.npy`` file as a lazy dask array of row blocks."""
    if Path(path).suffix == ".npy":
        return open_npy(path, block_rows)
    if is_zarr(path):
        return open_zarr(path, block_rows)
    raise ValueError(f"{str(path)!r}: expected a .zarr store or a .npy file to open lazily")
