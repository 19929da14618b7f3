import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from kmeanslab.preprocessing import (
    PREPROCESSORS,
    UnitScaler,
    ZScoreScaler,
    balanced_subsample,
    make_preprocessor,
)


@parametrize_with_checks([UnitScaler(), UnitScaler(per_feature=True), ZScoreScaler()])
def test_sklearn_compatible(estimator, check):
    check(estimator)


# --------------------------------------------------------------------------- UnitScaler
def test_unit_scaler_global_hand_computed():
    X = np.array([[2.0, 4.0], [6.0, 12.0]])
    s = UnitScaler().fit(X)
    assert s.data_min_ == 2.0 and s.data_max_ == 12.0
    np.testing.assert_allclose(s.transform(X), [[0.0, 0.2], [0.4, 1.0]])
    # Outside the training range maps outside [0, 1] unless clipped.
    np.testing.assert_allclose(s.transform([[0.0, 22.0]]), [[-0.2, 2.0]])
    np.testing.assert_allclose(UnitScaler(clip=True).fit(X).transform([[0.0, 22.0]]), [[0, 1]])
    np.testing.assert_allclose(s.inverse_transform(s.transform(X)), X)


def test_unit_scaler_per_feature_hand_computed():
    X = np.array([[2.0, 4.0, 7.0], [6.0, 12.0, 7.0], [4.0, 8.0, 7.0]])
    s = UnitScaler(per_feature=True).fit(X)
    Xt = s.transform(X)
    np.testing.assert_allclose(Xt, [[0, 0, 0], [1, 1, 0], [0.5, 0.5, 0]])
    # The constant column maps to 0 for new data too, never NaN or inf.
    np.testing.assert_array_equal(s.transform([[2.0, 4.0, 100.0]]), [[0, 0, 0]])
    np.testing.assert_allclose(s.inverse_transform(Xt), X)


def test_unit_scaler_constant_data():
    X = np.full((3, 4), 5.0, np.float32)
    for per_feature in (False, True):
        Xt = UnitScaler(per_feature=per_feature).fit(X).transform(X + 1)
        assert np.all(Xt == 0) and Xt.dtype == np.float32


def test_unit_scaler_dtypes():
    X = np.arange(12, dtype=np.float32).reshape(3, 4) * 0.1
    s = UnitScaler().fit(X)
    Xt = s.transform(X)
    assert Xt.dtype == np.float32 and Xt.max() == 1.0 and Xt.min() == 0.0
    assert s.inverse_transform(Xt).dtype == np.float32
    assert UnitScaler().fit_transform(X.astype(np.float64)).dtype == np.float64
    assert UnitScaler().fit_transform(np.arange(6).reshape(2, 3)).dtype == np.float64


def test_unit_scaler_uint8_images_match_division_by_255():
    rng = np.random.RandomState(0)
    imgs = rng.randint(0, 256, (50, 16)).astype(np.uint8)
    imgs[0, 0], imgs[0, 1] = 0, 255
    Xt = UnitScaler().fit_transform(imgs.astype(np.float32))
    np.testing.assert_array_equal(Xt, imgs.astype(np.float32) / np.float32(255))


def test_unit_scaler_sparse():
    X = sp.csr_matrix(np.array([[0.0, 4.0], [2.0, 0.0], [1.0, 8.0]], np.float32))
    s = UnitScaler(per_feature=True).fit(X)
    Xt = s.transform(X)
    assert sp.issparse(Xt) and Xt.dtype == np.float32
    np.testing.assert_allclose(Xt.toarray(), [[0, 0.5], [1, 0], [0.5, 1]])
    np.testing.assert_allclose(s.inverse_transform(Xt).toarray(), X.toarray())
    shifted = UnitScaler().fit(np.array([[1.0, 2.0]]))
    with pytest.raises(ValueError, match="sparse"):
        shifted.transform(X)


@settings(max_examples=50, deadline=None)
@given(arrays(np.float32, st.tuples(st.integers(1, 8), st.integers(1, 5)),
              elements=st.floats(-1e4, 1e4, width=32)),
       st.booleans())
def test_unit_scaler_range_property(X, per_feature):
    Xt = UnitScaler(per_feature=per_feature).fit_transform(X)
    assert Xt.dtype == np.float32 and np.all(np.isfinite(Xt))
    assert Xt.min() >= 0 and Xt.max() <= 1


# --------------------------------------------------------------------------- ZScoreScaler
def test_zscore_hand_computed():
    X = np.array([[1.0, 10.0], [3.0, 10.0]])
    z = ZScoreScaler().fit(X)
    np.testing.assert_allclose(z.transform(X), [[-1, 0], [1, 0]])
    np.testing.assert_allclose(z.transform([[5.0, 0.0]]), [[3, 0]])
    np.testing.assert_allclose(z.inverse_transform(z.transform(X)), X)


