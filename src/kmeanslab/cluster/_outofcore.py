"""Out-of-core input and streaming: Zarr / ``.npy`` as dask arrays of row blocks; mini-batches.

Nothing is read when an array is opened: each block of rows is read by the task that
needs it, on the worker that runs it, so a fit streams the data instead of holding
it. :func:`fit_minibatch` streams the blocks to the client one at a time (the next
one fetched while the current one is used) and draws the mini-batches from them.
"""

from pathlib import Path

import numpy as np

# Rows per block when the store does not say: ~64 MB blocks, never below 1,024 rows.
BLOCK_BYTES = 64 * 2**20


def default_block_rows(n_rows, row_bytes):
    return int(max(1024, min(n_rows, BLOCK_BYTES // max(1, row_bytes))))


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

    path = str(Path(path).resolve())
    mm = np.load(path, mmap_mode="r", allow_pickle=False)
    if mm.ndim != 2:
        raise ValueError(f"{path}: expected a 2-D array, got shape {mm.shape}")
    n, d = mm.shape
    rows = block_rows or default_block_rows(n, d * mm.dtype.itemsize)
    read = dask.delayed(_read_npy_rows, pure=True)
    blocks = [da.from_delayed(read(path, s, min(s + rows, n)), shape=(min(s + rows, n) - s, d),
                              dtype=mm.dtype) for s in range(0, n, rows)]
    return da.concatenate(blocks, axis=0)


def open_zarr(path, block_rows=None, component=None):
    """A 2-D Zarr array (or a group's ``X``) as a dask array of row blocks (whole rows)."""
    import dask.array as da
    import zarr

    if component is None and isinstance(zarr.open(str(path), mode="r"), zarr.Group):
        component = "X"
    X = da.from_zarr(str(path), component=component)
    if X.ndim != 2:
        raise ValueError(f"{path}: expected a 2-D array, got shape {X.shape}")
    rows = block_rows or max(X.chunks[0][0], 1)
    if len(X.chunks[1]) > 1 or block_rows:
        X = X.rechunk({0: rows, 1: -1})
    return X


def zarr_labels(path):
    """The ``y`` array of a Zarr group as numpy, or None when there is none."""
    import zarr

    group = zarr.open(str(path), mode="r")
    return np.asarray(group["y"][:]) if isinstance(group, zarr.Group) and "y" in group else None


def open_array(path, block_rows=None):
    """A ``.zarr`` store or ``.npy`` file as a lazy dask array of row blocks."""
    p = Path(path)
    if p.suffix == ".npy":
        return open_npy(p, block_rows)
    if p.suffix == ".zarr" or (p.is_dir() and any((p / f).exists() for f in
                                                  ("zarr.json", ".zarray", ".zgroup"))):
        return open_zarr(p, block_rows)
    raise ValueError(f"dataset {str(path)!r}: expected a .zarr store or a .npy file")


def _fetch(dd, b):
    """Start fetching block ``b`` (an ``_engine.Data``); returns a callable that waits for it."""
    from ._dask import _client

    client = _client()
    return dd.blocks[b].compute if client is None else client.compute(dd.blocks[b]).result


def fit_minibatch(est, X, sample_weight=None):
    """``MiniBatchKMeans.fit`` on a dask array: mini-batches drawn from its blocks.

    Initialisation and validation subsets are drawn from all rows as in-process. Each
    pass visits the blocks in a random order; a block of ``n_b`` rows gives about
    ``n_b / batch_size`` steps, each on ``batch_size`` rows drawn from it with
    replacement, with probability proportional to ``sample_weight``. Stopping rules,
    learning rates and reassignment are the in-process ones; ``labels_`` and
    ``inertia_`` come from one distributed pass.
    """
    from sklearn.utils import check_random_state

    from . import _dask, _engine
    from ._minibatch import minibatch_step

    X = _dask.as_dask(X)
    n = X.shape[0]
    K, init, n_init = est._check_params(n, X.shape[1])
    est._check_minibatch_params(n)
    dd = _dask.DaskData(X, sample_weight)
    est._tol = _dask.mean_variance(dd) * est.tol if est.tol else 0.0
    rs = check_random_state(est.random_state)
    b = est._batch_size

    def subset(size):  # random rows, in the order drawn (as in-process)
        uniq, inv = np.unique(rs.randint(0, n, size), return_inverse=True)
        w = None if dd.lazy_w is None else dd.lazy_w[uniq]
        rows, w = _dask.compute(dd, dd.X[uniq], w)
        return _engine.Data(np.ascontiguousarray(rows[inv]), np.ones(size, X.dtype) if w is None else w[inv])

    valid = subset(est._init_size)
    best = None
    for run in range(n_init):
        est._say_init(run, n_init)
        sub = subset(est._init_size) if est._init_size < n else valid
        centers = est._init_centers(sub if np.any(sub.w > 0) else valid, K, init, rs)
        inertia = _engine.assign(valid, centers)[2]
        est._say_init(run, n_init, inertia)
        if best is None or inertia < best[0]:
            best = (inertia, centers)
    centers = best[1]

    est._counts = np.zeros(K)
    est._ewa_inertia = est._ewa_inertia_min = None
    est._no_improvement = est._n_since_last_reassign = 0
    total_weight = float(n if dd.lazy_w is None else _dask.compute(dd, dd.lazy_w.sum(dtype=np.float64))[0])
    unit = np.ones(b, dtype=X.dtype)
    n_steps = (est.max_iter * n) // b
    history, step, done = [], 0, n_steps == 0
    while not done:
        order = rs.permutation(len(dd.blocks))
        pending = _fetch(dd, order[0])
        for j in range(len(order)):
            block = pending()
            if j + 1 < len(order):
                pending = _fetch(dd, order[j + 1])
            xb, w = block.X, block.w.astype(np.float64)
            if not np.any(w > 0):
                continue
            cdf = np.cumsum(w / w.sum())
            cdf /= cdf[-1]
            for _ in range(max(1, round(xb.shape[0] / b))):
                idx = cdf.searchsorted(rs.random_sample(b), side="right")
                batch = _engine.Data(xb[idx], unit)
                inertia, new = minibatch_step(batch, centers, est._counts, rs, est._random_reassign(),
                                              est.reassignment_ratio, est.verbose)
                diff = float(((new - centers) ** 2).sum()) if est._tol > 0 else 0.0
                centers = new
                history.append(inertia / b * total_weight)
                step += 1
                if est._converged(step - 1, n_steps, n, diff, inertia) or step >= n_steps:
                    done = True
                    break
            if done:
                break
    est.cluster_centers_ = centers
    est.n_features_in_ = X.shape[1]
    est._n_features_out = K
    est.n_steps_ = step
    est.n_iter_ = int(np.ceil(step * b / n))
    est.history_ = np.asarray(history, dtype=np.float64)
    if est.compute_labels:
        est.labels_, est.inertia_, _ = _dask.final_pass(dd, centers, centers)
    else:
        ewa = est._ewa_inertia if est._ewa_inertia is not None else history[-1] / total_weight
        est.inertia_ = ewa * total_weight
    return est
