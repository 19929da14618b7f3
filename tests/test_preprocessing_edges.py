"""Edges of the preprocessing that mutation testing found untested (``make mutate``)."""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.preprocessing import StandardScaler

from kmeanslab.preprocessing import UnitScaler, ZScoreScaler, balanced_subsample, make_preprocessor


def test_unit_scaler_range_below_one_is_scaled():
    X = np.array([[0.0, 2.0], [0.25, 2.5], [0.5, 2.25]])
    np.testing.assert_array_equal(UnitScaler().fit_transform(X[:, :1]), [[0.0], [0.5], [1.0]])
    np.testing.assert_array_equal(UnitScaler(per_feature=True).fit_transform(X),
                                  [[0.0, 0.0], [0.5, 1.0], [1.0, 0.5]])


def test_unit_scaler_global_sparse_round_trip_and_checks():
    X = sp.csr_matrix(np.array([[0.0, 4.0], [2.0, 0.0], [1.0, 8.0]]))
    s = UnitScaler().fit(X)
    Xt = s.transform(X)
    np.testing.assert_array_equal(Xt.toarray(), X.toarray() / 8)
    np.testing.assert_array_equal(s.inverse_transform(Xt).toarray(), X.toarray())
    shifted = UnitScaler().fit(np.array([[1.0, 2.0]]))
    with pytest.raises(ValueError, match="minimum is not 0; pass X.toarray"):
        shifted.inverse_transform(X)
    with pytest.raises(ValueError, match="minimum is not 0; scaling would make it dense, pass X.toarray"):
        shifted.transform(X)
    with pytest.raises(ValueError, match="features"):
        s.transform(np.ones((2, 3)))


def test_zscore_keeps_a_tiny_spread_far_from_zero():
    """std 1e-4 around 1e8 is a real spread (float64 resolves 1.5e-8 there), not rounding."""
    rng = np.random.RandomState(0)
    X = np.c_[1e8 + 1e-4 * rng.normal(size=100), rng.normal(size=100)]
    Xt = ZScoreScaler().fit(X).transform(X)
    np.testing.assert_allclose(Xt.std(axis=0), 1, rtol=1e-4)


@pytest.mark.parametrize("value", [0.1, 1000.1])
def test_zscore_constant_column_in_batches_any_magnitude(value):
    X = np.random.RandomState(1).normal(size=(601, 2))
    X[:, 1] = value
    z, plain = ZScoreScaler(), StandardScaler()
    for batch in np.array_split(np.arange(len(X)), 5):
        z.partial_fit(X[batch])
        plain.partial_fit(X[batch])
    assert plain.var_[1] != 0
    np.testing.assert_array_equal(z.transform(X[:3] + 1)[:, 1], 0)


def test_zscore_sparse_constant_column_leaves_no_stored_zeros():
    X = sp.csr_matrix(np.array([[1.0, 3.0], [2.0, 3.0], [4.0, 3.0]]))
    Xt = ZScoreScaler(with_mean=False).fit(X).transform(sp.csr_matrix([[2.0, 5.0]]))
    assert Xt.nnz == 1 and (Xt.data != 0).all()


def test_zscore_transform_copy_false_is_in_place():
    X = np.array([[1.0, 5.0], [3.0, 5.0]])
    z = ZScoreScaler().fit(X)
    Y = X.copy()
    out = z.transform(Y, copy=False)
    assert out is Y
    np.testing.assert_array_equal(Y, [[-1.0, 0.0], [1.0, 0.0]])


def test_identity_preprocessor_takes_sparse_and_names_features():
    ident = make_preprocessor("none")
    X = sp.csr_matrix(np.eye(3))
    assert ident.fit_transform(X) is X
    assert list(ident.get_feature_names_out(["a", "b", "c"])) == ["a", "b", "c"]


def test_preprocessor_type_error_names_the_type():
    with pytest.raises(TypeError, match="got int"):
        make_preprocessor(3)


def test_balanced_subsample_picks_are_per_class_draws_in_row_order():
    """The picks are, class by class (sorted), rng.choice over the class's rows in their
    original order: the documented rule, computed independently here."""
    y = np.random.RandomState(5).randint(0, 3, 200)
    for n_per_class in (1, 9):
        idx = balanced_subsample(list(range(200)), y, n_per_class, random_state=4)
        rng = np.random.RandomState(4)
        want = [np.flatnonzero(y == c)[rng.choice((y == c).sum(), n_per_class, replace=False)]
                for c in range(3)]
        np.testing.assert_array_equal(idx, np.sort(np.concatenate(want)))


def test_balanced_subsample_type_error_names_the_type():
    with pytest.raises(TypeError, match="float"):
        balanced_subsample(np.zeros((4, 1)), [0, 0, 1, 1], 1.5)
