"""How many rows a block of a dask array holds: one rule for every place that cuts rows
into blocks (files opened lazily, in-memory X sent to Dask)."""

BLOCK_BYTES = 64 * 2**20  # a block's size in memory, at most (unless one row is larger)
MIN_BLOCKS = 8  # enough blocks to share among workers, when rows allow
MIN_ROWS = 256  # below this a task costs more than its rows


def block_rows(n_rows, row_bytes):
    """Rows per block for ``n_rows`` rows of ``row_bytes`` bytes each."""
    by_bytes = BLOCK_BYTES // max(1, row_bytes)
    by_count = -(-n_rows // MIN_BLOCKS)
    return int(max(1, min(n_rows, max(MIN_ROWS, min(by_bytes, by_count)))))


def is_dask_array(X):
    """Whether X is a dask array, without importing dask (no dask loaded: it cannot be one)."""
    import sys

    da = sys.modules.get("dask.array")
    return da is not None and isinstance(X, da.Array)
