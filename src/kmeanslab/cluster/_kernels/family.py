"""Kernels of the k-means family: L1 assignment, weighted medians, soft responsibilities,
row draws (C++ in ``src/cpp/family.hpp``).

Determinism follows :mod:`.dense`: rows are cut into sub-blocks of ``SUB`` rows,
sub-block ``b`` feeds partial slot ``b % n_slots``, each slot walks its sub-blocks
in order and the caller adds the slots in order. Kernels that write one output per
task (medians, distance matrices) need no slots. Nothing depends on the thread count.
"""

import numpy as np

from ... import _core
from ._args import csr_index, f64, i64, like

N_BUCKETS = _core.N_BUCKETS  # buckets per round of the weighted median selection


def draw_rows(cdf, u, out):
    """out[i] = np.searchsorted(cdf, u[i], side="right"), exactly, for a non-decreasing cdf."""
    _core.draw_rows(f64(cdf), f64(u), out)


def l1_assign(X, w, C, labels, mind, sse_part, dist):
    """Nearest centre in L1 of each row: label, distance, weighted sum per slot; and,
    unless ``dist`` has no rows, every distance (n, K)."""
    _core.l1_assign(X, f64(w), like(C, X), labels, mind, sse_part, dist)


def l1_assign_csr(data, indices, indptr, w, C, c_abs, labels, mind, sse_part, dist):
    """Sparse twin of :func:`l1_assign`; ``c_abs`` holds the L1 norm of each centre."""
    indices, indptr = csr_index(indices, indptr)
    _core.l1_assign_csr(data, indices, indptr, f64(w), like(C, data), f64(c_abs), labels, mind,
                        sse_part, dist)


def weighted_median(v, wt, m, hist, guess):
    """Minimiser of sum_i wt_i |v_i - x| over the first ``m`` entries (all wt > 0).

    Overwrites v and wt; ``hist`` is (3, N_BUCKETS) scratch. Where a whole interval
    minimises, its midpoint is returned, so unit weights give ``np.median``.
    """
    return _core.weighted_median(v, wt, int(m), hist, float(guess))


def medians_dense(X, w, order, starts, out):
    """Weighted coordinate-wise median of each cluster, written into ``out`` (K, d).

    Cluster k holds rows ``order[starts[k]:starts[k+1]]`` (all of positive weight); a
    cluster without rows keeps its row of ``out`` (the previous centres, which are
    also the selection's first guesses).
    """
    _core.medians_dense(X, f64(w), i64(order), i64(starts), out)


def medians_csc(data, indices, indptr, w, starts, out):
    """Sparse twin of :func:`medians_dense` on X[order] in CSC form (sorted indices)."""
    indices, indptr = csr_index(indices, indptr)
    _core.medians_csc(data, indices, indptr, f64(w), i64(starts), out)


def soft_dense(X, w, CT, c_sq, x_sq, beta, cap, labels, resp, obj_part, sums_part, mass_part):
    """E-step over all rows: weighted soft objective per slot, nearest-centre labels,
    optional responsibilities and responsibility-weighted sums.

    ``resp`` (n, K) is written unless it has no rows; ``sums_part`` / ``mass_part``
    unless they have no clusters. Labels of rows whose two nearest centres are closer
    than the rounding of the distances are settled by exact distances (as Lloyd's).
    """
    _core.soft_dense(X, f64(w), like(np.transpose(CT), X), like(c_sq, X), like(x_sq, X), float(beta),
                     float(cap), _err(X), labels, resp, obj_part, sums_part, mass_part)


def soft_csr(data, indices, indptr, w, CT, c_sq, x_sq, beta, cap, labels, resp, obj_part, sums_part,
             mass_part):
    """Sparse twin of :func:`soft_dense`."""
    indices, indptr = csr_index(indices, indptr)
    _core.soft_csr(data, indices, indptr, f64(w), like(CT, data), like(np.transpose(CT), data),
                   like(c_sq, data), like(x_sq, data), float(beta), float(cap), _err(data), labels, resp,
                   obj_part, sums_part, mass_part)


def _err(X):
    """The engine's bound on the rounding of an expanded distance, for X's dtype."""
    from . import ERR

    return ERR[np.dtype(X.dtype)]
