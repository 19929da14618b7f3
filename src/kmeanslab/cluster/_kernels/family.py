"""Hot loops of the k-means family: L1 assignment, weighted medians, soft responsibilities.

Determinism follows :mod:`.dense`: rows are cut into sub-blocks of ``SUB`` rows,
sub-block ``b`` feeds partial slot ``b % n_slots``, each slot walks its sub-blocks
in order and the caller adds the slots in order. Kernels that write one output per
task (medians, distance matrices) need no slots. Nothing depends on the thread count.
"""

import numpy as np
from numba import njit, prange

from .dense import SUB
from .sparse import _products

N_BUCKETS = 256  # buckets per round of the weighted median selection


# -- sampling ------------------------------------------------------------------------------
@njit(fastmath=True, cache=True)
def draw_rows(cdf, u, out):
    """out[i] = np.searchsorted(cdf, u[i], side="right"), exactly, for a non-decreasing cdf.

    Starts from the guess u * n (right for uniform weights up to rounding) and walks to
    the answer; a walk longer than a few steps falls back to binary search. Keys are
    random, so a binary search per key costs ~17 cache misses; this costs one or two.
    """
    n = cdf.shape[0]
    for i in range(u.shape[0]):
        x = u[i]
        g = min(max(int(x * n), 0), n)
        steps = 0
        while g > 0 and cdf[g - 1] > x and steps < 8:
            g -= 1
            steps += 1
        while g < n and cdf[g] <= x and steps < 8:
            g += 1
            steps += 1
        if steps == 8:
            g = np.searchsorted(cdf, x, side="right")
        out[i] = g


# -- Manhattan (L1) ------------------------------------------------------------------------
@njit(inline="always", fastmath=True)
def _l1_dense(X, i, c):
    s = X.dtype.type(0)
    for t in range(X.shape[1]):
        s += abs(X[i, t] - c[t])
    return s


@njit(inline="always", fastmath=True)
def _l1_csr(data, indices, indptr, i, c, c_abs):
    """||x_i - c||_1 = ||c||_1 + sum over non-zeros of |x - c_j| - |c_j|."""
    s = 0.0
    for p in range(indptr[i], indptr[i + 1]):
        cj = c[indices[p]]
        s += abs(data[p] - cj) - abs(cj)
    return max(c_abs + s, 0.0)


@njit(parallel=True, fastmath=True, cache=True)
def l1_assign(X, w, C, labels, mind, sse_part, dist):
    """Nearest centre in L1 of each row: label, distance, weighted sum per slot; and,
    unless ``dist`` has no rows, every distance (n, K)."""
    n = X.shape[0]
    n_sub = (n + SUB - 1) // SUB
    n_slot = sse_part.shape[0]
    for s in prange(n_slot):
        acc = 0.0
        for b in range(s, n_sub, n_slot):
            for i in range(b * SUB, min(b * SUB + SUB, n)):
                best, best_j = np.inf, 0
                for j in range(C.shape[0]):
                    v = _l1_dense(X, i, C[j])
                    if dist.shape[0] > 0:
                        dist[i, j] = v
                    if v < best:
                        best, best_j = v, j
                labels[i] = best_j
                mind[i] = best
                acc += w[i] * best
        sse_part[s] = acc


@njit(parallel=True, fastmath=True, cache=True)
def l1_assign_csr(data, indices, indptr, w, C, c_abs, labels, mind, sse_part, dist):
    """Sparse twin of :func:`l1_assign`; ``c_abs`` holds the L1 norm of each centre."""
    n = indptr.shape[0] - 1
    n_sub = (n + SUB - 1) // SUB
    n_slot = sse_part.shape[0]
    for s in prange(n_slot):
        acc = 0.0
        for b in range(s, n_sub, n_slot):
            for i in range(b * SUB, min(b * SUB + SUB, n)):
                best, best_j = np.inf, 0
                for j in range(C.shape[0]):
                    v = _l1_csr(data, indices, indptr, i, C[j], c_abs[j])
                    if dist.shape[0] > 0:
                        dist[i, j] = v
                    if v < best:
                        best, best_j = v, j
                labels[i] = best_j
                mind[i] = best
                acc += w[i] * best
        sse_part[s] = acc


# -- weighted medians ----------------------------------------------------------------------
@njit(fastmath=True)
def _median_by_sorting(v, wt, m, below, half, right_min):
    """Fallback of :func:`weighted_median` for a value range too narrow to bucket."""
    idx = np.argsort(v[:m])
    cum = below
    for q in range(m):
        cum += wt[idx[q]]
        if cum >= half:
            if cum == half:
                nxt = v[idx[q + 1]] if q + 1 < m else right_min
                return 0.5 * (v[idx[q]] + nxt)
            return v[idx[q]]
    return v[idx[m - 1]]


@njit(inline="always", fastmath=True)
def _keep_range(v, wt, m, a, b):
    """Move the entries with a <= v <= b to the front (branch-free); return their count."""
    k = 0
    for i in range(m):
        x = v[i]
        v[k] = x
        wt[k] = wt[i]
        k += 1 if (x >= a) & (x <= b) else 0
    return k


