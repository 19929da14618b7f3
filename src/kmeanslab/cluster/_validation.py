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


def check_verbose(value):
    """``verbose`` as an int >= 0; a bool counts as 0 / 1 (scikit-learn accepts both)."""
    if isinstance(value, (bool, np.bool_)):
        return int(value)
    return check_int(value, "verbose", min_value=0)


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


# -- X -----------------------------------------------------------------------------------
def check_X_form(X):
    """Reject, naming X, what no conversion to a float matrix can fix: wrong number of
    dimensions (with the reshape that fixes it), no samples or features, complex numbers,
    strings. Returns X, as an array when it was a list or tuple; other containers
    (sparse matrices, data frames) are returned as they are, for ``check_array``.
    """
    if isinstance(X, (list, tuple)):
        try:
            X = np.asarray(X)
        except ValueError as exc:  # ragged nested lists
            raise ValueError(f"X must be a 2-D array (n_samples, n_features): {exc}") from None
    shape = getattr(X, "shape", None)
    if shape is None:
        return X
    ndim = len(shape)
    if ndim != 2:
        what = "a scalar" if ndim == 0 else f"a {ndim}-D array of shape {tuple(shape)}"
        if ndim == 1:
            hint = ("X.reshape(-1, 1) if it holds one feature, "
                    "X.reshape(1, -1) if it is one sample")
        elif ndim == 0:
            hint = "X = [[value]] for one sample of one feature"
        else:
            hint = "X.reshape(len(X), -1) turns each sample (an image, say) into one row"
        raise ValueError(f"X must be 2-D (n_samples, n_features), got {what}. "
                         f"Reshape your data: {hint}.")
    if shape[0] == 0:
        raise ValueError(f"X is empty: found array with 0 sample(s) (shape={tuple(shape)}) "
                         "while a minimum of 1 is required.")
    if shape[1] == 0:
        raise ValueError(f"X has no features: found array with 0 feature(s) (shape={tuple(shape)}) "
                         "while a minimum of 1 is required.")
    dtype = getattr(X, "dtype", None)
    if isinstance(dtype, np.dtype):
        if dtype.kind == "c":
            raise ValueError(f"X has complex dtype {dtype}: Complex data not supported; pass the "
                             "real and imaginary parts (or the modulus) as separate real features.")
        if dtype.kind in "USV":
            raise TypeError(f"X must be numeric, got dtype {dtype} (text or bytes); "
                            "encode it as numbers first.")
        if dtype.kind == "O":
            try:  # as check_array would, but the error names X
                X = np.asarray(X, dtype=np.float64)
            except (TypeError, ValueError) as exc:
                raise TypeError(f"X must be numeric: {exc}") from None
    return X


def check_finite_X(X):
    """Raise a ValueError naming the first non-finite entry of X (dense or CSR)."""
    values = X.data if sp.issparse(X) else X
    if values.size == 0:
        return
    summary = _value_summary(values)
    if summary is not None:
        if summary[0]:  # one parallel pass when all is well
            return
    elif np.isfinite(values.sum()):
        return
    bad = ~np.isfinite(values)
    if not bad.any():  # the sum overflowed, the values are fine
        return
    if sp.issparse(X):
        flat = int(np.flatnonzero(bad)[0])
        row = int(np.searchsorted(X.indptr, flat, side="right") - 1)
        col, value = int(X.indices[flat]), values[flat]
    else:
        row, col = (int(i) for i in np.argwhere(bad)[0])
        value = X[row, col]
    kind = "NaN" if np.isnan(value) else "infinity"
    raise ValueError(f"X contains {kind} (first at row {row}, column {col}; {int(bad.sum())} "
                     "non-finite value(s) in all): k-means needs finite numbers; drop or impute them.")


# -- magnitude ---------------------------------------------------------------------------
# Exponents e of 2 between which max|x| keeps squared norms, dot products and sums of
# them far from overflow and underflow in each float type (float32: ~2e-10 .. 4e9).
SAFE_EXPONENTS = {np.dtype(np.float32): (-32, 32), np.dtype(np.float64): (-256, 256)}


_MAGNITUDE_BITS = {np.dtype(np.float32): (np.uint32, 0x7FFFFFFF),
                   np.dtype(np.float64): (np.uint64, 0x7FFFFFFFFFFFFFFF)}


def _value_summary(values):
    """(all finite, largest |value|) of a float32 / float64 array in one parallel pass
    (None for other dtypes)."""
    if values.dtype not in _MAGNITUDE_BITS:
        return None
    from ._kernels import dense as _dk

    utype, mask = _MAGNITUDE_BITS[values.dtype]
    V = np.ascontiguousarray(values)
    if V.ndim != 2:  # rows of 1024 values, and the few left over
        flat = V.reshape(-1)
        cut = flat.size - flat.size % 1024
        V, rest = flat[:cut].reshape(-1, 1024), flat[cut:].reshape(1, -1)
    else:
        rest = V[:0]
    nonfinite, largest = _dk.value_summary(V, V.view(utype), utype(mask))
    finite = not np.isnan(nonfinite).any() and bool(np.isfinite(rest).all())
    top = max(largest.max(initial=0), np.abs(rest).view(utype).max(initial=0))
    return finite, float(np.array([top], dtype=utype).view(values.dtype)[0])


def max_abs(X):
    """Largest |value| of a dense array or sparse matrix (0.0 when it holds none)."""
    values = X.data if sp.issparse(X) else np.asarray(X)
    if values.size == 0:
        return 0.0
    summary = _value_summary(values)
    if summary is not None:
        return summary[1]
    # max and -min rather than abs(): no temporary of X's size.
    return float(max(values.max(), -values.min()))


def scale_exponent(dtype, *arrays):
    """e such that ``arrays * 2**e`` lie in the safe range of ``dtype``; 0 when they already do.

    Scaling by a power of two is exact in binary floating point (barring subnormals), so
    a fit on scaled data and its centres scaled back lose nothing.
    """
    m = max(max_abs(a) for a in arrays)
    if m == 0 or not np.isfinite(m):
        return 0
    lo, hi = SAFE_EXPONENTS.get(np.dtype(dtype), SAFE_EXPONENTS[np.dtype(np.float64)])
    e = np.frexp(m)[1]  # m = f * 2**e with f in [0.5, 1)
    return 0 if lo <= e <= hi else -int(e)


def scale_by(X, e):
    """X * 2**e, exactly, as a new array / matrix of X's dtype (X itself when e == 0)."""
    if e == 0:
        return X
    if sp.issparse(X):
        X = X.copy()
        X.data = np.ldexp(X.data, e).astype(X.dtype, copy=False)
        return X
    X = np.asarray(X)
    return np.ldexp(X, e).astype(X.dtype if X.dtype.kind == "f" else np.float64, copy=False)


def check_X(X):
    """X as a float32/float64 C-ordered array or sorted CSR matrix; finite, 2-D, non-empty."""
    from sklearn.utils import check_array

    X = check_array(check_X_form(X), accept_sparse="csr", dtype=[np.float64, np.float32],
                    order="C", accept_large_sparse=False, ensure_all_finite=False)
    check_finite_X(X)
    return as_csr(X)
