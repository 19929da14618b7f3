"""Argument checks shared by every estimator: one place that names the bad argument."""

import numbers

import numpy as np
import scipy.sparse as sp


def check_int(value, name, *, min_value=None, allow=()):
    """Return ``value`` as an int, or raise naming ``name``."""
    if isinstance(value, str) and value in allow:
        return value
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        extra = f" or one of {list(allow)}" if allow else ""
        raise TypeError(f"{name} must be an integer{extra}, got {value!r} ({type(value).__name__})")
    value = int(value)
    if min_value is not None and value < min_value:
        raise ValueError(f"{name} must be >= {min_value}, got {value}")
    return value


def check_float(value, name, *, min_value=None, exclusive=False):
    """Return ``value`` as a float, or raise naming ``name``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r} ({type(value).__name__})")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    if min_value is not None and (value <= min_value if exclusive else value < min_value):
        op = ">" if exclusive else ">="
        raise ValueError(f"{name} must be {op} {min_value}, got {value}")
    return value


def check_sample_weight(sample_weight, n_samples, dtype):
    """Validated sample weights of ``dtype`` (ones when None); never all zero or negative."""
    if sample_weight is None:
        return np.ones(n_samples, dtype=dtype)
    if np.isscalar(sample_weight):
        if isinstance(sample_weight, (bool, np.bool_)) or not isinstance(sample_weight, numbers.Real):
            raise TypeError(f"sample_weight must be a number or an array, got {sample_weight!r}")
        w = np.full(n_samples, sample_weight, dtype=dtype)
    else:
        w = np.asarray(sample_weight)
        if w.dtype.kind not in "biuf":
            raise TypeError(f"sample_weight must be numeric, got dtype {w.dtype}")
        if w.ndim != 1:
            raise ValueError(f"sample_weight must be 1-D, got shape {w.shape}")
        if w.shape[0] != n_samples:
            raise ValueError(
                f"sample_weight has {w.shape[0]} entries but X has {n_samples} samples"
            )
        w = np.ascontiguousarray(w, dtype=dtype)
    if not np.all(np.isfinite(w)):
        raise ValueError("sample_weight contains NaN or infinity")
    if np.any(w < 0):
        raise ValueError("sample_weight must be non-negative; found negative weights")
    if not np.any(w > 0):
        raise ValueError("sample_weight is all zero: at least one sample needs a positive weight")
    return w


def as_csr(X):
    """CSR in canonical form (sorted indices, no duplicate entries), or the dense array unchanged.

    The kernels read ``data`` entry by entry, so duplicates must be summed first; the
    caller's matrix is copied rather than rewritten in place.
    """
    if sp.issparse(X):
        X = X.tocsr()
        if not X.has_canonical_format:
            X = X.copy()
            X.sum_duplicates()
    return X


def mean_variance(X):
    """Mean over features of the per-feature variance (sklearn's tolerance scale)."""
    if sp.issparse(X):
        from sklearn.utils.sparsefuncs import mean_variance_axis

        return float(np.mean(mean_variance_axis(X, axis=0)[1]))
    return float(np.mean(np.var(X, axis=0)))
