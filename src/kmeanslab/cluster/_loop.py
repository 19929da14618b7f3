"""THE training loop: stopping rules, relocation of empty clusters, history, verbose lines.

As faiss's ``Clustering`` loop does not know which index assigns, this loop does not
know where the rows are (a backend: in-process, or blocks on Dask workers) nor which
metric it minimises (a method: the estimator's assignment and centre update, see
``_methods``). It is scikit-learn's Lloyd loop (``_kmeans_single_lloyd``): step ``it``
(from 0) assigns the rows and moves the centres; it stops with strict convergence when
the labels equal the previous step's, else when the total squared centre shift is at
most ``tol``, after which the labels of the final centres are computed.
"""

from functools import partial

import numpy as np

from . import _methods
from ._kernels import dense as _dk
from ._progress import Progress
from ._validation import SAFE_EXPONENTS, max_abs

# A centre that moved by at most this share of its size may be a fixed point hidden by
# the rounding of sums / weights (in float64 the mean of five copies of a row is not
# always the row): see settle.
FIXED_POINT_REL = 2.0**-30


def center_shift(new_centers, centers):
    """Total squared move of the centres (scikit-learn's ``center_shift_tot``)."""
    return float(((np.asarray(new_centers, dtype=np.float64) - centers) ** 2).sum())


def per_block_moves(backend, index, old, new):
    """Relocations by global row index as one (rows, old, new) per block (None: none there)."""
    moves = [None] * backend.n_blocks
    block = np.searchsorted(backend.offsets, index, side="right") - 1
    for b in np.unique(block):
        sel = block == b
        moves[b] = (index[sel] - backend.offsets[b], old[sel].astype(np.int64), new[sel].astype(np.int64))
    return moves


def relocate(method, backend, stats, centers, it):
    """Each empty cluster takes one of the rows farthest from their centres (as scikit-learn),
    which leaves its own cluster. Returns (stats with the moves in the sums, moves per
    block or None, whether a row moved)."""
    empty = np.flatnonzero(stats.weights <= 0)
    if not (method.relocates and empty.size):
        return stats, None, False
    far = backend.map_reduce(method.farthest, it, centers, int(empty.size),
                             per_block=[(int(o),) for o in backend.offsets],
                             combine=partial(_methods.combine_far, m=int(empty.size)))
    if not far.index.size:
        return stats, None, False
    new = empty[:far.index.size]
    if stats.sums is not None:
        sums, weights = stats.sums.copy(), stats.weights.copy()
        for a, b, w, x in zip(far.label, new, far.weight, far.rows.astype(np.float64)):
            sums[a] -= w * x
            weights[a] -= w
            sums[b] = w * x
            weights[b] = w
        stats = _methods.Partial(sums, weights, stats.objective, stats.digests)
    return stats, per_block_moves(backend, far.index, far.label, new), True


def settle(method, backend, stats, centers, new_centers, it, skip):
    """New centres, with each that moved by rounding alone recomputed as old + mean(x - old).

    Rows equal to their centre then leave it exactly where it is, as the mean of
    identical rows should be. Only centres that moved by at most ``FIXED_POINT_REL`` of
    their size are recomputed (a pass over the blocks); ``skip``: clusters whose members
    changed after the step (relocations).
    """
    old = np.asarray(centers, dtype=np.float64)
    moved = np.abs(new_centers - old).max(axis=1)
    near = (moved > 0) & (moved <= FIXED_POINT_REL * np.abs(old).max(axis=1)) & (stats.weights > 0)
    near[np.asarray(skip, dtype=np.int64)] = False
    if not near.any():
        return new_centers
    dev = backend.map_reduce(method.deviations, it, centers, near, combine=_methods.add)
    new_centers = new_centers.copy()
    new_centers[near] = old[near] + dev[near] / stats.weights[near, None]
    return new_centers


def run(method, backend, centers, max_iter, tol, say=None):
    """One run of the loop from ``centers`` (X's dtype); returns a dict with the final
    ``labels`` (as the backend keeps them), ``inertia``, ``centers``, ``n_iter``,
    ``history`` (the objective of each assignment step) and ``counts`` (weight per cluster)."""
    say = say or Progress(0)
    dtype = np.dtype(backend.dtype)
    centers = np.ascontiguousarray(centers, dtype=dtype)
    digests_old = None
    history = []
    strict = False
    moves = None
    for it in range(max_iter):
        stats = backend.map_reduce(method.step, it, centers, per_block=_pairs(moves, backend),
                                   combine=_methods.combine)
        history.append(method.objective(stats.objective))
        stats, moves, moved = relocate(method, backend, stats, centers, it)
        # The shift is measured on the centres as kept, in X's dtype (as scikit-learn).
        new = method.update(backend, stats, centers, it, moves).astype(dtype)
        shift = center_shift(new, centers)
        if shift > tol and method.settles:
            skip = np.concatenate([m[1:] for m in moves if m is not None], axis=None) if moves else []
            settled = settle(method, backend, stats, centers, new, it, skip)
            if settled is not new:
                new, shift = settled, center_shift(settled, centers)
        centers = new
        say.iteration(it, history[-1])
        if (method.strict and digests_old == stats.digests
                and (method.strict_after_relocation or not moved)):
            say.strict(it)
            strict = True
            break
        if shift <= tol:
            say.within_tol(it, shift, tol)
            break
        digests_old = stats.digests
    # The last step's relocations are not handed on: the final labels are the nearest
    # centres' (ties to the lowest index), or after a strict stop the step's own.
    labels, inertia, counts = finish(method, backend, centers, it, strict)
    return {"labels": labels, "inertia": inertia, "centers": centers, "n_iter": it + 1,
            "history": history, "counts": counts}


