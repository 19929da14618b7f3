"""Argument coercion shared by the kernel wrappers: inputs in the dtype and order the
compiled kernels take (no copy when they already are); outputs are passed untouched,
since the kernels write into them."""

import numpy as np


def f64(a):
    """Weights and other float64 inputs."""
    return np.ascontiguousarray(a, dtype=np.float64)


def like(a, X):
    """An input in X's float dtype, C-contiguous."""
    return np.ascontiguousarray(a, dtype=X.dtype)


def i32(a):
    return np.ascontiguousarray(a, dtype=np.int32)


def i64(a):
    return np.ascontiguousarray(a, dtype=np.int64)


def csr_index(indices, indptr):
    """indices and indptr in one integer type (int32 or int64), as the kernels take them."""
    if indices.dtype == indptr.dtype and indptr.dtype in (np.int32, np.int64):
        return np.ascontiguousarray(indices), np.ascontiguousarray(indptr)
    return i64(indices), i64(indptr)
