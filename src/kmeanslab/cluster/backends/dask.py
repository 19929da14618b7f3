"""The Dask backend: row blocks of a dask array, kept on the workers (see the package doc).

Each block is an :class:`_engine.Data` built where it is computed. Blocks that fit in a
quarter of the workers' memory are persisted there for the fit (their caches then stay
with them: bounds steppers, the last step's labels); others are read from the source by
every pass. A pass over persisted blocks is one call per worker, to an actor there that
holds the worker's blocks (a message: no task for the scheduler to run), the results
combined here in block order; a pass over streamed blocks is a batch of tasks (one per
block) and a tree of reductions, gathered once. Arguments that the tasks would carry
past a few MB in all are scattered to every worker first, once per pass. Blocks and
kept results have a lineage: a lost worker's are recomputed, and a pass that failed
because workers were lost runs again (with new actors).
"""

import logging
import uuid

import dask
import dask.array as da
import numpy as np
import scipy.sparse as sp
from dask.sizeof import sizeof

from ..._blocks import block_rows as _block_rows
from .. import _engine
from .._medians import radix_medians
from .._validation import check_sample_weight, check_X

logger = logging.getLogger("kmeanslab")

SPLIT_EVERY = 8  # fan-in of the tree reductions
RETRIES = 3  # runs of a pass that failed because workers were lost
SCATTER_BYTES = 4 * 2**20  # an argument all a pass's tasks would carry past this is scattered once
_LOST = ("KilledWorker", "CommClosedError", "FutureCancelledError", "CancelledError", "ActorLost")

# On each worker (and in the client for local schedulers): (run key, block) -> cache dict.
_CACHES = {}


def as_dask(X, n_features=None, block_rows=None):
    """X as a 2-D float32/float64 dask array with whole rows per block; validates shape."""
    if not isinstance(X, da.Array):
        X = check_X(X)
        if sp.issparse(X):
            raise TypeError("backend='dask' takes dense X; sparse input runs in-process")
        rows = block_rows or _block_rows(X.shape[0], X.shape[1] * X.dtype.itemsize)
        X = da.from_array(X, chunks=(rows, -1))
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D, got a dask array of shape {X.shape}")
    if any(np.isnan(c) for c in X.shape):
        raise ValueError("X has unknown chunk sizes; call X.compute_chunk_sizes() first")
    if X.dtype.kind not in "biuf":
        raise TypeError(f"X must be numeric, got dtype {X.dtype}")
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    if X.shape[0] < 1 or X.shape[1] < 1:
        raise ValueError(f"X has shape {X.shape}; need at least one sample and one feature")
    if n_features is not None and X.shape[1] != n_features:
        raise ValueError(f"X has {X.shape[1]} features, but the model was fitted with {n_features}")
    if len(X.chunks[1]) > 1:
        X = X.rechunk({1: -1})
    return X


def _block(xb, wb, e):
    """A block of rows (times 2**e) as the engine's Data (unit weights when ``wb`` is None)."""
    xb = np.ascontiguousarray(xb)
    if e:
        xb = np.ldexp(xb, e).astype(xb.dtype, copy=False)
    w = np.ones(xb.shape[0], xb.dtype) if wb is None else np.ascontiguousarray(wb, dtype=xb.dtype)
    return _engine.Data(xb, w)


@sizeof.register(_engine.Data)
def _sizeof_data(data):  # so that the workers' memory accounting sees the arrays
    nz = data.built_nonzeros() or ()
    return int(data.X.nbytes + data.w.nbytes + data.x_sq.nbytes + sum(a.nbytes for a in nz))


def client():
    """The current ``dask.distributed`` client, or None (a local scheduler runs the graphs)."""
    try:
        from distributed import get_client

        return get_client()
    except (ImportError, ValueError):
        return None


