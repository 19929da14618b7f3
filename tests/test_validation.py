"""Bad and unusual input for every registered estimator (issue 7, part 1).

Each case ends in the right result, or in a ValueError / TypeError whose message names
the argument and says what was wrong.
"""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import make_blobs
from sklearn.exceptions import ConvergenceWarning, NotFittedError

from kmeanslab.cluster.registry import ESTIMATORS

NAMES = list(ESTIMATORS)

# How each estimator's objective and transform() scale when X is multiplied by s.
OBJECTIVE_DEGREE = {"kmeans": 2, "minibatch": 2, "soft": 2, "kmedians": 1, "spherical": 0}
DISTANCE_DEGREE = {"kmeans": 1, "minibatch": 1, "soft": 1, "kmedians": 1, "spherical": 0}


def make(name, **params):
    """A small, quick, seeded estimator of the registry."""
    base = {"n_clusters": 3, "random_state": 0}
    if name == "minibatch":
        base["batch_size"] = 32
    return ESTIMATORS[name](**{**base, **params})


@pytest.fixture(scope="module")
def X():
    """Three blobs in the positive orthant (no zero rows: SphericalKMeans takes it too)."""
    X, _ = make_blobs(60, n_features=4, centers=3, cluster_std=0.5, random_state=0)
    return X - X.min(axis=0) + 1.0


def quiet_fit(est, X, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(X, **kw)


def xfail_for(names, reason):
    """Parametrize marks: strict xfail for the estimators in ``names``."""
    return [pytest.param(n, marks=pytest.mark.xfail(strict=True, reason=reason)) if n in names
            else n for n in NAMES]


# -- non-finite, empty, tiny X ------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("value, word", [(np.nan, "NaN"), (np.inf, "infinity"), (-np.inf, "infinity")])
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_non_finite_X_is_named_with_its_position(name, X, value, word, sparse):
    bad = X.copy()
    bad[7, 2] = value
    bad = sp.csr_matrix(bad) if sparse else bad
    with pytest.raises(ValueError, match=rf"X contains {word} \(first at row 7, column 2"):
        make(name).fit(bad)
    est = quiet_fit(make(name), X)
    for method in ("predict", "transform", "score"):
        with pytest.raises(ValueError, match=rf"X contains {word}"):
            getattr(est, method)(bad)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("shape, match", [((0, 4), r"X is empty.*0 sample"),
                                          ((10, 0), r"X has no features.*0 feature")])
def test_empty_X(name, shape, match):
    with pytest.raises(ValueError, match=match):
        make(name).fit(np.empty(shape))
    with pytest.raises(ValueError, match=match):
        make(name).fit(sp.csr_matrix(shape))


@pytest.mark.parametrize("name", NAMES)
def test_one_sample(name):
    x = np.array([[3.0, 4.0]])
    est = make(name, n_clusters=1).fit(x)
    expected = x / 5.0 if name == "spherical" else x
    np.testing.assert_allclose(est.cluster_centers_, expected)
    np.testing.assert_array_equal(est.labels_, [0])
    assert est.inertia_ == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_array_equal(est.predict(x), [0])
    with pytest.raises(ValueError, match=r"n_samples=1 should be >= n_clusters=2"):
        make(name, n_clusters=2).fit(x)


# -- parameters ---------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("params, exc, match", [
    ({"n_clusters": 0}, ValueError, r"n_clusters must be >= 1, got 0"),
    ({"n_clusters": -3}, ValueError, r"n_clusters must be >= 1, got -3"),
    ({"n_clusters": 2.5}, TypeError, r"n_clusters must be an integer, got 2.5"),
    ({"n_clusters": 3.0}, TypeError, r"n_clusters must be an integer, got 3.0"),
    ({"n_clusters": "3"}, TypeError, r"n_clusters must be an integer, got '3'"),
    ({"n_clusters": None}, TypeError, r"n_clusters must be an integer, got None"),
    ({"n_clusters": True}, TypeError, r"n_clusters must be an integer, got True"),
    ({"n_clusters": 61}, ValueError, r"n_samples=60 should be >= n_clusters=61"),
    ({"n_init": 0}, ValueError, r"n_init must be >= 1, got 0"),
    ({"n_init": -1}, ValueError, r"n_init must be >= 1, got -1"),
    ({"n_init": "many"}, TypeError, r"n_init must be an integer or one of \['auto'\], got 'many'"),
    ({"n_init": 1.5}, TypeError, r"n_init must be an integer"),
    ({"max_iter": 0}, ValueError, r"max_iter must be >= 1, got 0"),
    ({"max_iter": -5}, ValueError, r"max_iter must be >= 1, got -5"),
    ({"max_iter": 10.0}, TypeError, r"max_iter must be an integer, got 10.0"),
    ({"tol": -1e-4}, ValueError, r"tol must be >= 0, got -0.0001"),
    ({"tol": np.nan}, ValueError, r"tol must be finite, got nan"),
    ({"tol": np.inf}, ValueError, r"tol must be finite, got inf"),
    ({"tol": "1e-4"}, TypeError, r"tol must be a real number, got '1e-4'"),
    ({"init": "k-means+"}, ValueError, r"init='k-means\+' is not one of"),
    ({"init": "RANDOM"}, ValueError, r"init='RANDOM' is not one of"),
    ({"init": np.ones((2, 4))}, ValueError,
     r"init has shape \(2, 4\); expected \(n_clusters, n_features\) = \(3, 4\)"),
    ({"init": np.ones((3, 5))}, ValueError, r"init has shape \(3, 5\); expected"),
    ({"init": np.ones(4)}, ValueError, r"init has shape \(4,\); expected"),
    ({"init": np.ones((3, 4, 1))}, ValueError, r"init has shape \(3, 4, 1\); expected"),
    ({"init": np.full((3, 4), np.nan)}, ValueError, r"init contains NaN or infinity"),
    ({"init": np.r_[np.ones((2, 4)), [[1, 1, np.inf, 1]]]}, ValueError, r"init contains NaN"),
    ({"init": [["a"] * 4] * 3}, TypeError, r"init must be a numeric array"),
    ({"init": None}, TypeError, r"init must be a numeric array"),
    ({"init": lambda X, k, random_state: X[: k - 1]}, ValueError,
     r"the array returned by init has shape \(2, 4\)"),
    ({"init": lambda X, k, random_state: np.full((k, X.shape[1]), np.nan)}, ValueError,
     r"the array returned by init contains NaN"),
    ({"verbose": -1}, ValueError, r"verbose must be >= 0"),
])
def test_bad_parameters_name_the_parameter(name, X, params, exc, match):
    with pytest.raises(exc, match=match):
        make(name, **params).fit(X)


