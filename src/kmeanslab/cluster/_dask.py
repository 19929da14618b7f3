"""Dask backend: the in-process engine spread over the row blocks of a dask array.

One Lloyd iteration is one map of :func:`_engine.lloyd_block` over the blocks (each an
:class:`_engine.Data`) and a reduction of (sums, weights, SSE, label digests); the
centres reach each worker once per iteration (scattered, or one graph key). With
``algorithm`` "hamerly" / "elkan" / "auto" and blocks kept on the workers, each block
runs the engine's bounds stepper instead, cached on its worker between iterations.
The loop mirrors :func:`_lloyd.lloyd`: same stopping rules, same history, same
empty-cluster relocation (farthest points, found per block and reduced). Blocks are
task results with a lineage, so a lost worker's blocks are recomputed.

Works with any dask scheduler; with a ``dask.distributed`` client the tasks run on
its workers. Seeding lives in :mod:`_dask_init`.
"""

import hashlib
import logging
import uuid

import dask
import dask.array as da
import numpy as np
import scipy.sparse as sp
from dask.sizeof import sizeof

from .._blocks import block_rows as _block_rows
from . import _engine
from ._lloyd import center_shift
from ._progress import Progress

logger = logging.getLogger("kmeanslab")

SPLIT_EVERY = 8  # fan-in of the tree reductions
RETRIES = 3  # recomputations of a pass that failed because workers were lost


def is_dask_array(X):
    return isinstance(X, da.Array)


# -- input ---------------------------------------------------------------------------------
def as_dask(X, n_features=None, block_rows=None):
    """X as a 2-D float32/float64 dask array with whole rows per block; validates shape."""
    if not is_dask_array(X):
        from ._kmeans import check_X

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


def _block(xb, wb):
    """A block of rows as the engine's Data (unit weights when ``wb`` is None)."""
    xb = np.ascontiguousarray(xb)
    w = np.ones(xb.shape[0], xb.dtype) if wb is None else np.ascontiguousarray(wb, dtype=xb.dtype)
    return _engine.Data(xb, w)


@sizeof.register(_engine.Data)
def _sizeof_data(data):  # so that the workers' memory accounting sees the arrays
    return int(data.X.nbytes + data.w.nbytes + data.x_sq.nbytes)


def _client():
    try:
        from distributed import get_client

        return get_client()
    except (ImportError, ValueError):
        return None


class DaskData:
    """Rows of a dask array as one :class:`_engine.Data` per block (delayed; persisted if wanted).

    Persisted blocks keep X, the weights and the squared row norms on the workers for the
    whole fit; streamed ones (out-of-core) are read and prepared again by every pass.
    """

    def __init__(self, X, sample_weight=None, persist="auto"):
        self.lazy_X, self.n, self.d, self.dtype = X, X.shape[0], X.shape[1], X.dtype
        self.sizes = np.asarray(X.chunks[0], dtype=np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(self.sizes)[:-1]])
        self.lazy_w = None
        if sample_weight is not None:
            from ._validation import check_sample_weight

            if is_dask_array(sample_weight):
                w = sample_weight.astype(X.dtype).rechunk((X.chunks[0],))
            else:
                w = da.from_array(check_sample_weight(sample_weight, self.n, X.dtype), chunks=(X.chunks[0],))
            self.lazy_w = w
        self.persist = _want_persist(X, persist)
        self.refresh()

    def refresh(self):
        """(Re)build the blocks from the lazy input, persisting them on the workers when wanted."""
        xs = self.lazy_X.to_delayed().ravel()
        ws = self.lazy_w.to_delayed().ravel() if self.lazy_w is not None else [None] * len(xs)
        make = dask.delayed(_block, pure=True)
        self.blocks = [make(x, w) for x, w in zip(xs, ws)]
        self.X = self.lazy_X
        if self.persist:
            self.blocks = list(dask.persist(*self.blocks))
            self.X = da.concatenate([da.from_delayed(b.X, (int(s), self.d), self.dtype)
                                     for b, s in zip(self.blocks, self.sizes)])

    def map(self, fn, *args, per_block=None):
        """One delayed ``fn(block, *per_block[b], *args)`` per block."""
        call = dask.delayed(fn, pure=False)
        return [call(blk, *(per_block[b] if per_block else ()), *args) for b, blk in enumerate(self.blocks)]