def _want_persist(X, persist):
    """Keep the blocks in worker memory when they fill at most a quarter of it."""
    if persist != "auto":
        return bool(persist)
    persist = dask.config.get("kmeanslab.persist", "auto")
    if persist != "auto":
        return bool(persist)
    c = client()
    if c is None:
        return False
    limits = [w.get("memory_limit") or 0 for w in c.scheduler_info()["workers"].values()]
    return 0 < X.nbytes <= 0.25 * sum(limits)


def _call(fn, run, b, data, *args):
    """``fn(data, cache, *args)`` with the block's cache of this run, where the task runs."""
    return fn(data, _CACHES.setdefault((run, b), {}), *args)


def _call_group(fn, run, bs, args, items):
    """``_call`` for several blocks of one worker, in order."""
    return [_call(fn, run, b, data, *args, *extra) for b, (data, extra) in zip(bs, items)]


class ActorLost(Exception):
    """A worker holding blocks (and their actor) was lost during a pass."""


class _Blocks:
    """Held by an actor on one worker: the blocks there, for passes called on it directly."""

    def __init__(self, *blocks):
        self.blocks = blocks

    def map(self, fn, run, bs, args, extras):
        return _call_group(fn, run, bs, args, zip(self.blocks, extras))


def _drop(*runs):
    # A copy of the keys first: an actor's or a task's thread may add caches meanwhile.
    for key in [k for k in list(_CACHES) if k[0] in runs]:
        _CACHES.pop(key, None)


def _scatter_large(c, args, copies):
    """``args`` with each array that ``copies`` tasks would carry past SCATTER_BYTES in all
    sent to every worker once instead (a future in its place)."""
    args = list(args)
    for i, a in enumerate(args):
        if isinstance(a, np.ndarray) and a.nbytes * copies > SCATTER_BYTES:
            args[i] = c.scatter(a, broadcast=True, hash=False)
    return args


def _on(addr):
    """Where a call for the blocks of worker ``addr`` runs (elsewhere if that worker is gone)."""
    return {} if addr is None else {"workers": [addr], "allow_other_workers": True}


def _tree(parts, combine, submit):
    while len(parts) > 1:
        parts = [submit(combine, *parts[i:i + SPLIT_EVERY]) for i in range(0, len(parts), SPLIT_EVERY)]
    return parts[0]