# -- the form of X ------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_1d_X_gets_the_reshape_hint(name, X):
    with pytest.raises(ValueError, match=r"X must be 2-D .*got a 1-D array of shape \(60,\)"
                                          r".*Reshape your data: X.reshape\(-1, 1\)"):
        make(name).fit(X[:, 0])
    with pytest.raises(ValueError, match=r"1-D.*Reshape your data"):
        make(name).fit(list(X[:, 0]))
    est = quiet_fit(make(name), X)
    with pytest.raises(ValueError, match=r"got a 1-D array of shape \(4,\).*X.reshape\(1, -1\)"):
        est.predict(X[0])  # one sample passed as a vector
    with pytest.raises(ValueError, match=r"X must be 2-D .*got a scalar"):
        est.predict(np.float64(1.0))


@pytest.mark.parametrize("name", NAMES)
def test_3d_X_gets_the_reshape_hint(name, X):
    images = X.reshape(60, 2, 2)
    with pytest.raises(ValueError, match=r"got a 3-D array of shape \(60, 2, 2\)"
                                          r".*X.reshape\(len\(X\), -1\)"):
        make(name).fit(images)
    # ... and the hint works.
    flat = quiet_fit(make(name), images.reshape(len(images), -1))
    np.testing.assert_array_equal(flat.labels_, quiet_fit(make(name), X).labels_)


