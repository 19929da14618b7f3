"""Triangle-inequality kernels (Hamerly, Elkan) for dense X.

Bounds are Euclidean distances (not squared), widened by
``err * (||x||^2 + max ||c||^2)`` in squared units, an upper limit on the rounding
of the expanded distance: rounding can only make a row be re-examined, never
skipped wrongly. Candidates are compared by Lloyd's own key (||c||^2 - 2 x.c);
keys within the rounding of a dot product of the lowest are settled by exact
float64 distances, as a Lloyd pass settles them, so the labels are the labels of a
full Lloyd pass.

Bounds are stored relative to each centre's cumulative drift ``cum`` (the sum of
its moves): a lower bound to centre j is ``lower[i, j] - cum[j]``, the upper bound
``upper[i] + cum[labels[i]]``. Moving centres then costs nothing per row, and a row
whose upper bound is within half its centre's separation is skipped in O(1).
Hamerly's single lower bound ``glow`` is relative to ``cum_max``, the summed
largest move of each step.

Per-row work is independent (parallel over fixed blocks of rows); the per-cluster
sums of moved rows are updated sequentially in row order, so results do not depend
on threads.
"""

import numpy as np
from numba import njit, prange

from .dense import SUB, add_to_sums, best_two, exact_sq, nearest_exact, prefetch_row, tile_dots


@njit(inline="always", fastmath=True)
def _dot(X, i, C, j):
    s = X.dtype.type(0)
    for t in range(X.shape[1]):
        s += X[i, t] * C[j, t]
    return s


@njit(inline="always", fastmath=True)
def _key(X, i, C, j, c_sq):
    return c_sq[j] - 2 * _dot(X, i, C, j)


@njit(inline="always", fastmath=True)
def _row_key(X, Q, scale, i, C, j, c_sq):
    """Lloyd's key of row i and centre j from X, or from its byte copy ``Q`` (scale * Q[i]
    stands for X[i]) when there is one: a quarter of the memory traffic."""
    if Q.shape[0] == 0:
        return _key(X, i, C, j, c_sq)
    s = C.dtype.type(0)
    for t in range(Q.shape[1]):
        s += C.dtype.type(Q[i, t]) * C[j, t]
    return c_sq[j] - 2 * (scale * s)


@njit(inline="always")
def _upper(x_sq_i, key, slack):
    return np.sqrt(max(x_sq_i + key + slack, 0.0))


@njit(inline="always")
def _lower(x_sq_i, key, slack):
    return np.sqrt(max(x_sq_i + key - slack, 0.0))


@njit(inline="always", fastmath=True)
def _scan_row(X, i, C, g, c_sq, slack):
    """Nearest centre of row i from its products ``g`` with every centre.

    Returns its key, the lowest key of the other centres, and its index; keys within
    ``2 * slack`` of the lowest are settled by exact distances, as a Lloyd pass does.
    """
    best, second, best_j = best_two(g, c_sq)
    if second - best <= 2 * slack:
        j = nearest_exact(X, i, C, g, c_sq, best + 2 * slack)
        if j != best_j:
            second = best  # the old lowest key is now the lowest of the others
            best = c_sq[j] - 2 * g[j]
            best_j = j
    return best, second, best_j


@njit
def _nearest_recorded(X, i, C, cand, keys, count, limit):
    """Elkan's near-ties: the exactly nearest of the recorded candidates with keys <= ``limit``."""
    best = np.inf
    best_j = -1
    best_r = 0
    for r in range(count):
        if keys[r] <= limit:
            dist = exact_sq(X, i, C, cand[r])
            if dist < best or (dist == best and cand[r] < best_j):
                best = dist
                best_j = cand[r]
                best_r = r
    return best_r


@njit(inline="always")
def _store_low(value, rel):
    """A value to store in a lower-bound array that, once rounded, is still <= ``value``."""
    return value - abs(value) * rel


@njit(parallel=True, fastmath=True, cache=True)
def init_bounds(X, w, C, c_sq, x_sq, err, rel, labels, upper, lower, glow, sums_part):
    """Every distance of every row: label, upper bound, lower bounds (zero drift).

    ``glow`` gets the second smallest distance; ``lower`` of shape (n, K) every
    distance (Elkan), of shape (n, 0) nothing (Hamerly). Unless ``sums_part`` has no
    clusters, the weighted per-cluster sums are added to it by slot (as ``lloyd_pass``).
    """
    n = X.shape[0]
    k = C.shape[0]
    n_sub = (n + SUB - 1) // SUB
    n_slot = sums_part.shape[0]
    all_lower = lower.shape[1] == k
    cmax = c_sq.max()
    for s in prange(n_slot):
        sums = sums_part[s]
        G = np.empty((SUB, k), dtype=X.dtype)
        for b in range(s, n_sub, n_slot):
            start = b * SUB
            end = min(start + SUB, n)
            tile_dots(X, np.arange(start, end), C, G)
            for i in range(start, end):
                g = G[i - start]
                slack = err * (x_sq[i] + cmax)
                if all_lower:
                    for j in range(k):
                        lower[i, j] = _store_low(_lower(x_sq[i], c_sq[j] - 2 * g[j], slack), rel)
                best, second, best_j = _scan_row(X, i, C, g, c_sq, slack)
                labels[i] = best_j
                upper[i] = _upper(x_sq[i], best, slack)
                glow[i] = _store_low(_lower(x_sq[i], second, slack), rel) if k > 1 else np.inf
                add_to_sums(X, i, w, best_j, sums)


