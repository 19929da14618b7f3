"""Triangle-inequality kernels (Hamerly, Elkan) for dense X; the loops are C++
(``src/cpp/bounds.hpp``).

Bounds are Euclidean distances (not squared), widened by
``err * (||x||^2 + max ||c||^2)`` in squared units, an upper limit on the rounding
of the expanded distance: rounding can only make a row be re-examined, never
skipped wrongly. Candidates are compared by Lloyd's own key (||c||^2 - 2 x.c);
keys within the rounding of a dot product of the lowest are settled by exact
float64 distances, as a Lloyd pass settles them, so the labels are the labels of a
full Lloyd pass.

Bounds are stored relative to each centre's cumulative drift ``cum`` (the sum of
its moves): a lower bound to centre j is ``lower[i, j] - cum[j]``, the upper bound
``upper[i] + cum[labels[i]]``. Hamerly's single lower bound ``glow`` is relative to
``cum_max``, the summed largest move of each step.

Per-row work is independent (parallel over fixed blocks of rows); the per-cluster
sums of moved rows are updated sequentially in row order, so results do not depend
on threads.
"""

import numpy as np

from ... import _core
from ._args import f64, i64, like
from .dense import nz_args


def init_bounds(X, w, C, c_sq, x_sq, err, rel, labels, upper, lower, glow, sums_part, nz=None):
    """Every distance of every row: label, upper bound, lower bounds (zero drift).

    ``glow`` gets the second smallest distance; ``lower`` of shape (n, K) every
    distance (Elkan), of shape (n, 0) nothing (Hamerly). Unless ``sums_part`` has no
    clusters, the weighted per-cluster sums are added to it by slot (as ``lloyd_pass``).
    """
    _core.init_bounds(X, f64(w), like(C, X), like(c_sq, X), like(x_sq, X), float(err), float(rel),
                      labels, upper, lower, glow, sums_part, *nz_args(nz, X))


def hamerly_assign(X, C, c_sq, x_sq, half_sep, cum, cum_max, err, rel, labels, upper, glow, nz=None,
                   max_open=1.0):
    """One Hamerly step: ``glow`` is the only lower bound. Returns the rows fully scanned,
    or -1, having changed nothing, when the bounds leave more than ``max_open`` of the rows
    open (below 1)."""
    return _core.hamerly_assign(X, like(C, X), like(c_sq, X), like(x_sq, X), f64(half_sep), f64(cum),
                                float(cum_max), float(err), float(rel), labels, upper, glow, float(max_open),
                                *nz_args(nz, X))


def elkan_assign(X, C, c_sq, x_sq, half_sep, half_cc, cum, err, rel, labels, upper, lower, Q, scale,
                 q_sq, q_err, nz=None, max_open=1.0):
    """One Elkan step; ``lower`` (n, K) relative to ``cum``. Returns distances computed, or
    -1, having changed nothing, when the bounds leave more than ``max_open`` (below 1) of
    the (row, centre) pairs open, as counted on every 16th row.

    With a byte copy ``Q`` of X (``Q`` of shape (0, 0) for none), distances are those of
    x' = scale * Q[i], of squared norm ``q_sq[i]`` and at most ``q_err[i]`` from x_i:
    the bounds are widened by ``q_err`` (triangle inequality), keys closer than the
    difference it can make are near-ties, settled by exact distances from X.
    """
    return _core.elkan_assign(X, like(C, X), like(c_sq, X), like(x_sq, X), f64(half_sep), f64(half_cc),
                              f64(cum), float(err), float(rel), labels, upper, lower,
                              np.ascontiguousarray(Q), float(scale), f64(q_sq), f64(q_err), float(max_open),
                              *nz_args(nz, X))


def half_center_distances(C):
    """Half the pairwise distances of float64 centres, rounded down; diagonal +inf."""
    C = f64(C)
    out = np.empty((C.shape[0], C.shape[0]))
    _core.half_center_distances(C, out)
    return out


def move_rows(X, w, rows, old, new, sums, nz=None):
    """Move rows between clusters in the per-cluster sums, in row order."""
    _core.move_rows(X, f64(w), i64(rows), i64(old), i64(new), sums, *nz_args(nz, X))