@pytest.mark.parametrize("name", NAMES)
def test_ragged_rows(name):
    with pytest.raises(ValueError, match=r"X must be a 2-D array"):
        make(name, n_clusters=1).fit([[1.0, 2.0], [3.0]])


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("make_bad, exc, match", [
    (lambda X: X.astype(str), TypeError, r"X must be numeric, got dtype <U"),
    (lambda X: X.astype(str).astype(bytes), TypeError, r"X must be numeric, got dtype \|S"),
    (lambda X: np.array([["a", "b", "c", "d"]] * 60, dtype=object), TypeError,
     r"X must be numeric: could not convert string to float"),
    (lambda X: np.where(np.arange(4) == 1, {"a": 1}, X.astype(object)), TypeError,
     r"X must be numeric: float\(\) argument must be a string or a (real )?number"),
    (lambda X: X + 1j, ValueError, r"X has complex dtype complex128: Complex data not supported"),
    (lambda X: sp.csr_matrix(X + 1j), ValueError, r"X has complex dtype"),
    (lambda X: np.where(np.arange(4) == 0, None, X.astype(object)), ValueError,
     r"X contains NaN \(first at row 0, column 0"),
])
def test_non_numeric_X(name, X, make_bad, exc, match):
    with pytest.raises(exc, match=match):
        make(name).fit(make_bad(X))
    est = quiet_fit(make(name), X)
    with pytest.raises(exc, match=match):
        est.predict(make_bad(X))


@pytest.mark.parametrize("name", NAMES)
def test_numbers_held_as_objects_are_converted(name, X):
    ref = quiet_fit(make(name), X)
    est = quiet_fit(make(name), X.astype(object))
    assert est.cluster_centers_.dtype == np.float64
    np.testing.assert_array_equal(est.cluster_centers_, ref.cluster_centers_)
    np.testing.assert_array_equal(est.predict(X.astype(object)), ref.labels_)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", [bool, np.uint8, np.int8, np.int32, np.int64, np.float16])
def test_other_dtypes_are_converted_to_float64_and_work(name, X, dtype):
    if dtype is bool:
        Xt = np.vstack([X > X.mean(axis=0), X < X.mean(axis=0)])
        Xt[:, 0] = True  # no all-zero row: SphericalKMeans takes it too
    else:
        Xt = (X * 10).astype(dtype)
    ref = quiet_fit(make(name), Xt.astype(np.float64))
    est = quiet_fit(make(name), Xt)
    assert est.cluster_centers_.dtype == np.float64
    assert np.all(np.isfinite(est.cluster_centers_))
    np.testing.assert_array_equal(est.cluster_centers_, ref.cluster_centers_)
    np.testing.assert_array_equal(est.labels_, ref.labels_)
    np.testing.assert_array_equal(est.predict(Xt), ref.predict(Xt.astype(np.float64)))
    assert est.transform(Xt).dtype == np.float64
    assert est.score(Xt) == pytest.approx(ref.score(Xt.astype(np.float64)))


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("layout", ["fortran", "strided", "read-only", "read-only csr"])
def test_memory_layouts_give_the_same_result_and_leave_X_alone(name, X, layout):
    ref = make(name).fit(X)
    if layout == "fortran":
        Xl = np.asfortranarray(X)
    elif layout == "strided":
        Xl = np.repeat(X, 2, axis=1)[::1, ::2]
        assert not Xl.flags.c_contiguous and not Xl.flags.f_contiguous
    elif layout == "read-only":
        Xl = X.copy()
        Xl.setflags(write=False)
    else:
        Xl = sp.csr_matrix(X)
        for a in (Xl.data, Xl.indices, Xl.indptr):
            a.setflags(write=False)
    before = Xl.copy()
    est = make(name).fit(Xl)
    np.testing.assert_allclose(est.cluster_centers_, ref.cluster_centers_, rtol=1e-12)
    np.testing.assert_array_equal(est.labels_, ref.labels_)
    np.testing.assert_array_equal(est.predict(Xl), ref.labels_)
    assert est.score(Xl) == pytest.approx(ref.score(X), rel=1e-12)
    got = Xl.toarray() if sp.issparse(Xl) else Xl
    np.testing.assert_array_equal(got, before.toarray() if sp.issparse(before) else before)


# -- degenerate data ----------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_constant_data(name, dtype):
    X = np.full((30, 3), 2.5, dtype=dtype)
    est = make(name, n_clusters=1).fit(X)
    expected = X[:1] / np.linalg.norm(X[0]) if name == "spherical" else X[:1]
    np.testing.assert_allclose(est.cluster_centers_, expected, rtol=1e-6)
    np.testing.assert_array_equal(est.labels_, np.zeros(30))
    assert est.inertia_ == pytest.approx(0.0, abs=1e-9)
    assert np.all(np.isfinite(est.transform(X)))