class DaskBackend:
    """Rows of a dask array as one :class:`_engine.Data` per block (see the module doc).

    ``scale_exp``: the blocks hold X * 2**scale_exp (exact), as the estimators fit
    data of extreme magnitude.
    """

    def __init__(self, X, sample_weight=None, persist="auto", scale_exp=0):
        self.lazy_X, self.n, self.d, self.dtype = X, X.shape[0], X.shape[1], X.dtype
        self.sparse = False
        self.scale_exp = scale_exp
        self.sizes = np.asarray(X.chunks[0], dtype=np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(self.sizes)[:-1]]).astype(np.int64)
        self.n_blocks = len(self.sizes)
        self.lazy_w = None
        if sample_weight is not None:
            if isinstance(sample_weight, da.Array):
                w = sample_weight.astype(X.dtype).rechunk((X.chunks[0],))
            else:
                w = da.from_array(check_sample_weight(sample_weight, self.n, X.dtype), chunks=(X.chunks[0],))
            self.lazy_w = w
        self.keeps_blocks = self.persist = _want_persist(X, persist)
        self.run = uuid.uuid4().hex
        self._kept = []
        self._stale = []  # earlier runs whose caches end_run drops
        self._refresh()

    local_data = None
    _kept = ()  # futures of this run's map_keep tasks (see end_run)

    def scaled(self, e):
        """The same rows times 2**e (a new backend; this one's blocks are let go)."""
        if e == self.scale_exp:
            return self
        return DaskBackend(self.lazy_X, self.lazy_w, self.persist, e)

    def _refresh(self):
        """(Re)build the blocks from the lazy input, persisting them on the workers when wanted."""
        xs = self.lazy_X.to_delayed().ravel()
        ws = self.lazy_w.to_delayed().ravel() if self.lazy_w is not None else [None] * len(xs)
        make = dask.delayed(_block, pure=True)
        self.blocks = [make(x, w, self.scale_exp) for x, w in zip(xs, ws)]
        self.client = client() if self.persist else None
        self._where = {None: list(range(self.n_blocks))}  # worker address (None: any) -> its blocks
        self._actors = None  # worker address -> (future, actor) holding those blocks
        if self.persist:
            # Runs of consecutive blocks spread evenly over the workers (a dask array made
            # from one in-memory array has all its chunks where that array is).
            workers = sorted(self.client.scheduler_info(n_workers=-1)["workers"]) if self.client else []
            if len(workers) > 1:
                n = self.n_blocks
                self._where = {}
                for b in range(n):
                    self._where.setdefault(workers[b * len(workers) // n], []).append(b)
                for addr, bs in self._where.items():
                    kept = self.client.persist([self.blocks[b] for b in bs], workers=[addr], allow_other_workers=True)
                    for b, blk in zip(bs, kept):
                        self.blocks[b] = blk
            else:
                self.blocks = list(dask.persist(*self.blocks))

    def _retrying(self, run):
        """``run()``, again after rebuilding the blocks when it failed because workers were lost."""
        for attempt in range(RETRIES + 1):
            try:
                return run()
            except Exception as exc:  # noqa: BLE001 - only worker-loss errors are retried
                if attempt == RETRIES or type(exc).__name__ not in _LOST:
                    raise
                logger.warning("dask pass failed (%s); recomputing lost blocks", type(exc).__name__)
                self._refresh()
        raise AssertionError("unreachable")  # pragma: no cover

    # -- runs ------------------------------------------------------------------------------
    def new_run(self):
        """A run of its own for the caches; the one before's are dropped at end_run (one call)."""
        self._stale.append(self.run)
        self.run = uuid.uuid4().hex

    def end_run(self):
        """Drop the run's caches (and those of the runs before it), once the tasks that may
        still read them have finished."""
        runs, self._stale = [*self._stale, self.run], []
        c = client()
        if c is None:
            _drop(*runs)
            return
        if self._kept:
            from distributed import wait

            wait(self._kept)
            self._kept = []
        c.run(_drop, *runs)

    # -- passes ------------------------------------------------------------------------------
    def _tasks(self, fn, args, per_block):
        """One task per block (futures on a client with persisted blocks, else delayed)."""
        per_block = per_block or [()] * self.n_blocks
        c = self.client
        if c is None:
            call = dask.delayed(_call, pure=False)
            return [call(fn, self.run, b, blk, *args, *per_block[b]) for b, blk in enumerate(self.blocks)], None
        from distributed import futures_of

        args = _scatter_large(c, args, self.n_blocks)
        return [c.submit(_call, fn, self.run, b, futures_of(blk)[0], *args, *per_block[b], pure=False)
                for b, blk in enumerate(self.blocks)], c

    def _holders(self, c):
        """Worker address -> an actor there holding the blocks it holds (made once per refresh)."""
        from distributed import futures_of

        if self._actors is None:
            made = {addr: c.submit(_Blocks, *[futures_of(self.blocks[b])[0] for b in bs],
                                   actor=True, pure=False, **_on(addr))
                    for addr, bs in self._where.items()}
            self._actors = {addr: (f, f.result()) for addr, f in made.items()}
        return self._actors

    def _grouped(self, c, fn, args, per_block):
        """One call per worker over the blocks it holds, returning their results in block order:
        an actor's method (a message to the worker, relayed by the scheduler unless the
        client talks to workers directly: no task to schedule), or a task when ``per_block``
        holds kept results (futures, which a task resolves where it runs)."""
        from distributed import futures_of

        per_block = per_block or [()] * self.n_blocks
        where = self._where
        if futures_of(per_block):
            args = _scatter_large(c, args, len(where))
            calls = [c.submit(_call_group, fn, self.run, bs, args,
                              [(futures_of(self.blocks[b])[0], per_block[b]) for b in bs], pure=False, **_on(addr))
                     for addr, bs in where.items()]
            results = c.gather(calls)
        else:
            actors = self._holders(c)
            # Arguments go with the calls: one copy per worker, as a broadcast scatter would
            # send, without its round trips (faster at every size measured, up to 24 MiB).
            try:
                calls = [actors[addr][1].map(fn, self.run, bs, args, [per_block[b] for b in bs])
                         for addr, bs in where.items()]
                results = [call.result() for call in calls]
            except Exception as exc:
                # A lost worker's actor is gone with it (its future erred) or cannot be reached.
                if isinstance(exc, OSError) or any(f.status != "finished" for f, _ in actors.values()):
                    raise ActorLost(str(exc)) from exc
                raise
        parts = [None] * self.n_blocks
        for bs, got in zip(where.values(), results):
            for b, r in zip(bs, got):
                parts[b] = r
        return parts

    def map_reduce(self, fn, *args, combine, per_block=None):
        def run():
            if self.client is not None:  # blocks on the workers: one task per worker, combined here
                return _tree(self._grouped(self.client, fn, args, per_block), combine, lambda f, *xs: f(*xs))
            parts, _ = self._tasks(fn, args, per_block)
            return dask.compute(_tree(parts, combine, lambda f, *xs: dask.delayed(f, pure=False)(*xs)))[0]

        return self._retrying(run)

    def map_keep(self, fn, *args, per_block=None):
        def run():
            parts, c = self._tasks(fn, args, per_block)
            if c is None:
                return list(dask.persist(*parts))
            self._kept += parts
            return parts

        return self._retrying(run)

    def labels(self, kept):
        """Kept per-block labels as one dask array (kept on the workers)."""
        if self.client is not None:
            kept = [dask.delayed(f) for f in kept]
        return da.concatenate([da.from_delayed(k, shape=(int(s),), dtype=np.int32)
                               for k, s in zip(kept, self.sizes)])

    def gather_rows(self, idx):
        idx = np.asarray(idx, dtype=np.int64)
        order = np.argsort(idx, kind="stable")
        rows = np.empty((idx.size, self.d), dtype=self.dtype)
        rows[order] = self._retrying(lambda: self.lazy_X[idx[order]].compute())
        return np.ldexp(rows, self.scale_exp).astype(self.dtype, copy=False) if self.scale_exp else rows

    def take(self, idx):
        """Rows ``idx`` (global indices) with their weights, as a Data in memory."""
        idx = np.asarray(idx, dtype=np.int64)
        return _engine.Data(self.gather_rows(idx), self.weights()[idx].astype(self.dtype))

    def weights(self):
        if self.lazy_w is None:
            return np.ones(self.n)
        return self._retrying(lambda: self.lazy_w.compute()).astype(np.float64)

    def medians(self, method, centers, it, moves):
        return radix_medians(self, method, centers, it, moves)

    def blocks_in_order(self, random_state):
        """The blocks one at a time in a random order, each fetched to this process while the
        one before is used (one block: no draw is made, as in-process)."""
        order = random_state.permutation(self.n_blocks) if self.n_blocks > 1 else [0]
        c = client()

        def fetch(b):
            if c is None:
                return self.blocks[b].compute
            future = c.compute(self.blocks[b])  # starts now
            return future.result

        pending = fetch(order[0])
        for j, b in enumerate(order):
            try:
                block = pending()
            except Exception as exc:  # noqa: BLE001 - a lost worker: fetch again
                if type(exc).__name__ not in _LOST:
                    raise
                block = self._retrying(lambda: fetch(b)())
            if j + 1 < len(order):
                pending = fetch(order[j + 1])
            yield block
