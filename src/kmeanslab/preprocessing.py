"""Preprocessing: scale to [0, 1], z-score with a zero-variance guard, balanced subsample.

Every transformer keeps float32 input float32 (integer input becomes float64, as in
scikit-learn) and follows the scikit-learn transformer API, so it fits in a ``Pipeline``.
"""

from __future__ import annotations

import numbers

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from sklearn.utils import check_random_state
from sklearn.utils.validation import FLOAT_DTYPES, check_is_fitted, validate_data

from ._blocks import is_dask_array

__all__ = ["PREPROCESSORS", "UnitScaler", "ZScoreScaler", "balanced_subsample", "make_preprocessor"]

PREPROCESSORS = ("scale", "zscore", "none")


class UnitScaler(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Scale data to [0, 1] by the minimum and maximum seen in fit.

    Parameters
    ----------
    per_feature : bool, default=False
        False uses one global minimum and maximum, so images stay images (relative
        pixel intensities are kept). True scales each column on its own, for tabular data.
    clip : bool, default=False
        Clip transformed values to [0, 1]; data outside the training range otherwise
        maps outside it.

    Attributes
    ----------
    data_min_, data_max_, data_range_ : ndarray of shape () or (n_features,)
        Minimum, maximum and their difference, per feature or global.

    Notes
    -----
    A constant feature (or, globally, constant data) has no range to scale by; it maps
    to 0, never NaN or inf. Sparse input is accepted when the minimum is 0, the only
    case where scaling keeps zeros zero.
    """

    def __init__(self, per_feature=False, clip=False):
        self.per_feature = per_feature
        self.clip = clip

    def fit(self, X, y=None):
        """Record the minimum and maximum of X (per feature or global).

        A dask array is scanned lazily, block by block, in one pass.
        """
        axis = 0 if self.per_feature else None
        if is_dask_array(X):
            X = _lazy_floats(self, X, reset=True)
            import dask

            lo, hi = dask.compute(X.min(axis=axis), X.max(axis=axis))
        else:
            X = validate_data(self, X, accept_sparse="csr", dtype=FLOAT_DTYPES, reset=True)
            if X.shape[0] == 0:
                raise ValueError("X has no rows; UnitScaler needs at least one to fit")
            lo, hi = X.min(axis=axis), X.max(axis=axis)
        if sp.issparse(lo):
            lo, hi = lo.toarray().ravel(), hi.toarray().ravel()
        self.data_min_ = np.asarray(lo, dtype=X.dtype)
        self.data_max_ = np.asarray(hi, dtype=X.dtype)
        self.data_range_ = self.data_max_ - self.data_min_
        return self

    def _params(self, dtype):
        lo = self.data_min_.astype(dtype)
        rng = self.data_range_.astype(dtype)
        constant = rng <= 0
        # Dividing by the range (not multiplying by its reciprocal) maps the maximum to
        # exactly 1; constant features get a dummy divisor and are zeroed afterwards.
        return lo, np.where(constant, dtype.type(1), rng), constant

    def transform(self, X):
        """Scale X by the fitted minimum and range (a dask array lazily, block by block)."""
        check_is_fitted(self)
        if is_dask_array(X):
            return _map_rows(self.transform, _lazy_floats(self, X, reset=False))
        X = validate_data(self, X, accept_sparse="csr", dtype=FLOAT_DTYPES, reset=False)
        lo, divisor, constant = self._params(X.dtype)
        if sp.issparse(X):
            if np.any(lo != 0):
                raise ValueError("X is sparse but the fitted minimum is not 0; scaling would "
                                 "make it dense, pass X.toarray() instead")
            Xt = X.copy()
            Xt.data /= divisor[Xt.indices] if self.per_feature else divisor
            # A constant feature with minimum 0 is all zeros, so nothing to zero here.
            return Xt
        Xt = X - lo
        Xt /= divisor
        if np.any(constant):
            if self.per_feature:
                Xt[:, constant] = 0
            else:
                Xt[...] = 0
        if self.clip:
            np.clip(Xt, 0, 1, out=Xt)
        return Xt

    def inverse_transform(self, X):
        """Map scaled data back to the original range (constant features to their value)."""
        check_is_fitted(self)
        X = validate_data(self, X, accept_sparse="csr", dtype=FLOAT_DTYPES, reset=False)
        lo = self.data_min_.astype(X.dtype)
        rng = self.data_range_.astype(X.dtype)
        if sp.issparse(X):
            if np.any(lo != 0):
                raise ValueError("X is sparse but the fitted minimum is not 0; pass X.toarray()")
            Xt = X.copy()
            Xt.data *= rng[Xt.indices] if self.per_feature else rng
            return Xt
        return X * rng + lo

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


class ZScoreScaler(StandardScaler):
    """Standardize each feature to zero mean and unit variance; zero-variance features become 0.

    Same parameters and attributes as :class:`sklearn.preprocessing.StandardScaler`,
    which it extends. StandardScaler divides a zero-variance feature by 1, so data it
    was fitted on maps to 0 there, but new data with another value on that feature
    maps to ``x - mean``. Here such a feature always maps to 0 (when ``with_std=True``),
    since its training data carried no spread to measure ``x`` against.
    """

    def _constant_features(self):
        if getattr(self, "var_", None) is None:
            return None
        # Variance within rounding error of the mean's magnitude counts as none at all.
        eps = np.finfo(np.float64).eps
        n = np.asarray(self.n_samples_seen_, dtype=np.float64)
        var = np.asarray(self.var_, dtype=np.float64)
        mean = np.abs(np.asarray(self.mean_ if self.mean_ is not None else 0.0, dtype=np.float64))
        mask = var <= n * eps * var + (n * mean * eps) ** 2
        return mask if mask.any() else None

    def fit(self, X, y=None, sample_weight=None):
        """Compute the mean and variance of each feature (a dask array lazily, in one pass)."""
        if not is_dask_array(X):
            return super().fit(X, y, sample_weight)
        if sample_weight is not None:
            raise TypeError("ZScoreScaler on a dask array takes no sample_weight")
        import dask

        self._reset()
        X = _lazy_floats(self, X, reset=True)
        mean, var = dask.compute(X.mean(axis=0, dtype=np.float64), X.var(axis=0, dtype=np.float64))
        self.n_samples_seen_ = X.shape[0]
        self.mean_ = mean if self.with_mean else None
        self.var_ = var if self.with_std else None
        self.scale_ = np.where(var > 0, np.sqrt(var), 1.0) if self.with_std else None
        return self

    def transform(self, X, copy=None):
        """Standardize X; features constant in the training data map to 0."""
        if is_dask_array(X):
            check_is_fitted(self)
            return _map_rows(self.transform, _lazy_floats(self, X, reset=False))
        Xt = super().transform(X, copy=copy)
        constant = self._constant_features()
        if constant is not None:
            if sp.issparse(Xt):
                Xt.data[constant[Xt.indices]] = 0
                Xt.eliminate_zeros()
            else:
                Xt[:, constant] = 0
        return Xt


def _lazy_floats(est, X, reset):
    """A 2-D dask array as floats (integers become float64), checked as ``validate_data`` would."""
    if X.ndim != 2 or X.shape[0] == 0:
        raise ValueError(f"expected a 2-D array with at least one row, got shape {X.shape}")
    if X.dtype.kind not in "biuf":
        raise TypeError(f"X must be numeric, got dtype {X.dtype}")
    if reset:
        est.n_features_in_ = X.shape[1]
    elif X.shape[1] != est.n_features_in_:
        raise ValueError(f"X has {X.shape[1]} features, but {type(est).__name__} is expecting "
                         f"{est.n_features_in_} features as input")
    return X if X.dtype.kind == "f" else X.astype(np.float64)


def _map_rows(transform, X):
    """``transform`` applied to each block of rows of a dask array, lazily."""
    return X.map_blocks(transform, dtype=X.dtype, meta=np.empty((0, 0), dtype=X.dtype))


def make_preprocessor(name):
    """Return a fresh, unfitted transformer for a preprocessing name.

    Parameters
    ----------
    name : {"scale", "zscore", "none"} or None
        "scale" gives ``UnitScaler()`` (global min-max, for images); "zscore" gives
        ``ZScoreScaler()``; "none" (or None) gives an identity ``FunctionTransformer``,
        so callers can always call ``fit_transform`` (it returns its input unchanged,
        same object, same dtype).
    """
    if name is None:
        name = "none"
    if not isinstance(name, str):
        raise TypeError(f"preprocessing name must be a string, got {type(name).__name__}")
    key = name.strip().lower()
    if key == "scale":
        return UnitScaler()
    if key == "zscore":
        return ZScoreScaler()
    if key == "none":
        return FunctionTransformer(accept_sparse=True, feature_names_out="one-to-one")
    raise ValueError(f"unknown preprocessing {name!r}; choose one of {', '.join(PREPROCESSORS)}")


def balanced_subsample(X, y, n_per_class, random_state=None):
    """Pick ``n_per_class`` rows of every class at random, without replacement.

    Parameters
    ----------
    X : array-like or sparse matrix of shape (n_samples, ...)
        Only its row count is used, to check it against ``y``.
    y : array-like of shape (n_samples,)
        Class labels.
    n_per_class : int
        Rows to take from each class; every class must have at least that many.
    random_state : int, RandomState instance or None
        Seed; the same seed gives the same rows.

    Returns
    -------
    ndarray of int64, shape (n_classes * n_per_class,)
        Sorted row indices, so ``X[idx]`` keeps the original row order.
    """
    if isinstance(n_per_class, bool) or not isinstance(n_per_class, numbers.Integral):
        raise TypeError(f"n_per_class must be an int, got {type(n_per_class).__name__}")
    if n_per_class < 1:
        raise ValueError(f"n_per_class must be at least 1, got {n_per_class}")
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D, got shape {y.shape}")
    n_rows = X.shape[0] if hasattr(X, "shape") else len(X)
    if n_rows != len(y):
        raise ValueError(f"X has {n_rows} rows but y has {len(y)} labels")
    classes, inverse, counts = np.unique(y, return_inverse=True, return_counts=True)
    short = [f"{c!r} has {k}" for c, k in zip(classes.tolist(), counts) if k < n_per_class]
    if short:
        raise ValueError(f"n_per_class={n_per_class} but class " + ", class ".join(short)
                         + " rows")
    rng = check_random_state(random_state)
    # Rows grouped by class, each group in original order, so picks depend only on the seed.
    by_class = np.split(np.argsort(inverse, kind="stable"), np.cumsum(counts)[:-1])
    picks = [rows[rng.choice(len(rows), n_per_class, replace=False)] for rows in by_class]
    return np.sort(np.concatenate(picks)).astype(np.int64)