@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("data", ["duplicates", "constant"])
@pytest.mark.parametrize("init", ["k-means++", "random", "random-uniform", "k-means||"])
def test_more_clusters_than_distinct_points_warns_and_stays_finite(name, data, init):
    rng = np.random.RandomState(0)
    if data == "duplicates":
        X = np.repeat(rng.rand(3, 4) + 0.5, [20, 15, 5], axis=0)  # 3 distinct points, 40 rows
    else:
        X = np.full((40, 4), 0.75)
    with pytest.warns(ConvergenceWarning, match=r"Number of distinct clusters \(\d\) found "
                                                r"smaller than n_clusters \(5\)"):
        est = make(name, n_clusters=5, init=init).fit(X)
    assert np.all(np.isfinite(est.cluster_centers_))
    assert np.isfinite(est.inertia_) and est.inertia_ >= 0
    assert np.all(np.isfinite(est.transform(X)))
    assert np.all((est.labels_ >= 0) & (est.labels_ < 5))
    if name != "soft":  # (the soft objective keeps a log(K) / beta term)
        # Every point sits on a centre: nothing is left over.
        assert est.inertia_ == pytest.approx(0.0, abs=1e-9)


# -- extreme magnitudes -------------------------------------------------------------------
MAGNITUDE_CASES = [
    (np.float32, 1e30), (np.float32, 1e-30), (np.float32, 2.0 ** 100), (np.float32, 2.0 ** -100),
    (np.float64, 1e200), (np.float64, 1e-200),
]
MAGNITUDE_XFAILS = {}  # (estimator, dtype, scale) -> reason, for a case an estimator still fails


def _scale_id(s):
    e = np.frexp(s)[1] - 1
    return f"2^{e}" if s == 2.0 ** e else f"{s:.0e}"


def _times(value, s, p):
    """value * s**p in float64, inf or 0 where that is beyond float64 (as the true value is)."""
    with np.errstate(over="ignore", under="ignore"):
        return np.float64(value) * np.float64(s) ** p


def _magnitude_params():
    out = []
    for name in NAMES:
        for dt, s in MAGNITUDE_CASES:
            if name == "soft" and not 0 < float(_times(1.0, s, -2)) < np.inf:
                continue  # the equivalent beta, 1 / s**2, is beyond float64
            reason = MAGNITUDE_XFAILS.get((name, dt, s))
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            out.append(pytest.param(name, dt, s, marks=marks,
                                    id=f"{name}-{np.dtype(dt).name}-{_scale_id(s)}"))
    return out


@pytest.mark.parametrize("name, dtype, s", _magnitude_params())
def test_huge_and_tiny_magnitudes(name, X, dtype, s):
    """Scaling X by s scales centres by s and the objective by s**degree; no overflow, no NaN."""
    base = X.astype(dtype)
    extreme = (X * s).astype(dtype)
    params = {"beta": float(_times(1.0, s, -2))} if name == "soft" else {}
    ref = quiet_fit(make(name), base)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # overflow / underflow / invalid
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = make(name, **params).fit(extreme)
        labels = est.predict(extreme)
        T = est.transform(extreme)
        score = est.score(extreme)
    rtol = 1e-4 if dtype == np.float32 else 1e-9
    assert est.cluster_centers_.dtype == dtype
    assert np.all(np.isfinite(est.cluster_centers_)) and np.all(np.isfinite(T))
    np.testing.assert_array_equal(est.labels_, ref.labels_)
    np.testing.assert_array_equal(labels, ref.labels_)
    s_c = 1.0 if name == "spherical" else s
    np.testing.assert_allclose(est.cluster_centers_ / s_c, ref.cluster_centers_, rtol=rtol,
                               atol=rtol * float(np.abs(ref.cluster_centers_).max()))
    p, q = OBJECTIVE_DEGREE[name], DISTANCE_DEGREE[name]
    # The objective of 1e200-sized data in float64 is beyond float64: inf (or 0), as it should.
    expected = _times(ref.inertia_, s, p)
    assert est.inertia_ == pytest.approx(expected, rel=10 * rtol)
    assert -score == pytest.approx(expected, rel=10 * rtol)
    assert np.all(np.isnan(est.history_) == False)  # noqa: E712
    ref_T = ref.transform(base)
    np.testing.assert_allclose(T / s ** q, ref_T, rtol=10 * rtol, atol=10 * rtol * float(ref_T.max()))


