"""KMedians: L1 assignment, weighted-median update, against brute force on small data."""

import itertools
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.datasets import make_blobs
from sklearn.utils.estimator_checks import parametrize_with_checks
from threadpoolctl import threadpool_limits

from kmeanslab import _core
from kmeanslab.cluster import KMedians
from kmeanslab.cluster._engine import Data
from kmeanslab.cluster._kernels.family import N_BUCKETS, weighted_median
from kmeanslab.cluster._engine import l1_assign, weighted_medians


@pytest.fixture(scope="module")
def blobs():
    return make_blobs(600, 5, centers=4, cluster_std=1.0, random_state=0)[0]


def _l1(X, C):
    return np.abs(np.asarray(X)[:, None, :] - np.asarray(C)[None, :, :]).sum(-1)


def _objective(X, C, labels, w=None):
    w = np.ones(len(X)) if w is None else w
    return float((w * _l1(X, C)[np.arange(len(X)), labels]).sum())


# -- 1. the weighted median -----------------------------------------------------------------
@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([-2.0, -1.0, 0.0, 0.5, 1.0, 3.0, 1e-300, 7.25]) |
                          st.floats(-1e6, 1e6, allow_nan=False, allow_subnormal=False),
                          st.sampled_from([1.0, 2.0, 0.25]) | st.floats(1e-3, 1e3)),
                min_size=1, max_size=40),
       st.integers(0, 39) | st.floats(-1e6, 1e6, allow_nan=False))
def test_weighted_median_minimises_weighted_l1(pairs, guess):
    """Whatever the first guess (one of the values or not), the result is a minimiser."""
    v = np.array([p[0] for p in pairs])
    w = np.array([p[1] for p in pairs])
    guess = v[guess % len(v)] if isinstance(guess, int) else guess
    m = weighted_median(v.copy(), w.copy(), len(v), np.empty((3, N_BUCKETS)), guess)
    best = min((w * np.abs(v - c)).sum() for c in v)
    assert (w * np.abs(v - m)).sum() <= best * (1 + 1e-12) + 1e-300


@pytest.mark.parametrize("n", [1, 2, 3, 10, 11, 1000, 1001])
def test_unit_weights_give_numpy_median(n):
    rng = np.random.RandomState(n)
    for v in (rng.normal(size=n), rng.randint(0, 4, n).astype(float)):
        for guess in (v[0], np.median(v), 0.5, -10.0):
            got = weighted_median(v.copy(), np.ones(n), n, np.empty((3, N_BUCKETS)), guess)
            assert got == pytest.approx(np.median(v), rel=1e-15, abs=1e-300)


# -- 2. the algorithm --------------------------------------------------------------------------
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_median_update_never_raises_the_objective(sparse):
    rng = np.random.RandomState(0)
    X = rng.standard_t(2, size=(300, 6))
    X[rng.uniform(size=X.shape) < 0.4] = 0
    w = rng.uniform(0.1, 2, 300)
    data = Data(sp.csr_matrix(X) if sparse else X, w)
    for trial in range(5):
        labels = rng.randint(0, 4, 300).astype(np.int32)
        C = rng.normal(size=(4, 6))
        new = weighted_medians(data, labels, C)
        assert _objective(X, new, labels, w) <= _objective(X, C, labels, w) + 1e-9
        for k in range(4):  # and it is the per-cluster optimum: no coordinate nudge helps
            for delta in (1e-3, -1e-3):
                nudged = new.copy()
                nudged[k] += delta
                assert _objective(X, nudged, labels, w) >= _objective(X, new, labels, w) - 1e-9


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_history_never_increases_and_inertia_is_l1(blobs, sparse):
    X = np.abs(blobs) if sparse else blobs
    m = KMedians(4, init="random", n_init=1, tol=0, random_state=3).fit(
        sp.csr_matrix(X) if sparse else X)
    assert np.all(np.diff(m.history_) <= 1e-9 * m.history_[0])
    assert m.inertia_ <= m.history_[-1] + 1e-9
    assert m.inertia_ == pytest.approx(_objective(X, m.cluster_centers_, m.labels_), rel=1e-9)
    np.testing.assert_array_equal(m.labels_, _l1(X, m.cluster_centers_).argmin(axis=1))


def test_reaches_brute_force_optimum_on_small_data():
    """All 2^n partitions into two clusters: each costs its clusters' L1 to their median."""
    rng = np.random.RandomState(4)
    X = np.vstack([rng.normal(0, 1, (5, 2)), rng.normal(6, 1, (5, 2))])
    best = np.inf
    for bits in itertools.product([0, 1], repeat=len(X)):
        labels = np.array(bits)
        if labels.min() == labels.max():
            continue
        C = np.array([np.median(X[labels == k], axis=0) for k in (0, 1)])
        best = min(best, _objective(X, C, labels))
    m = KMedians(2, n_init=10, random_state=0).fit(X)
    assert m.inertia_ == pytest.approx(best, rel=1e-12)


def test_fixed_point_centres_are_cluster_medians(blobs):
    m = KMedians(4, random_state=0).fit(blobs)
    for k in range(4):
        np.testing.assert_allclose(m.cluster_centers_[k], np.median(blobs[m.labels_ == k], axis=0))


def test_median_is_robust_where_the_mean_is_not():
    X = np.vstack([np.zeros((20, 2)), np.full((20, 2), 10.0), [[1e6, 1e6]]])
    m = KMedians(2, init=np.array([[0.0, 0.0], [10.0, 10.0]])).fit(X)
    np.testing.assert_allclose(np.sort(m.cluster_centers_[:, 0]), [0, 10])