def finish(method, backend, centers, it=-1, strict=False):
    """(labels as the backend keeps them, objective, weight per cluster) of the final
    centres: after a strict stop at step ``it`` its labels, else the nearest centres'."""
    objective, counts = backend.map_reduce(method.final_stats, it, centers, strict, combine=_add_pairs)
    labels = backend.labels(backend.map_keep(method.final_labels, it, centers, strict))
    return labels, method.objective(objective), counts


def _pairs(moves, backend):
    return [(m,) for m in moves] if moves is not None else None


def _add_pairs(*parts):
    """Pairs added item by item, in block order."""
    first, second = parts[0][0], np.array(parts[0][1], dtype=np.float64)
    for p in parts[1:]:
        first = first + p[0]
        second += p[1]
    return first, second


# -- what a fit decides once ----------------------------------------------------------------

def _moments(data, cache, shift, skip_zero_rows):
    """Rows, and per feature the sums of x - shift and of (x - shift)^2 (float64)."""
    if skip_zero_rows and (data.x_sq == 0).any():
        keep = np.flatnonzero(data.x_sq > 0)
        data = type(data)(data.X[keep], data.w[keep], data.x_sq[keep])
    X = data.X
    if data.sparse:  # unshifted (mean_variance gives sparse rows a zero shift: no densifying)
        Xs = X.astype(np.float64)
        return data.n, np.stack([np.asarray(Xs.sum(axis=0)).ravel(), np.asarray(Xs.multiply(Xs).sum(axis=0)).ravel()])
    part = np.zeros((_dk.n_slots(data.n, 2, data.d), 2, data.d))
    _dk.column_sums(X, shift, part)
    return data.n, part.sum(axis=0)


def mean_variance(backend, skip_zero_rows=False):
    """Mean over features of the per-feature variance of the rows (scikit-learn's tolerance
    scale; all-zero rows left out with ``skip_zero_rows``), from sums of X less its first
    row (a point among the data, which keeps the cancellation in E[v^2] - E[v]^2 small),
    added in a fixed order."""
    shift = np.asarray(backend.gather_rows([0])[0], dtype=np.float64)
    if backend.sparse:
        shift = np.zeros_like(shift)
    n, sums = backend.map_reduce(_moments, shift, skip_zero_rows, combine=_add_pairs)
    if n == 0:
        return 0.0
    first, second = sums / n
    value = float(np.mean(np.maximum(second - first * first, 0.0)))
    if not np.isfinite(value):
        raise ValueError("Input X contains NaN or infinity.")
    return value


def _largest_sq_norm(data, cache):
    return float(data.x_sq.max()) if data.n else 0.0


def _largest_abs(data, cache):
    return max_abs(data.X)


def scale_exponent(backend, *others):
    """e for which the rows * 2**e (and ``others``, arrays, as much) lie in the safe range.

    The squared row norms bound max|x| (max|x|^2 <= max ||x||^2 <= d max|x|^2): when
    both ends lie inside the safe range with a factor of 2 to spare, e is 0 without the
    pass that max|x| costs.
    """
    lo, hi = SAFE_EXPONENTS.get(np.dtype(backend.dtype), SAFE_EXPONENTS[np.dtype(np.float64)])
    m_others = max((max_abs(a) for a in others), default=0.0)
    x_sq = backend.map_reduce(_largest_sq_norm, combine=_methods.largest)
    if 0 < x_sq < np.inf:
        m_lo, m_hi = max(np.sqrt(x_sq / backend.d), m_others), max(np.sqrt(x_sq), m_others)
        if lo < np.frexp(m_lo)[1] and np.frexp(m_hi)[1] < hi:
            return 0
    m = max(backend.map_reduce(_largest_abs, combine=_methods.largest), m_others)
    if m == 0 or not np.isfinite(m):
        return 0
    e = np.frexp(m)[1]  # m = f * 2**e with f in [0.5, 1)
    return 0 if lo <= e <= hi else -int(e)
