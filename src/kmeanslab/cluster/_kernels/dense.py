"""Dense hot loops: squared norms, assign + per-cluster sums, exact SSE, seeding potentials.

Determinism: rows are cut into sub-blocks of ``SUB`` rows; sub-block ``b`` always
feeds partial slot ``b % n_slots``, every slot runs its sub-blocks in order, and
slots are added in order. Results therefore depend on the data's shape only, not
on the number of threads.

Dot products come from :func:`tile_dots` (register tiles), not BLAS: a BLAS call
per block was slower, and alternating OpenMP and OpenBLAS thread pools costs more
than the GEMM itself.
"""

import numpy as np
from llvmlite import ir
from numba import njit, prange
from numba.core import cgutils, types
from numba.extending import intrinsic

SUB = 256  # rows per sub-block
MAX_SLOTS = 16
SLOT_BYTES = 64 * 2**20  # memory allowed for per-slot partial sums


def n_sub_blocks(n):
    return (n + SUB - 1) // SUB


def n_slots(n, k, d):
    """Number of partial slots: bounded by memory and by the number of sub-blocks."""
    by_memory = SLOT_BYTES // max(1, k * d * 8)
    return int(max(1, min(MAX_SLOTS, by_memory, n_sub_blocks(n))))


@intrinsic
def prefetch_row(typingctx, arr, i):
    """Hint the CPU to fetch every cache line of row ``i`` of a C-contiguous 2-D array.

    Kernels that visit scattered rows (the ones the bounds could not settle) call it a
    couple of rows ahead: the hardware prefetcher does not see such a pattern, and a
    row of X then arrives from memory while the previous one is being computed.
    """
    def codegen(context, builder, signature, args):
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        zero = context.get_constant(types.intp, 0)
        ptr = cgutils.get_item_pointer(context, builder, aryty, ary, [args[1], zero])
        i8p = ir.IntType(8).as_pointer()
        base = builder.bitcast(ptr, i8p)
        row_bytes = cgutils.unpack_tuple(builder, ary.strides, 2)[0]
        fnty = ir.FunctionType(ir.VoidType(), [i8p, ir.IntType(32), ir.IntType(32), ir.IntType(32)])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0i8")
        read, keep, data = (ir.Constant(ir.IntType(32), v) for v in (0, 3, 1))
        line = context.get_constant(types.intp, 64)
        with cgutils.for_range_slice(builder, zero, row_bytes, line) as (offset, _):
            builder.call(fn, [builder.gep(base, [offset]), read, keep, data])
        return context.get_dummy_value()

    return types.void(arr, i), codegen


@njit(parallel=True, cache=True, fastmath={"reassoc"})
def value_summary(V, bits, mask):
    """Per row of a float matrix ``V``: sum(v - v) (0, or NaN where a value is not
    finite) and the largest ``bits & mask`` (``bits``: V's memory as unsigned integers,
    ``mask`` clears the sign bit, so the largest is the largest magnitude).

    No assumption about NaN or infinity is allowed to the compiler here: it could
    otherwise fold ``v - v`` to 0.
    """
    n, d = V.shape
    nonfinite = np.empty(n, dtype=V.dtype)
    largest = np.empty(n, dtype=bits.dtype)
    for i in prange(n):
        s = V.dtype.type(0)
        m = bits.dtype.type(0)
        for t in range(d):
            s += V[i, t] - V[i, t]
            m = max(m, bits[i, t] & mask)
        nonfinite[i] = s
        largest[i] = m
    return nonfinite, largest


@njit(parallel=True, fastmath=True, cache=True)
def byte_copy(X, scale, Q, q_sq, q_err):
    """Q[i] = round(X[i] / scale) clipped to 0..255; per row the squared norm of
    x' = scale * Q[i] and an upper bound on ||X[i] - x'|| (float64 sums, whose
    rounding the factor 1 + 1e-9 covers; X is finite)."""
    n, d = X.shape
    inv = 1.0 / np.float64(scale)
    for i in prange(n):
        s2 = 0.0
        e2 = 0.0
        for t in range(d):
            q = min(max(np.rint(np.float64(X[i, t]) * inv), 0.0), 255.0)
            Q[i, t] = np.uint8(q)
            x = q * np.float64(scale)
            s2 += x * x
            diff = np.float64(X[i, t]) - x
            e2 += diff * diff
        q_sq[i] = s2
        q_err[i] = np.sqrt(e2) * (1 + 1e-9)


@njit(parallel=True, fastmath=True, cache=True)
def row_sq_norms(X):
    n, d = X.shape
    out = np.empty(n, dtype=X.dtype)
    for i in prange(n):
        s = X.dtype.type(0)
        for t in range(d):
            s += X[i, t] * X[i, t]
        out[i] = s
    return out


