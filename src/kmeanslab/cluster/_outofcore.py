"""Out-of-core input: Zarr arrays and ``.npy`` files as dask arrays chunked by rows.

Nothing is read here: each block of rows is read by the task that needs it, on the
worker that runs it, so a fit streams the data instead of holding it.
"""

from pathlib import Path

import numpy as np

# Rows per block when the store does not say: ~64 MB blocks, never below 1,024 rows.
BLOCK_BYTES = 64 * 2**20


def default_block_rows(n_rows, row_bytes):
    return int(max(1024, min(n_rows, BLOCK_BYTES // max(1, row_bytes))))


def _read_npy_rows(path, start, stop):
    """Rows ``start:stop`` of a .npy file, read through a memory map (only those rows)."""
    mm = np.load(path, mmap_mode="r")
    return np.array(mm[start:stop])


def open_npy(path, block_rows=None):
    """A 2-D ``.npy`` file as a dask array of row blocks, each read by its own task.

    A ``np.memmap`` handed to ``da.from_array`` would be pickled with all its data
    into the graph; reading by path keeps the graph a few bytes per block.
    """
    import dask
    import dask.array as da

    path = str(Path(path).resolve())
    mm = np.load(path, mmap_mode="r")
    if mm.ndim != 2:
        raise ValueError(f"{path}: expected a 2-D array, got shape {mm.shape}")
    n, d = mm.shape
    rows = block_rows or default_block_rows(n, d * mm.dtype.itemsize)
    read = dask.delayed(_read_npy_rows, pure=True)
    blocks = [da.from_delayed(read(path, s, min(s + rows, n)), shape=(min(s + rows, n) - s, d),
                              dtype=mm.dtype) for s in range(0, n, rows)]
    return da.concatenate(blocks, axis=0)


def open_zarr(path, block_rows=None, component=None):
    """A 2-D Zarr array as a dask array chunked by rows (whole rows per chunk)."""
    import dask.array as da

    X = da.from_zarr(str(path), component=component)
    if X.ndim != 2:
        raise ValueError(f"{path}: expected a 2-D array, got shape {X.shape}")
    rows = block_rows or max(X.chunks[0][0], 1)
    if len(X.chunks[1]) > 1 or block_rows:
        X = X.rechunk({0: rows, 1: -1})
    return X


def open_array(path, block_rows=None):
    """A ``.zarr`` store or ``.npy`` file as a lazy dask array of row blocks."""
    p = Path(path)
    if p.suffix == ".npy":
        return open_npy(p, block_rows)
    if p.suffix == ".zarr" or (p.is_dir() and any((p / f).exists() for f in
                                                  ("zarr.json", ".zarray", ".zgroup"))):
        return open_zarr(p, block_rows)
    raise ValueError(f"dataset {str(path)!r}: expected a .zarr store or a .npy file")