def _want_persist(X, persist):
    """Keep the blocks in worker memory when they fill at most a quarter of it."""
    if persist != "auto":
        return bool(persist)
    persist = dask.config.get("kmeanslab.persist", "auto")
    if persist != "auto":
        return bool(persist)
    client = _client()
    if client is None:
        return False
    limits = [w.get("memory_limit") or 0 for w in client.scheduler_info()["workers"].values()]
    return 0 < X.nbytes <= 0.25 * sum(limits)


def _retrying(dd, run):
    """``run()``, again after rebuilding the blocks when it failed because workers were lost."""
    for attempt in range(RETRIES + 1):
        try:
            return run()
        except Exception as exc:  # noqa: BLE001 - only worker-loss errors are retried
            if attempt == RETRIES or type(exc).__name__ not in (
                    "KilledWorker", "CommClosedError", "FutureCancelledError", "CancelledError"):
                raise
            logger.warning("dask pass failed (%s); recomputing lost blocks", type(exc).__name__)
            if dd is not None:
                dd.refresh()
    raise AssertionError("unreachable")  # pragma: no cover


def compute(dd, *objs):
    """``dask.compute`` of ``objs``, retried when workers were lost (lost blocks are recomputed)."""
    return _retrying(dd, lambda: dask.compute(*objs))


def stats_pass(dd, fn, centers, *args, per_block=None):
    """``fn(block, *per_block[b], *args, centers)`` on every block, reduced by :func:`_add_lloyd`.

    On a distributed client with persisted blocks the centres are scattered to every
    worker once and the tasks submitted as futures (the lowest-latency path: this runs
    once per iteration); otherwise one delayed graph with a tree reduction.
    """
    client = _client() if dd.persist else None

    def run():
        if client is None:
            parts = dd.map(fn, *args, dask.delayed(centers), per_block=per_block)
            return dask.compute(tree(parts, _add_lloyd))[0]
        from distributed import futures_of

        c = client.scatter(centers, broadcast=True, hash=False)
        futures = [client.submit(fn, futures_of(blk)[0], *(per_block[b] if per_block else ()), *args, c,
                                 pure=False) for b, blk in enumerate(dd.blocks)]
        return _add_lloyd(*client.gather(futures))

    return _retrying(dd, run)


def tree(parts, combine):
    """Reduce delayed ``parts`` with ``combine(*group)`` in a tree of fan-in SPLIT_EVERY."""
    call = dask.delayed(combine, pure=False)
    while len(parts) > 1:
        parts = [call(*parts[i:i + SPLIT_EVERY]) for i in range(0, len(parts), SPLIT_EVERY)]
    return parts[0]


# -- block tasks (run on the workers) -----------------------------------------------------
def _digest(labels):
    return hashlib.blake2b(np.ascontiguousarray(labels).tobytes(), digest_size=16).digest()


def _lloyd_task(data, centers):
    st = _engine.lloyd_block(data, centers)
    return st.sums, st.weights, st.sse, (_digest(st.labels),)


def _add_lloyd(*parts):
    sums, weights = parts[0][0].copy(), parts[0][1].copy()
    for p in parts[1:]:
        sums += p[0]
        weights += p[1]
    return sums, weights, sum(p[2] for p in parts), tuple(h for p in parts for h in p[3])


def _farthest_task(data, offset, centers, m):
    """The ``m`` rows farthest from their assigned centre: (dist, global index, label, w, row)."""
    labels = _engine.assign(data, centers)[0]
    dist = _engine.exact_sq_dist(data, centers, labels)
    dist = np.where(data.w > 0, dist, -1)
    top = np.argsort(-dist, kind="stable")[:m]
    return dist[top], offset + top, labels[top], data.w[top], data.X[top]


def _merge_farthest(*parts, m):
    dist, idx, lab, w, rows = (np.concatenate([p[i] for p in parts]) for i in range(5))
    top = np.lexsort((idx, -dist))[:m]  # as a stable argsort of -dist over all rows
    return dist[top], idx[top], lab[top], w[top], rows[top]


def _final_task(data, cached, label_centers, centers):
    """Labels under ``label_centers``; exact SSE under ``centers``; weight per cluster.

    ``cached`` = (block, moves, key, iteration, strict) or None: take the labels from the
    block's bounds stepper when this worker still holds it (one cheap step at the final
    centres; none after strict convergence), else assign from scratch (the same labels).
    """
    entry = _STEPPERS.get((cached[2], cached[0])) if cached else None
    if entry is not None and entry[1] == cached[3]:
        if cached[4]:  # strict convergence: the last step's labels
            labels = entry[0].labels.copy()
        else:
            if cached[1] is not None:
                entry[0].relocated(*cached[1])
            labels = entry[0].step(centers).labels.copy()
        entry[1] = None  # used up: a rerun of this task assigns from scratch
    else:
        labels = _engine.assign(data, label_centers)[0]
    sse = _engine.exact_sse(data, centers, labels)
    return labels, sse, np.bincount(labels, weights=data.w.astype(np.float64), minlength=len(centers))


