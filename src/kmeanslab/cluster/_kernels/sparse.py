"""CSR hot loops, mirroring :mod:`.dense` on (data, indices, indptr).

The same sub-block / slot partition as the dense kernels keeps results independent
of the number of threads.
"""

import numpy as np
from numba import njit, prange

from .dense import SUB, best_two


@njit(parallel=True, fastmath=True, cache=True)
def row_sq_norms(data, indptr):
    n = indptr.shape[0] - 1
    out = np.empty(n, dtype=data.dtype)
    for i in prange(n):
        s = data.dtype.type(0)
        for p in range(indptr[i], indptr[i + 1]):
            s += data[p] * data[p]
        out[i] = s
    return out


@njit(inline="always", fastmath=True)
def _products(data, indices, indptr, i, CT, g):
    """g = x_i @ CT for CSR row i: each non-zero adds a scaled row of CT."""
    g[:] = 0
    for p in range(indptr[i], indptr[i + 1]):
        v = data[p]
        ct = CT[indices[p]]
        for j in range(g.shape[0]):
            g[j] += v * ct[j]


@njit
def _exact_sq(data, indices, indptr, i, C, j):
    """||x_i - C[j]||^2 in float64 in a fixed order (no fastmath), for near-ties."""
    s = 0.0
    for t in range(C.shape[1]):
        s += np.float64(C[j, t]) * np.float64(C[j, t])
    for p in range(indptr[i], indptr[i + 1]):
        c = np.float64(C[j, indices[p]])
        diff = np.float64(data[p]) - c
        s += diff * diff - c * c
    return s


@njit
def _nearest_exact(data, indices, indptr, i, C, g, c_sq, limit):
    """Sparse twin of ``dense.nearest_exact``."""
    best = np.inf
    best_j = 0
    for j in range(g.shape[0]):
        if c_sq[j] - 2 * g[j] <= limit:
            dist = _exact_sq(data, indices, indptr, i, C, j)
            if dist < best:
                best = dist
                best_j = j
    return best_j


@njit(parallel=True, fastmath=True, cache=True)
def lloyd_csr(data, indices, indptr, w, CT, C, c_sq, x_sq, err, labels, mind, sse_part, sums_part):
    """Sparse twin of ``dense.lloyd_pass``: labels, distances, SSE and sums per slot."""
    n = indptr.shape[0] - 1
    n_sub = (n + SUB - 1) // SUB
    n_slot = sse_part.shape[0]
    cmax = c_sq.max()
    for s in prange(n_slot):
        acc = 0.0
        sums = sums_part[s]
        g = np.empty(CT.shape[1], dtype=CT.dtype)
        for b in range(s, n_sub, n_slot):
            for i in range(b * SUB, min(b * SUB + SUB, n)):
                _products(data, indices, indptr, i, CT, g)
                best, second, best_j = best_two(g, c_sq)
                tie = 2 * err * (x_sq[i] + cmax)
                if second - best <= tie:
                    best_j = _nearest_exact(data, indices, indptr, i, C, g, c_sq, best + tie)
                    best = c_sq[best_j] - 2 * g[best_j]
                labels[i] = best_j
                v = max(x_sq[i] + best, 0.0)
                mind[i] = v
                acc += w[i] * v
                if sums.shape[0] > 0:
                    wi = w[i]
                    row = sums[best_j]
                    for p in range(indptr[i], indptr[i + 1]):
                        row[indices[p]] += wi * data[p]
        sse_part[s] = acc


@njit(parallel=True, fastmath=True, cache=True)
def exact_sq_dist(data, indices, indptr, C, c_sq, labels, out):
    """out[i] = ||x_i - c_{labels[i]}||^2 = ||c||^2 + sum over non-zeros of (x - c)^2 - c^2."""
    n = indptr.shape[0] - 1
    for i in prange(n):
        c = C[labels[i]]
        s = 0.0
        for p in range(indptr[i], indptr[i + 1]):
            cj = c[indices[p]]
            diff = data[p] - cj
            s += diff * diff - cj * cj
        out[i] = max(c_sq[labels[i]] + s, 0.0)


@njit(parallel=True, fastmath=True, cache=True)
def candidate_sq_dist(data, indices, indptr, x_sq, candT, cand_sq, out):
    """Sparse twin of ``dense.candidate_sq_dist`` (candidates given transposed)."""
    n = indptr.shape[0] - 1
    n_cand = candT.shape[1]
    for b in prange((n + SUB - 1) // SUB):
        g = np.empty(n_cand, dtype=candT.dtype)
        for i in range(b * SUB, min(b * SUB + SUB, n)):
            _products(data, indices, indptr, i, candT, g)
            for m in range(n_cand):
                out[m, i] = max(x_sq[i] + cand_sq[m] - 2 * g[m], 0.0)