def test_scaling_is_exact_for_powers_of_two(X):
    """KMeans on X * 2**100 in float32 gives exactly 2**100 times the centres of X."""
    from kmeanslab.cluster import KMeans

    base = X.astype(np.float32)
    ref = KMeans(3, random_state=0).fit(base)
    est = KMeans(3, random_state=0).fit(base * np.float32(2.0 ** 100))
    np.testing.assert_array_equal(est.cluster_centers_, ref.cluster_centers_ * np.float32(2.0 ** 100))
    assert est.inertia_ == ref.inertia_ * 2.0 ** 200
    np.testing.assert_array_equal(est.history_, ref.history_ * 2.0 ** 200)


def test_extreme_init_array_and_callable_see_the_callers_units(X):
    from kmeanslab.cluster import KMeans

    s = 1e30
    Xs = (X * s).astype(np.float32)
    seen = []

    def init(data, k, random_state):
        seen.append(float(np.abs(data).max()))
        return data[[0, 20, 40]]

    a = KMeans(3, init=init, n_init=1).fit(Xs)
    assert seen and seen[0] == pytest.approx(float(np.abs(Xs).max()))
    b = KMeans(3, init=Xs[[0, 20, 40]], n_init=1).fit(Xs)
    np.testing.assert_array_equal(a.cluster_centers_, b.cluster_centers_)
    ref = KMeans(3, init=X[[0, 20, 40]].astype(np.float32), n_init=1).fit(X.astype(np.float32))
    np.testing.assert_array_equal(a.labels_, ref.labels_)


def test_moderate_data_is_not_scaled(X, monkeypatch):
    """Ordinary magnitudes take the unscaled path: bit-for-bit what they always gave."""
    from kmeanslab.cluster import _kmeans

    calls = []
    real = _kmeans.scale_by
    monkeypatch.setattr(_kmeans, "scale_by", lambda A, e: calls.append(e) or real(A, e))
    for data in (X, X * 1e8, X * 1e-8, (X * 255).astype(np.uint8)):
        _kmeans.KMeans(3, random_state=0).fit(data).predict(data)
    assert set(calls) == {0}


# -- sample_weight ------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("make_w, exc, match", [
    (lambda n: -np.ones(n), ValueError, r"sample_weight must be non-negative"),
    (lambda n: np.r_[np.ones(n - 1), -1e-9], ValueError, r"sample_weight must be non-negative"),
    (lambda n: np.ones(n - 1), ValueError, r"sample_weight has 59 entries but X has 60 samples"),
    (lambda n: np.ones(n + 1), ValueError, r"sample_weight has 61 entries but X has 60 samples"),
    (lambda n: np.zeros(n), ValueError, r"sample_weight is all zero"),
    (lambda n: 0.0, ValueError, r"sample_weight is all zero"),
    (lambda n: np.ones((n, 1)), ValueError, r"sample_weight must be 1-D, got shape \(60, 1\)"),
    (lambda n: np.r_[np.ones(n - 1), np.nan], ValueError, r"sample_weight contains NaN"),
    (lambda n: np.r_[np.ones(n - 1), np.inf], ValueError, r"sample_weight contains NaN or infinity"),
    (lambda n: np.array(["1"] * n), TypeError, r"sample_weight must be numeric"),
    (lambda n: "heavy", TypeError, r"sample_weight must be a number or an array"),
])
def test_bad_sample_weight(name, X, make_w, exc, match):
    with pytest.raises(exc, match=match):
        make(name).fit(X, sample_weight=make_w(len(X)))


@pytest.mark.parametrize("name", [n for n in NAMES if n != "minibatch"])  # batches are drawn by weight
def test_zero_weights_on_some_rows_are_allowed(name, X):
    w = np.ones(len(X))
    w[::3] = 0
    est = quiet_fit(make(name), X, sample_weight=w)
    ref = quiet_fit(make(name), X, sample_weight=w * 2)
    assert np.all(np.isfinite(est.cluster_centers_))
    np.testing.assert_allclose(est.cluster_centers_, ref.cluster_centers_, rtol=1e-9)
    assert est.inertia_ * 2 == pytest.approx(ref.inertia_, rel=1e-9)