# -- 3. API, weights, sparse --------------------------------------------------------------------
def test_predict_transform_score_in_l1(blobs):
    X32 = blobs.astype(np.float32)
    m = KMedians(4, random_state=0).fit(X32)
    assert m.cluster_centers_.dtype == np.float32 and m.transform(X32).dtype == np.float32
    np.testing.assert_allclose(m.transform(X32), _l1(blobs, m.cluster_centers_), rtol=1e-5)
    np.testing.assert_array_equal(m.predict(X32), m.labels_)
    assert m.score(X32) == pytest.approx(-m.inertia_, rel=1e-5)


def test_dense_and_csr_agree_with_weights(blobs):
    X = np.where(np.abs(blobs) > 2, blobs, 0)
    w = np.random.RandomState(0).uniform(0, 2, len(X))
    a = KMedians(4, random_state=0).fit(X, sample_weight=w)
    b = KMedians(4, random_state=0).fit(sp.csr_matrix(X), sample_weight=w)
    np.testing.assert_allclose(a.cluster_centers_, b.cluster_centers_, rtol=1e-12)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    assert a.inertia_ == pytest.approx(b.inertia_, rel=1e-12)
    np.testing.assert_allclose(a.transform(X), b.transform(sp.csr_matrix(X)), rtol=1e-12)


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_integer_weights_equal_repeated_rows(blobs, sparse):
    w = np.random.RandomState(1).randint(0, 4, len(blobs))
    init = blobs[w > 0][:4]
    conv = sp.csr_matrix if sparse else np.asarray
    a = KMedians(4, init=init).fit(conv(blobs), sample_weight=w)
    b = KMedians(4, init=init).fit(conv(np.repeat(blobs, w, axis=0)))
    np.testing.assert_allclose(a.cluster_centers_, b.cluster_centers_)
    assert a.inertia_ == pytest.approx(b.inertia_, rel=1e-12)


def test_empty_clusters_never_nan():
    X = np.repeat(np.arange(3.0)[:, None], 10, axis=0)
    init = np.array([[0.0], [1.0], [2.0], [50.0], [60.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = KMedians(5, init=init).fit(X)
    assert np.all(np.isfinite(m.cluster_centers_))
    assert m.inertia_ == 0


def test_empty_cluster_takes_the_farthest_point():
    X = np.array([[0.0], [0.1], [0.2], [9.0]])
    m = KMedians(2, init=np.array([[0.1], [100.0]])).fit(X)
    np.testing.assert_array_equal(m.labels_, [0, 0, 0, 1])
    np.testing.assert_allclose(np.ravel(m.cluster_centers_), [0.1, 9.0])


def test_same_result_on_1_and_2_threads(blobs):
    if _core.max_threads() < 2:
        pytest.skip("the kernels have a single OpenMP thread here")
    X = np.tile(blobs, (4, 1))
    fits = []
    for threads in (1, 2):
        with threadpool_limits(limits=threads, user_api="openmp"):
            fits.append(KMedians(4, random_state=0).fit(X))
    np.testing.assert_array_equal(fits[0].cluster_centers_, fits[1].cluster_centers_)
    assert fits[0].history_.tolist() == fits[1].history_.tolist()


def test_l1_assign_sums_weighted_distances(blobs):
    C = blobs[:4]
    w = np.linspace(0, 2, len(blobs))
    labels, mind, total = l1_assign(Data(blobs, w), C)
    D = _l1(blobs, C)
    np.testing.assert_array_equal(labels, D.argmin(axis=1))
    np.testing.assert_allclose(mind, D.min(axis=1))
    assert total == pytest.approx((w * D.min(axis=1)).sum(), rel=1e-12)


def _expected_failed_checks(estimator):
    reason = ("sample_weight is not equivalent to removing/repeating samples: the seeding "
              "draws other rows from the weighted and the repeated data (as for "
              "scikit-learn's KMeans); test_integer_weights_equal_repeated_rows checks it "
              "from a fixed init")
    return {"check_sample_weight_equivalence_on_dense_data": reason,
            "check_sample_weight_equivalence_on_sparse_data": reason}


@parametrize_with_checks([KMedians(n_init=2, max_iter=5)],
                         expected_failed_checks=_expected_failed_checks)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_radix_medians_over_blocks_equal_the_kernel(dtype):
    """The medians Dask computes (a radix selection over map-reduce passes) are the
    in-process kernel's, exactly: negative values, ties, zero and fractional weights."""
    from kmeanslab.cluster import _engine
    from kmeanslab.cluster._medians import radix_medians
    from kmeanslab.cluster._methods import Manhattan
    from kmeanslab.cluster.backends import LocalBackend

    rng = np.random.RandomState(3)
    X = np.round(rng.standard_normal((400, 5)) * 4, 1).astype(dtype)  # many ties
    w = rng.choice([0.0, 0.5, 1.0, 2.0], size=400).astype(dtype)
    data = _engine.Data(X, w)
    centers = X[[0, 50, 100, 150]].copy()
    method = Manhattan(4)
    backend = LocalBackend(data)
    backend.map_reduce(method.step, 0, centers)
    moves = (np.array([7, 9]), np.array([0, 0]), np.array([3, 3]))
    for mv in (None, moves):
        expect = backend.medians(method, centers, 0, [mv] if mv is not None else None)
        got = radix_medians(backend, method, centers, 0, [mv] if mv is not None else None)
        # in X's dtype, as the loop keeps centres (a float32 midpoint is rounded once either way)
        np.testing.assert_array_equal(got.astype(dtype), expect.astype(dtype))
    unit = _engine.Data(X, np.ones(400, dtype))
    np.testing.assert_array_equal(radix_medians(LocalBackend(unit), method, X[:1].repeat(4, 0), -1, None)[0].astype(dtype),
                                  np.median(X, axis=0))
