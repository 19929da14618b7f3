"""Dense kernels: squared norms, assign + per-cluster sums, exact SSE, seeding potentials.

Determinism: rows are cut into sub-blocks of ``SUB`` rows; sub-block ``b`` always
feeds partial slot ``b % n_slots``, every slot runs its sub-blocks in order, and
slots are added in order. Results therefore depend on the data's shape only, not
on the number of threads.

Dot products are register tiles (4 rows x 2 centres, or 6 rows x 2 vectors of packed
centres; fused multiply-adds where the CPU has them), or, for a row with at most a third
non-zeros, products through its non-zeros and the transposed centres; not BLAS: a BLAS
call per block was slower, and alternating OpenMP and BLAS thread pools costs more than
the GEMM itself. The loops themselves are C++ in
``src/cpp/`` (``lloyd.hpp``), compiled when the package is installed.
"""

import numpy as np

from ... import _core
from ._args import f64, i32, i64, like

SUB = _core.SUB  # rows per sub-block
MAX_SLOTS = 16
SLOT_BYTES = 64 * 2**20  # memory allowed for per-slot partial sums


def n_sub_blocks(n):
    return (n + SUB - 1) // SUB


def n_slots(n, k, d):
    """Number of partial slots: bounded by memory and by the number of sub-blocks."""
    by_memory = SLOT_BYTES // max(1, k * d * 8)
    return int(max(1, min(MAX_SLOTS, by_memory, n_sub_blocks(n))))


def value_summary(V, bits, mask):
    """Per row of a float matrix ``V``: sum(v - v) (0, or NaN where a value is not
    finite) and the largest ``bits & mask`` (``bits``: V's memory as unsigned integers,
    ``mask`` clears the sign bit, so the largest is the largest magnitude; the kernel
    clears it itself)."""
    nonfinite = np.empty(V.shape[0], dtype=V.dtype)
    largest = np.empty(V.shape[0], dtype=bits.dtype)
    _core.value_summary(np.ascontiguousarray(V), nonfinite, largest)
    return nonfinite, largest


def byte_copy(X, scale, Q, q_sq, q_err):
    """Q[i] = round(X[i] / scale) clipped to 0..255; per row the squared norm of
    x' = scale * Q[i] and an upper bound on ||X[i] - x'||."""
    _core.byte_copy(np.ascontiguousarray(X), float(scale), Q, q_sq, q_err)


def row_sq_norms(X):
    X = np.ascontiguousarray(X)
    out = np.empty(X.shape[0], dtype=X.dtype)
    _core.row_sq_norms(X, out)
    return out


def count_nonzeros(X):
    """Non-zeros per row of dense X (int64)."""
    counts = np.empty(X.shape[0], dtype=np.int64)
    _core.count_nonzeros(X, counts)
    return counts


def copy_nonzeros(X, counts):
    """X's non-zeros in CSR form: (ptr, idx int32, val in X's dtype), from count_nonzeros."""
    ptr = np.zeros(X.shape[0] + 1, dtype=np.int64)
    np.cumsum(counts, out=ptr[1:])
    idx = np.empty(int(ptr[-1]), dtype=np.int32)
    val = np.empty(int(ptr[-1]), dtype=X.dtype)
    _core.copy_nonzeros(X, ptr, idx, val)
    return ptr, idx, val


def nz_args(nz, X):
    """The kernels' last three arguments: X's copy of its non-zeros, or empty arrays for none."""
    if nz is None:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int32), np.empty(0, dtype=X.dtype)
    return nz


def lloyd_pass(X, w, C, c_sq, x_sq, err, labels, mind, sse_part, sums_part, nz=None):
    """Assign each row to its nearest centre; one pass over X.

    Writes ``labels``, ``mind`` (squared distance, clipped at 0), ``sse_part[slot]``
    and, unless ``sums_part`` has no clusters, the weighted per-cluster sums. Keys
    within ``2 * err * (||x||^2 + max ||c||^2)`` of the lowest are near-ties, settled
    by exact distances.
    """
    _core.lloyd_pass(X, f64(w), like(C, X), like(c_sq, X), like(x_sq, X), float(err), labels, mind,
                     sse_part, sums_part, *nz_args(nz, X))


def column_sums(X, shift, part):
    """Per-slot float64 column sums of X - shift (``part[s, 0]``) and of its square (``part[s, 1]``)."""
    _core.column_sums(np.ascontiguousarray(X), f64(shift), part)


def exact_sq_dist(X, C, labels, out):
    """out[i] = ||x_i - c_{labels[i]}||^2 by differences (no cancellation)."""
    _core.exact_sq_dist(X, like(C, X), i32(labels), out)


def candidate_sq_dist(X, x_sq, cand, cand_sq, out, nz=None):
    """out[m, i] = ||x_i - cand_m||^2 (clipped at 0): every row against seeding candidates."""
    _core.candidate_sq_dist(X, like(x_sq, X), like(cand, X), like(cand_sq, X), out, *nz_args(nz, X))


def potentials(dist, cols, closest, w):
    """pot[q] = sum_i w_i min(closest_i, dist[cols[q], i]), each summed in row order."""
    cols = i64(cols)
    pot = np.empty(cols.shape[0])
    _core.potentials(dist, cols, like(closest, dist), f64(w), pot)
    return pot