# -- a fitted model and new X -------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("method", ["predict", "transform", "score"])
def test_wrong_width(name, X, method):
    est = quiet_fit(make(name), X)
    for width in (3, 5):
        Xw = np.ones((10, width))
        with pytest.raises(ValueError, match=rf"X has {width} features, but \w+ is expecting 4 features"):
            getattr(est, method)(Xw)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("method", ["predict", "transform", "score"])
def test_use_before_fit(name, X, method):
    with pytest.raises(NotFittedError, match=r"This \w+ instance is not fitted yet"):
        getattr(make(name), method)(X)


@pytest.mark.parametrize("name", NAMES)
def test_refit_on_other_width_resets(name, X):
    est = quiet_fit(make(name), X)
    est = quiet_fit(est, X[:, :3])
    assert est.cluster_centers_.shape == (3, 3) and est.n_features_in_ == 3
    assert est.predict(X[:, :3]).shape == (60,)


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_mean_variance_is_numpys_in_float64(dtype, order):
    """The tolerance scale: mean over features of the variance, also far from the origin."""
    from kmeanslab.cluster._engine import Data
    from kmeanslab.cluster._loop import mean_variance as backend_mean_variance
    from kmeanslab.cluster.backends import LocalBackend

    def mean_variance(X):
        X = X if sp.issparse(X) else np.ascontiguousarray(X)  # as the estimators prepare it
        return backend_mean_variance(LocalBackend(Data(X, np.ones(X.shape[0], X.dtype))))

    rng = np.random.RandomState(0)
    X = (rng.randn(3001, 13) * rng.uniform(0.1, 100, size=13) + 1e3).astype(dtype)
    X = np.asarray(X, order=order)
    ref = np.var(X.astype(np.float64), axis=0).mean()
    assert mean_variance(X) == pytest.approx(ref, rel=1e-12)
    assert mean_variance(sp.csr_matrix(X)) == pytest.approx(ref, rel=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(3001, 13), (1, 5000), (2, 3)])
def test_one_pass_finiteness_and_magnitude_scan(dtype, shape):
    """The parallel scan behind the NaN / infinity check and the magnitude scaling: numpy's
    answer for dense, strided and CSR input, a bad value anywhere (also past the last
    full row of 1024 values a CSR matrix's entries are cut into)."""
    from kmeanslab.cluster._validation import check_finite_X, max_abs

    rng = np.random.RandomState(1)
    X = (rng.randn(*shape) * 10.0 ** rng.randint(-20, 20, size=shape)).astype(dtype)
    X[rng.rand(*shape) < 0.5] = 0
    for form in (X, X[:, ::2], sp.csr_matrix(X)):
        values = form.data if sp.issparse(form) else form
        assert max_abs(form) == np.abs(values).max(initial=0)
        check_finite_X(form)
    for flat in (0, X.size // 2, X.size - 1):
        for value in (np.nan, np.inf, -np.inf):
            bad = X.copy()
            bad.flat[flat] = value
            for form in (bad, sp.csr_matrix(bad)):
                with pytest.raises(ValueError, match="X contains"):
                    check_finite_X(form)


def test_mean_variance_leaves_out_all_zero_rows_when_asked():
    """SphericalKMeans' tolerance: the variance of the rows that have a direction (dense and
    CSR alike); by default every row counts."""
    from kmeanslab.cluster._engine import Data
    from kmeanslab.cluster._loop import mean_variance
    from kmeanslab.cluster.backends import LocalBackend

    rng = np.random.RandomState(4)
    X = rng.rand(400, 6) + 2.0
    X[::5] = 0.0
    for data in (X, sp.csr_matrix(X)):
        backend = LocalBackend(Data(data, np.ones(400)))
        assert mean_variance(backend, skip_zero_rows=True) == pytest.approx(
            np.var(X[np.any(X != 0, axis=1)], axis=0).mean(), rel=1e-9)
        assert mean_variance(backend) == pytest.approx(np.var(X, axis=0).mean(), rel=1e-9)