@njit(parallel=True, fastmath=True, cache=True)
def hamerly_share(labels, upper, glow, half_sep, cum, cum_max):
    """Fraction of rows Hamerly's bounds leave unsettled before any distance is computed."""
    n = labels.shape[0]
    count = 0
    for i in prange(n):
        a = labels[i]
        count += upper[i] + cum[a] > max(half_sep[a], glow[i] - cum_max)
    return count / max(n, 1)


@njit(parallel=True, fastmath=True, cache=True)
def hamerly_assign(X, C, c_sq, x_sq, half_sep, cum, cum_max, err, rel, labels, upper, glow):
    """One Hamerly step: ``glow`` is the only lower bound.

    Rows the bounds cannot settle are collected per block and scanned together with
    register tiles. Returns the number of rows fully scanned.
    """
    n = X.shape[0]
    k = C.shape[0]
    cmax = c_sq.max()
    n_sub = (n + SUB - 1) // SUB
    examined = 0
    for blk in prange(n_sub):
        # Rows whose bounds fail, then (after their own distance) rows still open.
        check = np.empty(SUB + 2, dtype=np.int64)
        todo = np.empty(SUB, dtype=np.int64)
        n_check = 0
        for i in range(blk * SUB, min(blk * SUB + SUB, n)):
            a = labels[i]
            if upper[i] + cum[a] > max(half_sep[a], glow[i] - cum_max):
                check[n_check] = i
                n_check += 1
        if n_check == 0:
            continue
        check[n_check] = check[n_check + 1] = check[n_check - 1]
        count = 0
        for q in range(n_check):
            prefetch_row(X, check[q + 2])
            i = check[q]
            a = labels[i]
            m = max(half_sep[a], glow[i] - cum_max)
            slack = err * (x_sq[i] + cmax)
            u = _upper(x_sq[i], _key(X, i, C, a, c_sq), slack)
            if u <= m:
                upper[i] = u - cum[a]
                continue
            todo[count] = i
            count += 1
        if count > 0:
            G = np.empty((count, k), dtype=X.dtype)
            tile_dots(X, todo[:count], C, G)
            for r in range(count):
                i = todo[r]
                slack = err * (x_sq[i] + cmax)
                best, second, best_j = _scan_row(X, i, C, G[r], c_sq, slack)
                labels[i] = best_j
                upper[i] = _upper(x_sq[i], best, slack) - cum[best_j]
                glow[i] = _store_low(_lower(x_sq[i], second, slack) + cum_max, rel)
        examined += count
    return examined