def _predict_block(xb, centers):
    return _engine.assign(_block(xb, None), centers)[0]


def _transform_block(xb, centers):
    from ._kmeans import _BaseKMeans

    return _BaseKMeans._distances(None, np.asarray(xb), centers)  # the in-process formula


def _score_task(data, centers):
    return _engine.exact_sse(data, centers, _engine.assign(data, centers)[0])


def _sum(*xs):
    return sum(xs[1:], xs[0])


# -- Lloyd -------------------------------------------------------------------------------
_STEPPERS = {}  # on each worker: (fit key, block) -> [bounds stepper, last iteration it ran]


def _step_task(data, b, moves, key, it, algorithm, centers):
    """Iteration ``it`` of block ``b`` with the engine's Hamerly / Elkan stepper.

    The stepper (bounds, incremental sums) stays in this worker's memory between
    iterations. It is only a cache: where it is missing or stale (the block was
    recomputed or ran elsewhere) a fresh one assigns every row from scratch, which
    gives the same labels.
    """
    entry = _STEPPERS.get((key, b))
    if entry is None or entry[1] != it - 1:
        from ._lloyd import make_step

        entry = _STEPPERS[(key, b)] = [make_step(algorithm, data, len(centers)), None]
    elif moves is not None:
        entry[0].relocated(*moves)
    st = entry[0].step(centers)
    entry[1] = it
    return st.sums, st.weights, st.sse, (_digest(st.labels),)


def _drop_steppers(key):
    for k in [k for k in _STEPPERS if k[0] == key]:
        del _STEPPERS[k]


def relocate_and_update(dd, centers, sums, weights):
    """New centres as :func:`_lloyd.relocate_and_update`, the farthest points found per block.

    Returns (centers, moves): moves[b] is None or the (rows, old, new) of block ``b``.
    """
    empty = np.flatnonzero(weights <= 0)
    moves = [None] * len(dd.blocks)
    if empty.size:
        sums, weights = sums.copy(), weights.copy()
        cdel = dask.delayed(centers)
        parts = dd.map(_farthest_task, cdel, int(empty.size), per_block=[(o,) for o in dd.offsets])
        merge = dask.delayed(_merge_farthest, pure=False)
        while len(parts) > 1:
            parts = [merge(*parts[i:i + SPLIT_EVERY], m=int(empty.size))
                     for i in range(0, len(parts), SPLIT_EVERY)]
        _, idx, old, w, rows = compute(dd, parts[0])[0]
        for g, a, b, wi, x in zip(idx, old, empty, w, rows.astype(np.float64)):
            sums[a] -= wi * x
            weights[a] -= wi
            sums[b] = wi * x
            weights[b] = wi
            blk = int(np.searchsorted(dd.offsets, g, side="right")) - 1
            prev = moves[blk] or (np.empty(0, np.int64),) * 3
            moves[blk] = tuple(np.append(p, v) for p, v in zip(prev, (g - dd.offsets[blk], a, b)))
    new = np.array(centers, dtype=np.float64)
    ok = weights > 0
    new[ok] = sums[ok] / weights[ok, None]
    return new.astype(dd.dtype), moves


def lloyd(dd, centers, max_iter, tol, verbose=0, algorithm="lloyd"):
    """Lloyd's algorithm over the blocks, as :func:`_lloyd.lloyd` (labels as a dask array).

    ``algorithm`` other than "lloyd" runs the engine's bounds steppers on persisted
    blocks (streamed blocks always take full Lloyd passes).
    """
    centers = np.ascontiguousarray(centers, dtype=dd.dtype)
    bounds = algorithm != "lloyd" and dd.persist
    key = uuid.uuid4().hex
    say = Progress(verbose, period="" if algorithm == "elkan" else ".")
    digest_old = None
    history = []
    strict = False
    moves = [None] * len(dd.blocks)
    try:
        for it in range(max_iter):
            sums, weights, sse, digest = (
                stats_pass(dd, _step_task, centers, key, it, algorithm, per_block=list(enumerate(moves)))
                if bounds else stats_pass(dd, _lloyd_task, centers))
            history.append(sse)
            new_centers, moves = relocate_and_update(dd, centers, sums, weights)
            shift = center_shift(new_centers, centers)
            prev, centers = centers, new_centers
            say.iteration(it, sse)
            if digest_old is not None and digest == digest_old:
                say.strict(it)
                strict = True  # labels unchanged: they are the labels of the final centres
                break
            if shift <= tol:
                say.within_tol(it, shift, tol)
                break
            digest_old = digest
        cached = [(b, m, key, it, strict) for b, m in enumerate(moves)] if bounds else None
        labels, inertia, counts = final_pass(dd, prev if strict else centers, centers, cached)
    finally:
        if bounds:
            client = _client()
            client.run(_drop_steppers, key) if client is not None else _drop_steppers(key)
    return {"labels": labels, "inertia": inertia, "centers": centers, "n_iter": it + 1,
            "history": history, "counts": counts}