@njit(fastmath=True)
def weighted_median(v, wt, m, hist, guess):
    """Minimiser of sum_i wt_i |v_i - x| over the first ``m`` entries (all wt > 0).

    ``guess`` (the previous median) is tried first: the pass that sums the weights
    also weighs the values below and at it, and when it still splits the weight in
    half that pass decides; otherwise only the side holding the median is kept.
    Then bucket selection: a pass histograms the weights into ``N_BUCKETS``
    equal-width buckets of the current value range (binning is monotone in the value,
    so buckets never interleave), the bucket holding half the weight is kept and
    compacted to the front, and so on; each round drops the smallest or the largest
    value, and most end in a bucket of one distinct value. Where a whole interval
    minimises (the weight below it exactly half) its midpoint is returned, so unit
    weights give ``np.median``. Overwrites v and wt; ``hist`` is (3, N_BUCKETS) scratch.
    """
    half = 0.0
    a = v[0]
    b = v[0]
    w_lt = 0.0
    w_eq = 0.0
    lt_max = -1.7e308  # largest value below guess, smallest above (finite sentinels)
    gt_min = 1.7e308
    for i in range(m):  # branch-free, so that it vectorises
        x = v[i]
        half += wt[i]
        a = min(a, x)
        b = max(b, x)
        w_lt += wt[i] if x < guess else 0.0
        w_eq += wt[i] if x == guess else 0.0
        lt_max = max(lt_max, x if x < guess else -1.7e308)
        gt_min = min(gt_min, x if x > guess else 1.7e308)
    half *= 0.5
    if w_lt < half:
        if w_lt + w_eq > half:
            return guess
        if w_lt + w_eq == half:  # then w_eq > 0, and some value lies above guess
            return 0.5 * (guess + gt_min)
        below = w_lt + w_eq  # weight of the values discarded below the range [a, b]
        right_min = b  # smallest value discarded above it (read only once one is)
        a = gt_min
    else:
        nxt = guess if w_eq > 0 else gt_min
        if w_lt == half:
            return 0.5 * (lt_max + nxt)
        below = 0.0
        right_min = nxt
        b = lt_max
    m = _keep_range(v, wt, m, a, b)
    hw, hmin, hmax = hist[0], hist[1], hist[2]
    while a < b:
        scale = N_BUCKETS / (b - a)
        if not scale < 1e300:
            return _median_by_sorting(v, wt, m, below, half, right_min)
        hw[:] = 0.0
        hmin[:] = b
        hmax[:] = a
        for i in range(m):
            j = min(int((v[i] - a) * scale), N_BUCKETS - 1)
            hw[j] += wt[i]
            hmin[j] = min(hmin[j], v[i])
            hmax[j] = max(hmax[j], v[i])
        j = 0
        while below + hw[j] < half and j < N_BUCKETS - 1:
            below += hw[j]
            j += 1
        for q in range(j + 1, N_BUCKETS):
            if hw[q] > 0:
                right_min = hmin[q]
                break
        if below + hw[j] == half:
            return 0.5 * (hmax[j] + right_min)
        a, b = hmin[j], hmax[j]
        m = _keep_range(v, wt, m, a, b)
    return a