def test_zscore_zero_variance_is_zero_on_new_data():
    rng = np.random.RandomState(0)
    train = rng.rand(20, 3).astype(np.float32)
    train[:, 1] = 0.1  # constant in training, and 0.1 is inexact in binary
    test = rng.rand(5, 3).astype(np.float32)
    z = ZScoreScaler().fit(train)
    for X in (train, test):
        Xt = z.transform(X)
        assert Xt.dtype == np.float32 and np.all(np.isfinite(Xt))
        np.testing.assert_array_equal(Xt[:, 1], 0)
    # The case the guard exists for: StandardScaler maps new values to x - mean there.
    assert np.any(StandardScaler().fit(train).transform(test)[:, 1] != 0)
    np.testing.assert_allclose(z.transform(test)[:, [0, 2]],
                               StandardScaler().fit(train).transform(test)[:, [0, 2]], rtol=1e-5)
    np.testing.assert_allclose(z.inverse_transform(z.transform(test))[:, 1], 0.1, rtol=1e-6)


def test_zscore_zero_variance_sparse():
    train = sp.csr_matrix(np.array([[1.0, 3.0, 0.0], [2.0, 3.0, 0.0], [3.0, 3.0, 0.0]]))
    test = sp.csr_matrix(np.array([[2.0, 9.0, 4.0]]))
    Xt = ZScoreScaler(with_mean=False).fit(train).transform(test)
    assert sp.issparse(Xt)
    np.testing.assert_allclose(Xt.toarray(), [[2.0 / np.sqrt(2.0 / 3.0), 0, 0]])


def test_zscore_float32_kept():
    X = np.random.RandomState(1).rand(10, 4).astype(np.float32)
    Xt = ZScoreScaler().fit_transform(X)
    assert Xt.dtype == np.float32
    np.testing.assert_allclose(Xt.mean(axis=0), 0, atol=1e-6)
    np.testing.assert_allclose(Xt.std(axis=0), 1, atol=1e-5)


# --------------------------------------------------------------------------- make_preprocessor
def test_make_preprocessor():
    assert isinstance(make_preprocessor("scale"), UnitScaler)
    assert isinstance(make_preprocessor("ZScore"), ZScoreScaler)
    X = np.ones((3, 2), np.float32)
    for name in ("none", None):
        ident = make_preprocessor(name)
        assert isinstance(ident, FunctionTransformer)
        assert ident.fit_transform(X) is X
    assert make_preprocessor("scale") is not make_preprocessor("scale")
    assert set(PREPROCESSORS) == {"scale", "zscore", "none"}


def test_make_preprocessor_errors():
    with pytest.raises(ValueError, match="'minmax'.*scale, zscore, none"):
        make_preprocessor("minmax")
    with pytest.raises(TypeError, match="string"):
        make_preprocessor(3)


# --------------------------------------------------------------------------- balanced_subsample
Y = np.repeat(np.arange(4), [10, 7, 12, 5])
X = np.zeros((len(Y), 2))


def test_balanced_counts_and_sorted():
    idx = balanced_subsample(X, Y, 5, random_state=0)
    assert idx.dtype == np.int64 and len(idx) == 20
    assert np.all(np.diff(idx) > 0)
    np.testing.assert_array_equal(np.bincount(Y[idx]), [5, 5, 5, 5])


def test_balanced_determinism():
    a = balanced_subsample(X, Y, 4, random_state=7)
    np.testing.assert_array_equal(a, balanced_subsample(X, Y, 4, random_state=7))
    others = [balanced_subsample(X, Y, 4, random_state=s) for s in range(8, 12)]
    assert any(not np.array_equal(a, b) for b in others)
    # Using the whole of a class picks all of its rows.
    idx = balanced_subsample(X, Y, 5, random_state=3)
    np.testing.assert_array_equal(idx[Y[idx] == 3], np.flatnonzero(Y == 3))


def test_balanced_string_labels_and_sparse_X():
    y = np.array(["a", "b", "a", "b", "a", "c", "c"])
    idx = balanced_subsample(sp.csr_matrix(np.ones((7, 3))), y, 2, random_state=0)
    assert sorted(y[idx].tolist()) == ["a", "a", "b", "b", "c", "c"]


def test_balanced_errors():
    with pytest.raises(ValueError, match=r"class 3 has 5 rows"):
        balanced_subsample(X, Y, 6)
    with pytest.raises(ValueError, match=r"class 1 has 7.*class 3 has 5"):
        balanced_subsample(X, Y, 8)
    with pytest.raises(ValueError, match="at least 1"):
        balanced_subsample(X, Y, 0)
    with pytest.raises(TypeError, match="n_per_class"):
        balanced_subsample(X, Y, 2.5)
    with pytest.raises(ValueError, match="34 rows but y has 33"):
        balanced_subsample(X, Y[:-1], 2)