def final_pass(dd, label_centers, centers, cached=None):
    """Labels (a dask array, persisted), exact inertia and weight per cluster."""
    lc = dask.delayed(label_centers)
    args = (lc, lc) if label_centers is centers else (lc, dask.delayed(centers))
    parts = dd.map(_final_task, *args, per_block=[(c,) for c in cached or [None] * len(dd.blocks)])
    parts = list(dask.persist(*parts))
    inertia, counts = compute(dd, tree([p[1] for p in parts], _sum), tree([p[2] for p in parts], _sum))
    labels = da.concatenate([da.from_delayed(p[0], shape=(int(s),), dtype=np.int32)
                             for p, s in zip(parts, dd.sizes)])
    return labels, float(inertia), counts


def predict(X, centers):
    """Labels of the nearest centres, lazily, one task per block."""
    return X.map_blocks(_predict_block, dask.delayed(np.ascontiguousarray(centers, dtype=X.dtype)),
                        dtype=np.int32, drop_axis=1)


def transform(X, centers):
    """Euclidean distances to the centres, lazily, one task per block."""
    c = np.ascontiguousarray(centers, dtype=X.dtype)
    return X.map_blocks(_transform_block, dask.delayed(c), dtype=X.dtype,
                        chunks=(X.chunks[0], (c.shape[0],)))


def score(X, centers, sample_weight=None):
    dd = DaskData(X, sample_weight, persist=False)
    c = dask.delayed(np.ascontiguousarray(centers, dtype=X.dtype))
    return -float(compute(dd, tree(dd.map(_score_task, c), _sum))[0])


def mean_variance(dd):
    """Mean per-feature variance (scikit-learn's tolerance scale); NaN/inf in X raise."""
    value = float(compute(dd, dd.X.var(axis=0, dtype=np.float64).mean())[0])
    if not np.isfinite(value):
        raise ValueError("Input X contains NaN or infinity.")
    return value


# -- estimators ------------------------------------------------------------------------------
def fit_kmeans(est, X, sample_weight=None):
    """``KMeans.fit`` on a dask array (or on any X with ``backend="dask"``).

    ``algorithm`` as in-process (all give Lloyd's labels; bounds need persisted blocks).
    Fitted ``labels_`` are a dask array (kept on the workers) for dask input, numpy otherwise.
    """
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.utils import check_random_state

    from ._dask_init import init_centers

    numpy_in = not is_dask_array(X)
    X = as_dask(X)
    K, init, n_init = est._check_params(X.shape[0], X.shape[1])
    dd = DaskData(X, sample_weight)
    tol = mean_variance(dd) * est.tol if est.tol else 0.0
    random_state = check_random_state(est.random_state)
    best = None
    for run in range(n_init):
        centers0 = init_centers(dd, K, init, random_state)
        if est.verbose:
            print("Initialization complete")  # as in-process (see _progress)
        result = lloyd(dd, centers0, est.max_iter, tol, est.verbose, est._algorithm)
        if best is None or result["inertia"] < best["inertia"]:
            best = result
    n_distinct = int(np.count_nonzero(best["counts"]))
    if n_distinct < K:
        warnings.warn(f"Number of distinct clusters ({n_distinct}) found smaller than n_clusters ({K}). "
                      "Possibly due to duplicate points in X.", ConvergenceWarning, stacklevel=3)
    est.n_features_in_ = X.shape[1]
    if hasattr(est, "feature_names_in_"):
        del est.feature_names_in_
    est.cluster_centers_ = best["centers"]
    est.labels_ = best["labels"].compute() if numpy_in else best["labels"]
    est.inertia_ = best["inertia"]
    est.n_iter_ = best["n_iter"]
    est.history_ = np.asarray(best["history"], dtype=np.float64)
    est._n_features_out = K
    return est