@njit(parallel=True, fastmath=True, cache=True)
def elkan_assign(X, C, c_sq, x_sq, half_sep, half_cc, cum, err, rel, labels, upper, lower, Q, scale,
                 q_sq, q_err):
    """One Elkan step; ``lower`` (n, K) relative to ``cum``. Returns distances computed.

    With a byte copy ``Q`` of X (``Q`` of shape (0, 0) for none), distances are those of
    x' = scale * Q[i], of squared norm ``q_sq[i]`` and at most ``q_err[i]`` from x_i:
    the bounds are widened by ``q_err`` (triangle inequality), keys closer than the
    difference it can make are near-ties, settled by exact distances from X.

    A branch-free (vectorised) pass marks, in a byte per centre, the centres the
    bounds do not rule out; the lazy loop then visits only the rows with a mark, and
    in them only the marked centres (read 8 bytes at a time), so a row costs O(K)
    simple instructions plus its few distances. The rows' data are prefetched two
    rows ahead.
    """
    n = X.shape[0]
    k = C.shape[0]
    cmax = c_sq.max()
    computed = 0
    n_sub = (n + SUB - 1) // SUB
    n_words = (k + 7) // 8
    one = np.uint64(1)
    quantized = Q.shape[0] > 0
    for blk in prange(n_sub):
        start = blk * SUB
        end = min(start + SUB, n)
        marks = np.empty((SUB, 8 * n_words), dtype=np.uint8)
        open_rows = np.empty(SUB + 2, dtype=np.int64)
        cand = np.empty(k, dtype=np.int64)  # the centres whose keys a row computed
        keys = np.empty(k)
        n_open = 0
        for i in range(start, end):
            a = labels[i]
            u = upper[i] + cum[a]
            if u <= half_sep[a]:
                continue
            row_marks = marks[i - start]
            n_marked = 0
            for j in range(k):  # half_cc[a, a] is +inf: a is never marked
                o = u > max(lower[i, j] - cum[j], half_cc[a, j])
                row_marks[j] = o
                n_marked += o
            row_marks[k:] = 0
            if n_marked > 0:
                open_rows[n_open] = i
                n_open += 1
        if n_open == 0:
            continue
        open_rows[n_open] = open_rows[n_open + 1] = open_rows[n_open - 1]
        for q in range(n_open):
            if quantized:
                prefetch_row(Q, open_rows[q + 2])
            else:
                prefetch_row(X, open_rows[q + 2])
            i = open_rows[q]
            a = labels[i]
            u = upper[i] + cum[a]
            words = marks[i - start].view(np.uint64)
            xs = q_sq[i] if quantized else x_sq[i]
            e = q_err[i] if quantized else 0.0
            slack = err * (xs + cmax)
            tie = 2 * slack + 4 * e * np.sqrt(cmax)
            key_a = 0.0
            tight = False
            count = 0
            near = False
            for wd in range(n_words):
                word = words[wd]
                if word == 0:
                    continue
                for byte in range(8):
                    if (word >> np.uint64(8 * byte)) & one == 0:
                        continue
                    j = 8 * wd + byte
                    # The upper bound only falls during the loop: re-check.
                    z = max(lower[i, j] - cum[j], half_cc[a, j])
                    if u <= z:
                        continue
                    if not tight:
                        key_a = _row_key(X, Q, scale, i, C, a, c_sq)
                        u = _upper(xs, key_a, slack) + e
                        lower[i, a] = _store_low(_lower(xs, key_a, slack) - e + cum[a], rel)
                        tight = True
                        computed += 1
                        cand[0] = a
                        keys[0] = key_a
                        count = 1
                        if u <= z:
                            continue
                    key_j = _row_key(X, Q, scale, i, C, j, c_sq)
                    lower[i, j] = _store_low(_lower(xs, key_j, slack) - e + cum[j], rel)
                    computed += 1
                    cand[count] = j
                    keys[count] = key_j
                    count += 1
                    near = near or abs(key_j - key_a) <= tie
                    if key_j < key_a or (key_j == key_a and j < a):
                        a = j
                        key_a = key_j
                        u = _upper(xs, key_j, slack) + e
            if near:  # keys within rounding of the lowest: exact distances decide
                r = _nearest_recorded(X, i, C, cand, keys, count, key_a + tie)
                a = cand[r]
                key_a = keys[r]
                u = _upper(xs, key_a, slack) + e
            labels[i] = a
            upper[i] = u - cum[a]
    return computed


@njit(inline="always", fastmath=True)
def _half_distances_from(C, sq, start, allowance, out):
    """Rows ``start:start + 8`` of :func:`half_center_distances` against centres from
    ``start`` on, written to both triangles."""
    k = C.shape[0]
    end = min(start + 8, k)
    G = np.empty((end - start, k - start))
    tile_dots(C, np.arange(start, end), C[start:], G)
    for a in range(start, end):
        for b in range(start, k):
            s = sq[a] + sq[b]
            h = np.sqrt(max(s - 2 * G[a - start, b - start] - allowance * s, 0.0)) / 2
            out[a, b] = h
            out[b, a] = h
    for a in range(start, end):
        out[a, a] = np.inf


@njit(parallel=True, fastmath=True, cache=True)
def half_center_distances(C):
    """Half the pairwise distances of float64 centres, rounded down; diagonal +inf.

    From their products (register tiles, blocks of 8 centres against the centres from
    the block on, mirrored): ||a||^2 + ||b||^2 - 2 a.b, less ``4 d eps (||a||^2 + ||b||^2)``,
    more than its rounding can be. Block ``p`` and block ``n - 1 - p`` go to the same
    task, so the tasks have equal work.
    """
    k, d = C.shape
    allowance = 4 * d * np.finfo(np.float64).eps
    sq = np.empty(k)
    for a in range(k):
        s = 0.0
        for t in range(d):
            s += C[a, t] * C[a, t]
        sq[a] = s
    out = np.empty((k, k))
    n_blk = (k + 7) // 8
    for p in prange((n_blk + 1) // 2):
        _half_distances_from(C, sq, 8 * p, allowance, out)
        if n_blk - 1 - p != p:
            _half_distances_from(C, sq, 8 * (n_blk - 1 - p), allowance, out)
    return out


@njit(cache=True)
def move_rows(X, w, rows, old, new, sums):
    """Move rows between clusters in the per-cluster sums, in row order."""
    for r in range(rows.shape[0]):
        i = rows[r]
        wi = w[i]
        a = old[r]
        b = new[r]
        for t in range(X.shape[1]):
            v = wi * X[i, t]
            sums[a, t] -= v
            sums[b, t] += v