@njit(inline="always", fastmath=True)
def tile_dots(X, rows, C, G):
    """G[r, j] = X[rows[r]] . C[j] for every listed row and every row of C.

    Register tiles of 4 rows x 2 centres: each loaded value feeds several FMAs, which
    runs 2-3x faster than one dot product at a time and faster than a BLAS GEMM per
    block (and needs no BLAS thread pool). The rows left over after the 4-row tiles
    (and an odd last centre) take simpler loops, whose rounding may differ in the last
    bit; which loop a product takes depends on the listed rows only, not on threads.
    """
    k = C.shape[0]
    d = X.shape[1]
    m = rows.shape[0]
    z = X.dtype.type(0)
    r = 0
    while r + 4 <= m:
        i0 = rows[r]
        i1 = rows[r + 1]
        i2 = rows[r + 2]
        i3 = rows[r + 3]
        j = 0
        while j + 2 <= k:
            s0 = s1 = s2 = s3 = s4 = s5 = s6 = s7 = z
            for t in range(d):
                a = C[j, t]
                b = C[j + 1, t]
                x0 = X[i0, t]
                x1 = X[i1, t]
                x2 = X[i2, t]
                x3 = X[i3, t]
                s0 += x0 * a
                s1 += x0 * b
                s2 += x1 * a
                s3 += x1 * b
                s4 += x2 * a
                s5 += x2 * b
                s6 += x3 * a
                s7 += x3 * b
            G[r, j] = s0
            G[r, j + 1] = s1
            G[r + 1, j] = s2
            G[r + 1, j + 1] = s3
            G[r + 2, j] = s4
            G[r + 2, j + 1] = s5
            G[r + 3, j] = s6
            G[r + 3, j + 1] = s7
            j += 2
        if j < k:
            s0 = s1 = s2 = s3 = z
            for t in range(d):
                a = C[j, t]
                s0 += X[i0, t] * a
                s1 += X[i1, t] * a
                s2 += X[i2, t] * a
                s3 += X[i3, t] * a
            G[r, j] = s0
            G[r + 1, j] = s1
            G[r + 2, j] = s2
            G[r + 3, j] = s3
        r += 4
    while r < m:
        i0 = rows[r]
        for j in range(k):
            s0 = z
            for t in range(d):
                s0 += X[i0, t] * C[j, t]
            G[r, j] = s0
        r += 1


@njit(inline="always", fastmath=True)
def best_two(g, c_sq):
    """Lowest and second lowest key ||c||^2 - 2 x.c from products ``g``, and the lowest's index."""
    best = np.inf
    second = np.inf
    best_j = 0
    for j in range(g.shape[0]):
        key = c_sq[j] - 2 * g[j]
        if key < best:
            second = best
            best = key
            best_j = j
        elif key < second:
            second = key
    return best, second, best_j


@njit
def exact_sq(X, i, C, j):
    """||X[i] - C[j]||^2 in float64 by differences, summed in a fixed order.

    No fastmath: the value is the same in every kernel that calls it, so ties are
    broken the same way by all of them.
    """
    s0 = s1 = s2 = s3 = 0.0
    d = X.shape[1]
    t = 0
    while t + 4 <= d:
        v0 = np.float64(X[i, t]) - np.float64(C[j, t])
        v1 = np.float64(X[i, t + 1]) - np.float64(C[j, t + 1])
        v2 = np.float64(X[i, t + 2]) - np.float64(C[j, t + 2])
        v3 = np.float64(X[i, t + 3]) - np.float64(C[j, t + 3])
        s0 += v0 * v0
        s1 += v1 * v1
        s2 += v2 * v2
        s3 += v3 * v3
        t += 4
    while t < d:
        v0 = np.float64(X[i, t]) - np.float64(C[j, t])
        s0 += v0 * v0
        t += 1
    return (s0 + s1) + (s2 + s3)


@njit
def nearest_exact(X, i, C, g, c_sq, limit):
    """The nearest centre by exact distance among those whose key is <= ``limit``.

    Keys (||c||^2 - 2 x.c from the products ``g`` in X's dtype) within the rounding
    of a dot product of the lowest one cannot tell which centre is nearer; the exact
    float64 distances can, whatever order the products were summed in (lowest index
    on exact ties).
    """
    best = np.inf
    best_j = 0
    for j in range(g.shape[0]):
        if c_sq[j] - 2 * g[j] <= limit:
            dist = exact_sq(X, i, C, j)
            if dist < best:
                best = dist
                best_j = j
    return best_j