@njit(parallel=True, fastmath=True, cache=True)
def medians_dense(X, w, order, starts, out):
    """Weighted coordinate-wise median of each cluster, written into ``out`` (K, d).

    Cluster k holds rows ``order[starts[k]:starts[k+1]]`` (all of positive weight); a
    cluster without rows keeps its row of ``out``, which holds the previous centres
    (the selection's first guesses). Each cluster is first gathered
    transposed, 16 rows at a time, so that every feature is then one contiguous run.
    """
    d = X.shape[1]
    K = starts.shape[0] - 1
    m_max = 0
    for k in range(K):
        m_max = max(m_max, starts[k + 1] - starts[k])
    flat = np.empty(d * m_max, dtype=X.dtype)  # one buffer for every cluster in turn
    for k in range(K):
        s, e = starts[k], starts[k + 1]
        m = e - s
        if m == 0:
            continue
        XT = flat[: d * m].reshape((d, m))
        for g in prange((m + 15) // 16):
            for r in range(g * 16, min(g * 16 + 16, m)):
                row = X[order[s + r]]
                for t in range(d):
                    XT[t, r] = row[t]
        wk = np.empty(m)
        for r in range(m):
            wk[r] = w[order[s + r]]
        for t in prange(d):
            v = XT[t].astype(np.float64)
            wt = wk.copy()
            out[k, t] = weighted_median(v, wt, m, np.empty((3, N_BUCKETS)), out[k, t])


@njit(parallel=True, fastmath=True, cache=True)
def medians_csc(data, indices, indptr, w, starts, out):
    """Sparse twin of :func:`medians_dense` on X[order] in CSC form (sorted indices).

    Within column j the entries of cluster k are the contiguous run of row indices in
    [starts[k], starts[k+1]); the cluster's implicit zeros enter as one weighted 0.
    """
    K = starts.shape[0] - 1
    wsum = np.zeros(K)
    for k in range(K):
        for i in range(starts[k], starts[k + 1]):
            wsum[k] += w[i]
    for j in prange(indptr.shape[0] - 1):
        hist = np.empty((3, N_BUCKETS))
        col = indices[indptr[j]:indptr[j + 1]]
        for k in range(K):
            if wsum[k] <= 0:
                continue
            a = indptr[j] + np.searchsorted(col, starts[k])
            b = indptr[j] + np.searchsorted(col, starts[k + 1])
            v = np.empty(b - a + 1)
            wt = np.empty(b - a + 1)
            m = 0
            nz = 0.0
            for p in range(a, b):
                wi = w[indices[p]]
                if wi > 0:
                    v[m] = data[p]
                    wt[m] = wi
                    nz += wi
                    m += 1
            zero_w = wsum[k] - nz
            if zero_w > 0:
                v[m] = 0.0
                wt[m] = zero_w
                m += 1
            out[k, j] = weighted_median(v, wt, m, hist, out[k, j])


# -- soft responsibilities -----------------------------------------------------------------
@njit(inline="always", fastmath=True)
def _soft_row(i, dd, w, beta, cap, r, labels, resp):
    """Row i from its squared distances ``dd``: label = argmin dd, ``resp[i]`` =
    softmax(-beta dd) (if asked) and r = w_i resp[i]; returns w_i F_i.

    F_i = -(1/beta) log((1/K) sum_k exp(-beta dd_k)) is computed around the nearest
    centre with expm1 / log1p, so no beta and no scale of dd underflows to log(0).
    """
    K = dd.shape[0]
    dmin, jmin = dd[0], 0
    for j in range(1, K):
        if dd[j] < dmin:
            dmin, jmin = dd[j], j
    labels[i] = jmin
    tot_m1 = 0.0
    tot = 0.0
    for j in range(K):
        gap = dd[j] - dmin
        if gap > cap:  # beta * gap > 745: exp underflows to exactly 0
            r[j] = 0.0
            tot_m1 -= 1.0
        else:
            r[j] = np.exp(-beta * gap)
            tot_m1 += np.expm1(-beta * gap)
        tot += r[j]
    for j in range(K):
        r[j] /= tot
    if resp.shape[0] > 0:
        resp[i] = r
    for j in range(K):
        r[j] *= w[i]
    return w[i] * (dmin - np.log1p(tot_m1 / K) / beta)


@njit(parallel=True, fastmath=True, cache=True)
def soft_dense(X, w, CT, c_sq, x_sq, beta, cap, labels, resp, obj_part, sums_part, mass_part):
    """E-step over all rows: weighted soft objective per slot, nearest-centre labels,
    optional responsibilities and responsibility-weighted sums.

    ``resp`` (n, K) is written unless it has no rows; ``sums_part`` / ``mass_part``
    unless they have no clusters. One single-threaded GEMM per sub-block gives the
    dot products.
    """
    n, d = X.shape
    K = CT.shape[1]
    n_sub = (n + SUB - 1) // SUB
    n_slot = obj_part.shape[0]
    for s in prange(n_slot):
        acc = 0.0
        sums, mass = sums_part[s], mass_part[s]
        dd, wr = np.empty(K), np.empty(K)
        for b in range(s, n_sub, n_slot):
            start = b * SUB
            end = min(start + SUB, n)
            G = np.dot(X[start:end], CT)
            for i in range(start, end):
                for j in range(K):
                    dd[j] = max(x_sq[i] + c_sq[j] - 2.0 * G[i - start, j], 0.0)
                acc += _soft_row(i, dd, w, beta, cap, wr, labels, resp)
                for j in range(sums.shape[0]):
                    if wr[j] > 0:  # hard-ish rows touch one centre only
                        mass[j] += wr[j]
                        for t in range(d):
                            sums[j, t] += wr[j] * X[i, t]
        obj_part[s] = acc


@njit(parallel=True, fastmath=True, cache=True)
def soft_csr(data, indices, indptr, w, CT, c_sq, x_sq, beta, cap, labels, resp, obj_part,
             sums_part, mass_part):
    """Sparse twin of :func:`soft_dense`."""
    n = indptr.shape[0] - 1
    K = CT.shape[1]
    n_sub = (n + SUB - 1) // SUB
    n_slot = obj_part.shape[0]
    for s in prange(n_slot):
        acc = 0.0
        sums, mass = sums_part[s], mass_part[s]
        dd, wr = np.empty(K), np.empty(K)
        g = np.empty(K, dtype=CT.dtype)
        for b in range(s, n_sub, n_slot):
            for i in range(b * SUB, min(b * SUB + SUB, n)):
                _products(data, indices, indptr, i, CT, g)
                for j in range(K):
                    dd[j] = max(x_sq[i] + c_sq[j] - 2.0 * g[j], 0.0)
                acc += _soft_row(i, dd, w, beta, cap, wr, labels, resp)
                for j in range(sums.shape[0]):
                    if wr[j] > 0:
                        mass[j] += wr[j]
                        for p in range(indptr[i], indptr[i + 1]):
                            sums[j, indices[p]] += wr[j] * data[p]
        obj_part[s] = acc
