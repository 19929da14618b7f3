"""Exact weighted medians of rows spread over blocks: a radix selection in a few passes.

The weighted median of values v_i with weights w_i > 0 (total W) minimises
sum_i w_i |v_i - x|; where a whole interval [a, b] does, its midpoint is taken, as the
in-process kernel does (``_engine.weighted_medians``), so unit weights give np.median.
With C(v) the weight of the values <= v:

    a = the smallest v with C(v) >= W / 2,    b = the smallest v with C(v) > W / 2.

Both are found, for every cluster and feature at once, digit by digit of each value's
order-preserving integer key (``DIGIT`` bits a pass: 8 passes for float32, 16 for
float64): a pass asks every block for the weight of its values in each digit bucket
under the prefix found so far, and the buckets' running sums pick the next digit. Each
pass is one map-reduce over the blocks, so the medians are exact however the rows are
spread. A backend holding all rows in one block computes them with the kernel instead.
"""

import numpy as np

from . import _methods

DIGIT = 4
BUCKETS = 1 << DIGIT
_UINT = {np.dtype(np.float32): np.uint32, np.dtype(np.float64): np.uint64}


def sort_keys(values):
    """Unsigned integer keys in the order of the float ``values`` (no NaN)."""
    utype = _UINT[values.dtype]
    bits = values.view(utype)
    top = utype(1) << utype(8 * values.dtype.itemsize - 1)
    # Negative floats: all bits flipped (larger magnitude, smaller key); others: the sign bit set.
    return np.where(bits & top, ~bits, bits | top)


def from_keys(keys, dtype):
    utype = _UINT[np.dtype(dtype)]
    keys = keys.astype(utype)
    top = utype(1) << utype(8 * np.dtype(dtype).itemsize - 1)
    return np.where(keys & top, keys & ~top, ~keys).view(dtype)


def _pass(data, cache, it, centers, method, prefixes, shift, moves=None):
    """Weight of this block's values in each (cluster, feature, digit) bucket, for both
    selections, among values whose key agrees with the prefix above ``shift``."""
    k, d = centers.shape
    labels = method.block_labels(data, cache, it, centers, moves)
    keep = data.w > 0
    X = data.X[keep]
    X = X.toarray() if hasattr(X, "toarray") else np.asarray(X)
    keys = sort_keys(np.ascontiguousarray(X))
    lab, w = labels[keep].astype(np.int64), data.w[keep].astype(np.float64)
    utype = keys.dtype.type
    digit = ((keys >> utype(shift)) & utype(BUCKETS - 1)).astype(np.int64)
    high = keys >> utype(shift + DIGIT) if shift + DIGIT < 8 * keys.itemsize else np.zeros_like(keys)
    cell = (lab[:, None] * d + np.arange(d)) * BUCKETS + digit
    out = np.empty((2, k * d * BUCKETS))
    weights = np.broadcast_to(w[:, None], keys.shape)
    for s in range(2):
        match = high == prefixes[s][lab]
        out[s] = np.bincount(cell[match], weights=weights[match], minlength=k * d * BUCKETS)
    return out


def radix_medians(backend, method, centers, it, moves):
    """Weighted coordinate-wise medians of each cluster's rows (the step ``it``'s labels with
    ``moves`` applied, per block), float64 (K, d); a cluster without weight keeps its centre."""
    k, d = centers.shape
    dtype = np.dtype(backend.dtype)
    bits = 8 * dtype.itemsize
    utype = _UINT[dtype]
    prefixes = np.zeros((2, k, d), dtype=utype)
    below = np.zeros((2, k, d))
    total = None
    per_block = [(m,) for m in moves] if moves else None
    for shift in range(bits - DIGIT, -1, -DIGIT):
        hist = backend.map_reduce(_pass, it, centers, method, prefixes, shift, combine=_methods.add,
                                  per_block=per_block)
        hist = hist.reshape(2, k, d, BUCKETS)
        if total is None:
            total = hist[0].sum(axis=2)
            half = total / 2
        cum = below[..., None] + np.cumsum(hist, axis=3)
        reached = np.stack([cum[0] >= half[..., None], cum[1] > half[..., None]])
        # The first digit whose running sum reaches the threshold (the last when rounding
        # leaves it a hair short).
        digit = np.where(reached.any(axis=3), reached.argmax(axis=3), BUCKETS - 1)
        below = (np.take_along_axis(cum, digit[..., None], axis=3)
                 - np.take_along_axis(hist, digit[..., None], axis=3))[..., 0]
        prefixes = (prefixes << utype(DIGIT)) | digit.astype(utype)
    a, b = (from_keys(prefixes[s], dtype).astype(np.float64) for s in range(2))
    out = np.array(centers, dtype=np.float64)
    ok = total > 0
    out[ok] = ((a + b) / 2)[ok]
    return out