@njit(inline="always", fastmath=True)
def nearest(X, i, C, g, c_sq, tie):
    """Key and index of the centre nearest row i, from its products ``g`` with C.

    ``tie`` bounds how far apart the rounding can put the keys of two equally near
    centres; keys closer than that are settled by :func:`nearest_exact`.
    """
    best, second, best_j = best_two(g, c_sq)
    if second - best <= tie:
        best_j = nearest_exact(X, i, C, g, c_sq, best + tie)
        best = c_sq[best_j] - 2 * g[best_j]
    return best, best_j


@njit(inline="always", fastmath=True)
def _record_dense(X, i, w, x_sq, best, best_j, labels, mind, sums):
    """Store row i's label and distance, add it to ``sums`` (if given); return w * distance."""
    labels[i] = best_j
    v = max(x_sq[i] + best, 0.0)
    mind[i] = v
    add_to_sums(X, i, w, best_j, sums)
    return w[i] * v


@njit(inline="always", fastmath=True)
def add_to_sums(X, i, w, label, sums):
    """sums[label] += w[i] * X[i] (nothing when ``sums`` has no clusters)."""
    if sums.shape[0] > 0:
        wi = w[i]
        row = sums[label]
        for t in range(X.shape[1]):
            row[t] += wi * X[i, t]


@njit(parallel=True, fastmath=True, cache=True)
def lloyd_pass(X, w, C, c_sq, x_sq, err, labels, mind, sse_part, sums_part):
    """Assign each row to its nearest centre; one pass over X.

    Writes ``labels``, ``mind`` (squared distance, clipped at 0), ``sse_part[slot]``
    and, unless ``sums_part`` has no clusters, the weighted per-cluster sums. Keys
    within ``2 * err * (||x||^2 + max ||c||^2)`` of the lowest are near-ties, settled
    by exact distances.
    """
    n = X.shape[0]
    n_sub = (n + SUB - 1) // SUB
    n_slot = sse_part.shape[0]
    cmax = c_sq.max()
    for s in prange(n_slot):
        acc = 0.0
        sums = sums_part[s]
        G = np.empty((SUB, C.shape[0]), dtype=X.dtype)
        for b in range(s, n_sub, n_slot):
            start = b * SUB
            end = min(start + SUB, n)
            tile_dots(X, np.arange(start, end), C, G)
            for i in range(start, end):
                best, best_j = nearest(X, i, C, G[i - start], c_sq, 2 * err * (x_sq[i] + cmax))
                acc += _record_dense(X, i, w, x_sq, best, best_j, labels, mind, sums)
        sse_part[s] = acc


@njit(parallel=True, fastmath=True, cache=True)
def column_sums(X, shift, part):
    """Per-slot float64 column sums of X - shift (``part[s, 0]``) and of its square (``part[s, 1]``)."""
    n, d = X.shape
    n_sub = (n + SUB - 1) // SUB
    n_slot = part.shape[0]
    for s in prange(n_slot):
        first = part[s, 0]
        second = part[s, 1]
        for b in range(s, n_sub, n_slot):
            for i in range(b * SUB, min(b * SUB + SUB, n)):
                for t in range(d):
                    v = np.float64(X[i, t]) - shift[t]
                    first[t] += v
                    second[t] += v * v


@njit(parallel=True, fastmath=True, cache=True)
def exact_sq_dist(X, C, labels, out):
    """out[i] = ||x_i - c_{labels[i]}||^2 by differences (no cancellation)."""
    n, d = X.shape
    for i in prange(n):
        c = C[labels[i]]
        s = X.dtype.type(0)
        for t in range(d):
            diff = X[i, t] - c[t]
            s += diff * diff
        out[i] = s


@njit(parallel=True, fastmath=True, cache=True)
def candidate_sq_dist(X, x_sq, cand, cand_sq, out):
    """out[m, i] = ||x_i - cand_m||^2 (clipped at 0): every row against seeding candidates."""
    n = X.shape[0]
    for b in prange((n + SUB - 1) // SUB):
        start = b * SUB
        end = min(start + SUB, n)
        G = np.empty((end - start, cand.shape[0]), dtype=X.dtype)
        tile_dots(X, np.arange(start, end), cand, G)
        for m in range(cand.shape[0]):
            for i in range(start, end):
                out[m, i] = max(x_sq[i] + cand_sq[m] - 2 * G[i - start, m], 0.0)


@njit(parallel=True, cache=True)
def potentials(dist, cols, closest, w):
    """pot[q] = sum_i w_i min(closest_i, dist[cols[q], i]), each summed in row order."""
    pot = np.empty(cols.shape[0])
    for q in prange(cols.shape[0]):
        row = dist[cols[q]]
        s = 0.0
        for i in range(row.shape[0]):
            s += w[i] * min(closest[i], row[i])
        pot[q] = s
    return pot
