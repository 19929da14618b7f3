"""KMeans / k_means: equivalence with scikit-learn, invariants, determinism, API checks."""

import time
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import sklearn.cluster as skc
from threadpoolctl import threadpool_limits
from sklearn.datasets import make_blobs
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics.pairwise import euclidean_distances
from sklearn.utils.estimator_checks import parametrize_with_checks

from kmeanslab import _core
from kmeanslab import cluster as kl_cluster
from kmeanslab.cluster import KMeans, k_means
from kmeanslab.cluster import _seeding as kl_init

DTYPES = [np.float32, np.float64]


# -- helpers ----------------------------------------------------------------------------
def _container(X, sparse):
    return sp.csr_matrix(X) if sparse else X


def _dense(X):
    return X.toarray() if sp.issparse(X) else np.asarray(X)


def _tols(dtype, X):
    """(rtol, atol) for centres: float32 agrees to ~1e-5 of the data's range."""
    span = float(np.ptp(_dense(X))) or 1.0
    if np.dtype(dtype) == np.float32:
        return 1e-5, 1e-5 * span
    return 1e-10, 1e-10 * span


def _sq_dist64(X, C):
    """Brute-force float64 squared distances by differences, (n, K)."""
    Xd = _dense(X).astype(np.float64)
    C = np.asarray(C, dtype=np.float64)
    return ((Xd[:, None, :] - C[None, :, :]) ** 2).sum(axis=2)


def _assert_same_as_sklearn(ours, ref, X):
    """Same labels and iterations, inertia and centres within float tolerance."""
    dtype = X.dtype
    assert ours.cluster_centers_.dtype == dtype
    np.testing.assert_array_equal(ours.labels_, ref.labels_)
    assert ours.n_iter_ == ref.n_iter_
    rtol, atol = _tols(dtype, X)
    np.testing.assert_allclose(ours.cluster_centers_, ref.cluster_centers_, rtol=rtol, atol=atol)
    np.testing.assert_allclose(ours.inertia_, ref.inertia_,
                               rtol=1e-5 if dtype == np.float32 else 1e-10)


@pytest.fixture(scope="module")
def blobs():
    X, _ = make_blobs(n_samples=1500, n_features=12, centers=8, cluster_std=2.0, random_state=0)
    return X


@pytest.fixture(scope="module")
def blobs_big():
    """Enough rows for many sub-blocks (and so many partial slots) in the engine."""
    X, _ = make_blobs(n_samples=3000, n_features=20, centers=12, cluster_std=3.0, random_state=3)
    return X


# -- 1. equivalence with scikit-learn ---------------------------------------------------
@pytest.mark.parametrize("K", [1, 3, 24, 40])  # K >= 24: GEMM kernel; below: fused kernel
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_matches_sklearn_from_same_init(blobs, dtype, sparse, K):
    Xd = blobs.astype(dtype)
    X = _container(Xd, sparse)
    C0 = Xd[np.random.RandomState(K).choice(len(Xd), K, replace=False)]
    ours = KMeans(K, init=C0, n_init=1).fit(X)
    ref = skc.KMeans(K, init=C0, n_init=1, algorithm="lloyd").fit(X)
    _assert_same_as_sklearn(ours, ref, X)


@pytest.mark.parametrize("max_iter, tol", [(2, 1e-4), (3, 0.0), (300, 5e-2)])
@pytest.mark.parametrize("K", [5, 30])
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_matches_sklearn_when_stopped_early(blobs, dtype, sparse, K, max_iter, tol):
    """Stopped by max_iter or by tol: labels are those of the final centres, as sklearn."""
    Xd = blobs.astype(dtype)
    X = _container(Xd, sparse)
    C0 = Xd[np.random.RandomState(K).choice(len(Xd), K, replace=False)]
    ours = KMeans(K, init=C0, n_init=1, max_iter=max_iter, tol=tol).fit(X)
    ref = skc.KMeans(K, init=C0, n_init=1, max_iter=max_iter, tol=tol, algorithm="lloyd").fit(X)
    _assert_same_as_sklearn(ours, ref, X)
    if max_iter < 300:
        assert ours.n_iter_ == max_iter
    else:
        assert 1 < ours.n_iter_ < KMeans(K, init=C0, n_init=1, tol=0).fit(X).n_iter_
    np.testing.assert_array_equal(ours.labels_, _sq_dist64(X, ours.cluster_centers_).argmin(1))
    assert len(ours.history_) == ours.n_iter_


@pytest.mark.parametrize("K", [10, 32])
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_matches_sklearn_on_mnist_subset(mnist_small, sparse, K):
    Xd = mnist_small[0]
    assert Xd.dtype == np.float32
    X = _container(Xd, sparse)
    C0 = Xd[np.random.RandomState(K).choice(len(Xd), K, replace=False)]
    ours = KMeans(K, init=C0, n_init=1).fit(X)
    ref = skc.KMeans(K, init=C0, n_init=1, algorithm="lloyd").fit(X)
    _assert_same_as_sklearn(ours, ref, X)


@pytest.mark.parametrize("K", [3, 30])
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_matches_sklearn_with_sample_weight(blobs, dtype, sparse, K):
    Xd = blobs.astype(dtype)
    X = _container(Xd, sparse)
    rng = np.random.RandomState(7)
    w = rng.uniform(0.1, 3.0, size=len(Xd))
    C0 = Xd[rng.choice(len(Xd), K, replace=False)]
    ours = KMeans(K, init=C0, n_init=1).fit(X, sample_weight=w)
    ref = skc.KMeans(K, init=C0, n_init=1, algorithm="lloyd").fit(X, sample_weight=w)
    _assert_same_as_sklearn(ours, ref, X)
    # Weights matter: the unweighted fit ends elsewhere.
    plain = KMeans(K, init=C0, n_init=1).fit(X)
    assert not np.allclose(plain.cluster_centers_, ours.cluster_centers_)


def test_integer_weights_equal_repeated_rows(blobs):
    """Deterministic from a fixed init: weight 2 is the row twice, weight 0 is no row."""
    X = blobs[:300]
    w = np.random.RandomState(1).randint(0, 3, size=len(X))
    C0 = X[np.flatnonzero(w)[[0, 40, 80, 120]]]
    weighted = KMeans(4, init=C0, n_init=1).fit(X, sample_weight=w)
    repeated = KMeans(4, init=C0, n_init=1).fit(np.repeat(X, w, axis=0))
    np.testing.assert_allclose(weighted.cluster_centers_, repeated.cluster_centers_, rtol=1e-10,
                               atol=1e-10)
    np.testing.assert_allclose(weighted.inertia_, repeated.inertia_, rtol=1e-10)


# -- 2. dtypes --------------------------------------------------------------------------
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("K", [3, 30])
def test_dtype_is_kept(blobs, dtype, sparse, K):
    X = _container(blobs.astype(dtype), sparse)
    km = KMeans(K, random_state=0).fit(X)
    assert km.cluster_centers_.dtype == dtype
    assert km.transform(X).dtype == dtype
    assert km.fit_transform(X).dtype == dtype
    assert km.labels_.shape == (X.shape[0],)
    assert np.issubdtype(km.predict(X).dtype, np.integer)
    assert isinstance(km.inertia_, float)
    assert km.history_.dtype == np.float64


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8, bool])
def test_integer_and_bool_input_is_converted(dtype):
    rng = np.random.RandomState(0)
    X = (rng.rand(200, 6) * 200).astype(dtype) if dtype is not bool else rng.rand(200, 6) > 0.5
    km = KMeans(4, random_state=0).fit(X)
    ref = KMeans(4, random_state=0).fit(X.astype(np.float64))
    assert km.cluster_centers_.dtype == np.float64
    np.testing.assert_array_equal(km.cluster_centers_, ref.cluster_centers_)
    np.testing.assert_array_equal(km.labels_, ref.labels_)
    np.testing.assert_array_equal(km.predict(X), ref.labels_)
    assert np.all(np.isfinite(km.transform(X)))


# -- 3. invariants ----------------------------------------------------------------------
def _random_problem(seed):
    rng = np.random.RandomState(seed)
    n = rng.randint(60, 500)
    d = rng.randint(2, 20)
    K = int(rng.choice([2, 5, 11, 24, 37]))  # both kernel paths
    X = rng.rand(n, d) * rng.uniform(0.5, 50) + rng.uniform(-20, 20)
    if seed % 3 == 0:  # some clustered data too
        X, _ = make_blobs(n_samples=n, n_features=d, centers=rng.randint(2, 9), random_state=seed)
    return X, K


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_invariants_over_seeds(dtype, sparse):
    """history_ never increases; labels, inertia, predict, score, transform agree with brute force."""
    slack = 1e-6 if dtype == np.float32 else 1e-12
    eps = np.finfo(dtype).eps
    for seed in range(20):
        X0, K = _random_problem(seed)
        Xd = X0.astype(dtype)
        if sparse:
            Xd[np.random.RandomState(seed).rand(*Xd.shape) < 0.4] = 0
        X = _container(Xd, sparse)
        init = "k-means++" if seed % 2 else "random"
        km = KMeans(K, init=init, n_init=1, random_state=seed, tol=0).fit(X)
        C = km.cluster_centers_
        assert np.all(np.isfinite(C))

        h = km.history_
        assert len(h) == km.n_iter_
        assert np.all(np.diff(h) <= slack * h[:-1]), (seed, h)
        # The final centres are the means of the last assignment: no worse than it.
        assert km.inertia_ <= h[-1] * (1 + (1e-5 if dtype == np.float32 else 1e-10)), seed

        D = _sq_dist64(X, C)
        scale = float(np.max((_dense(X).astype(np.float64) ** 2).sum(1)) + (C.astype(np.float64) ** 2).sum(1).max())
        picked = D[np.arange(len(D)), km.labels_]
        # Nearest centre, up to rounding of ||x||^2 - 2 x.c + ||c||^2 in X's dtype (ties).
        assert np.all(picked <= D.min(axis=1) + 8 * eps * scale), seed
        assert np.mean(km.labels_ == D.argmin(axis=1)) > 0.99

        sse = float(picked.sum())
        np.testing.assert_allclose(km.inertia_, sse, rtol=1e-5 if dtype == np.float32 else 1e-10)
        np.testing.assert_allclose(km.score(X), -km.inertia_,
                                   rtol=1e-5 if dtype == np.float32 else 1e-10)

        T = km.transform(X)
        assert T.shape == (X.shape[0], K) and T.dtype == dtype
        ref = euclidean_distances(_dense(X).astype(np.float64), C.astype(np.float64))
        np.testing.assert_allclose(T.astype(np.float64) ** 2, ref ** 2, rtol=1e-5,
                                   atol=8 * eps * scale)

        distinct = len(np.unique(C, axis=0)) == K
        if distinct:
            np.testing.assert_array_equal(km.predict(C), np.arange(K))


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_fit_predict_equals_labels(blobs, sparse):
    X = _container(blobs, sparse)
    km = KMeans(5, random_state=2)
    labels = km.fit_predict(X)
    assert labels is km.labels_ or np.array_equal(labels, km.labels_)
    np.testing.assert_array_equal(labels, KMeans(5, random_state=2).fit(X).labels_)
    np.testing.assert_array_equal(km.predict(X), km.labels_)


def test_score_of_other_data_and_weights(blobs):
    km = KMeans(4, random_state=0).fit(blobs[:1000])
    Y = blobs[1000:]
    w = np.random.RandomState(0).rand(len(Y))
    D = _sq_dist64(Y, km.cluster_centers_)
    np.testing.assert_allclose(km.score(Y), -D.min(axis=1).sum(), rtol=1e-10)
    np.testing.assert_allclose(km.score(Y, sample_weight=w), -(w * D.min(axis=1)).sum(), rtol=1e-10)


# -- 4. empty clusters and duplicates ---------------------------------------------------
@pytest.mark.parametrize("n_far", [1, 2, 3])
@pytest.mark.parametrize("K", [5, 30])
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_empty_clusters_are_relocated(dtype, sparse, K, n_far):
    X0, _ = make_blobs(n_samples=500, n_features=5, centers=4, random_state=1)
    Xd = X0.astype(dtype)
    X = _container(Xd, sparse)
    C0 = Xd[np.random.RandomState(0).choice(len(Xd), K, replace=False)].copy()
    C0[:n_far] += 1e3  # nothing is nearest to these: empty at the first step
    ours = KMeans(K, init=C0, n_init=1).fit(X)
    assert np.all(np.isfinite(ours.cluster_centers_))
    assert len(np.unique(ours.labels_)) == K
    assert len(np.unique(ours.cluster_centers_, axis=0)) == K
    assert np.all(np.abs(ours.cluster_centers_) < 100)  # no centre left far away
    ref = skc.KMeans(K, init=C0, n_init=1, algorithm="lloyd").fit(X)
    if n_far == 1:  # sklearn's order among several far points is unspecified
        _assert_same_as_sklearn(ours, ref, X)
    else:
        assert ours.inertia_ <= 1.5 * ref.inertia_


def test_empty_cluster_with_sample_weight_matches_sklearn():
    X, _ = make_blobs(n_samples=400, n_features=4, centers=3, random_state=5)
    w = np.random.RandomState(5).uniform(0.5, 2, size=len(X))
    C0 = X[[0, 1, 2, 3]].copy()
    C0[2] -= 5e3
    ours = KMeans(4, init=C0, n_init=1).fit(X, sample_weight=w)
    ref = skc.KMeans(4, init=C0, n_init=1, algorithm="lloyd").fit(X, sample_weight=w)
    _assert_same_as_sklearn(ours, ref, X)


def test_empty_cluster_never_takes_zero_weight_row():
    X, _ = make_blobs(n_samples=300, n_features=3, centers=3, random_state=2)
    X = np.vstack([X, [[60.0, 60.0, 60.0]]])  # the farthest row has weight 0
    w = np.ones(len(X))
    w[-1] = 0
    C0 = X[[0, 1, 2]].copy()
    C0[1] += 1e3
    km = KMeans(3, init=C0, n_init=1).fit(X, sample_weight=w)
    assert np.all(np.isfinite(km.cluster_centers_))
    assert not np.any(np.all(km.cluster_centers_ == X[-1], axis=1))
    assert len(np.unique(km.labels_[:-1])) == 3
    # weight 0 is the same as the row not being there
    ref = KMeans(3, init=C0, n_init=1).fit(X[:-1])
    np.testing.assert_array_equal(km.labels_[:-1], ref.labels_)
    np.testing.assert_allclose(km.cluster_centers_, ref.cluster_centers_, rtol=1e-12)
    assert km.inertia_ == pytest.approx(ref.inertia_, rel=1e-12)
    assert km.n_iter_ == ref.n_iter_


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("init", ["k-means++", "random", "random-uniform"])
@pytest.mark.parametrize("K", [5, 30])
def test_duplicated_points_warn_and_stay_finite(init, sparse, K):
    rng = np.random.RandomState(0)
    X = np.repeat(rng.rand(3, 4), 20, axis=0)[rng.permutation(60)]
    with pytest.warns(ConvergenceWarning, match="distinct clusters"):
        km = KMeans(K, init=init, n_init=2, random_state=0).fit(_container(X, sparse))
    assert np.all(np.isfinite(km.cluster_centers_))
    assert km.inertia_ == pytest.approx(0, abs=1e-12)
    assert len(np.unique(km.labels_)) == 3
    assert np.all(np.isfinite(km.transform(X)))


def test_no_warning_when_all_clusters_used(blobs):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        KMeans(8, random_state=0).fit(blobs)


# -- 5. determinism ---------------------------------------------------------------------
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("init", ["k-means++", "random"])
def test_same_seed_same_result(blobs, init, sparse):
    X = _container(blobs.astype(np.float32), sparse)
    a = KMeans(6, init=init, n_init=3, random_state=11).fit(X)
    b = KMeans(6, init=init, n_init=3, random_state=11).fit(X)
    assert np.array_equal(a.cluster_centers_, b.cluster_centers_)
    assert np.array_equal(a.labels_, b.labels_)
    assert a.inertia_ == b.inertia_ and a.n_iter_ == b.n_iter_
    np.testing.assert_array_equal(a.history_, b.history_)
    c = KMeans(6, init=init, n_init=3, random_state=12).fit(X)
    assert not np.array_equal(a.cluster_centers_, c.cluster_centers_)
    # RandomState instance with the same seed: same result as the int.
    d = KMeans(6, init=init, n_init=3, random_state=np.random.RandomState(11)).fit(X)
    assert np.array_equal(a.cluster_centers_, d.cluster_centers_)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("K", [5, 40])  # fused / GEMM
def test_same_result_on_1_and_2_threads(blobs_big, dtype, sparse, K):
    if _core.max_threads() < 2:
        pytest.skip("the kernels have a single OpenMP thread here")
    X = _container(blobs_big.astype(dtype), sparse)
    fits = {}
    for threads in (1, 2):
        with threadpool_limits(limits=threads, user_api="openmp"):
            fits[threads] = KMeans(K, n_init=2, random_state=0).fit(X)
    a, b = fits[1], fits[2]
    assert np.array_equal(a.cluster_centers_, b.cluster_centers_)
    assert np.array_equal(a.labels_, b.labels_)
    assert a.inertia_ == b.inertia_
    assert np.array_equal(a.history_, b.history_)
    assert np.array_equal(a.transform(X), b.transform(X))


# -- 6. n_init --------------------------------------------------------------------------
@pytest.mark.parametrize("init", ["k-means++", "random"])
def test_more_inits_never_worse(init):
    X, _ = make_blobs(n_samples=600, n_features=6, centers=15, cluster_std=2.5, random_state=4)
    for seed in range(5):
        one = KMeans(15, init=init, n_init=1, random_state=seed).fit(X)
        five = KMeans(15, init=init, n_init=5, random_state=seed).fit(X)
        assert five.inertia_ <= one.inertia_


def test_best_of_n_init_is_kept(blobs):
    starts = [blobs[np.random.RandomState(s).choice(len(blobs), 8, replace=False)] for s in range(5)]
    singles = [KMeans(8, init=C, n_init=1).fit(blobs) for C in starts]
    calls = iter(starts)
    km = KMeans(8, init=lambda X, k, random_state: next(calls), n_init=5).fit(blobs)
    best = singles[int(np.argmin([s.inertia_ for s in singles]))]
    assert len({round(s.inertia_, 6) for s in singles}) > 1  # the test discriminates
    assert km.inertia_ == min(s.inertia_ for s in singles)
    np.testing.assert_array_equal(km.cluster_centers_, best.cluster_centers_)
    np.testing.assert_array_equal(km.labels_, best.labels_)
    assert km.n_iter_ == best.n_iter_


def _counting(monkeypatch, name):
    calls = []
    original = getattr(kl_init, name)

    def wrapper(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(kl_init, name, wrapper)
    return calls


@pytest.mark.parametrize("init, function, expected", [
    ("k-means++", "_kmeans_plusplus", 1),
    ("random", "_random_rows", 10),
    ("random-uniform", "_uniform", 10),
])
def test_n_init_auto(blobs, monkeypatch, init, function, expected):
    calls = _counting(monkeypatch, function)
    KMeans(4, init=init, n_init="auto", random_state=0).fit(blobs)
    assert len(calls) == expected
    calls.clear()
    KMeans(4, init=init, n_init=3, random_state=0).fit(blobs)
    assert len(calls) == 3


def test_n_init_auto_callable_and_array(blobs):
    calls = []

    def init(X, k, random_state):
        calls.append(1)
        return X[:k]

    KMeans(4, init=init, random_state=0).fit(blobs)
    assert len(calls) == 10
    calls.clear()
    KMeans(4, init=init, n_init=2, random_state=0).fit(blobs)
    assert len(calls) == 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        KMeans(4, init=blobs[:4], random_state=0).fit(blobs)  # auto: one run, no warning
    with pytest.warns(RuntimeWarning, match="n_init"):
        km = KMeans(4, init=blobs[:4], n_init=3).fit(blobs)
    np.testing.assert_array_equal(km.cluster_centers_,
                                  KMeans(4, init=blobs[:4], n_init=1).fit(blobs).cluster_centers_)


# -- 7. init variants -------------------------------------------------------------------
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("init", ["k-means++", "random", "random-uniform"])
def test_named_inits_fit(blobs, init, sparse):
    X = _container(blobs, sparse)
    km = KMeans(8, init=init, n_init=3, random_state=0).fit(X)
    assert np.all(np.isfinite(km.cluster_centers_))
    # blobs has 8 well separated groups: every init reaches a sensible optimum
    best = skc.KMeans(8, n_init=5, random_state=0).fit(blobs).inertia_
    assert km.inertia_ <= 1.5 * best


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_callable_init_gets_X_k_and_random_state(blobs, dtype, sparse):
    X = _container(blobs.astype(dtype), sparse)
    seen = []

    def init(Xi, k, random_state):
        seen.append((Xi, k, random_state))
        idx = random_state.choice(Xi.shape[0], k, replace=False)
        return _dense(Xi[idx]).astype(np.float64)  # any float dtype is accepted

    km = KMeans(5, init=init, n_init=2, random_state=3).fit(X)
    assert len(seen) == 2
    for Xi, k, rs in seen:
        assert Xi.shape == X.shape and Xi.dtype == dtype and sp.issparse(Xi) == sparse
        assert k == 5 and isinstance(k, int)
        assert isinstance(rs, np.random.RandomState)
    assert km.cluster_centers_.dtype == dtype
    again = KMeans(5, init=init, n_init=2, random_state=3).fit(X)
    assert np.array_equal(km.cluster_centers_, again.cluster_centers_)


def test_array_init_of_other_dtype(blobs):
    C0 = blobs[:4]
    a = KMeans(4, init=C0.astype(np.float32), n_init=1).fit(blobs)
    b = KMeans(4, init=C0.astype(np.float32).astype(np.float64), n_init=1).fit(blobs)
    np.testing.assert_array_equal(a.cluster_centers_, b.cluster_centers_)
    c = KMeans(4, init=np.round(C0).astype(int), n_init=1).fit(blobs)
    assert np.all(np.isfinite(c.cluster_centers_))


@pytest.mark.parametrize("init, exc", [
    ("k-means", ValueError),
    ("kmeans++", ValueError),
    (np.zeros((3, 12)), ValueError),  # wrong number of centres
    (np.zeros((4, 11)), ValueError),  # wrong number of features
    (np.zeros(12), ValueError),
    (np.full((4, 12), np.nan), ValueError),
    (np.full((4, 12), np.inf), ValueError),
    (lambda X, k, random_state: X[: k - 1], ValueError),
    (lambda X, k, random_state: np.full((k, X.shape[1]), np.nan), ValueError),
    (None, TypeError),
    ([["a"] * 12] * 4, TypeError),
])
def test_bad_init_is_rejected(blobs, init, exc):
    with pytest.raises(exc, match="init"):
        KMeans(4, init=init).fit(blobs)


# -- 8. k_means -------------------------------------------------------------------------
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_k_means_function_matches_estimator(blobs, sparse):
    X = _container(blobs.astype(np.float32), sparse)
    w = np.random.RandomState(0).uniform(0.5, 1.5, size=X.shape[0])
    est = KMeans(6, n_init=2, random_state=5, init="random").fit(X, sample_weight=w)
    out = k_means(X, 6, n_init=2, random_state=5, init="random", sample_weight=w)
    assert len(out) == 3
    centers, labels, inertia = out
    np.testing.assert_array_equal(centers, est.cluster_centers_)
    np.testing.assert_array_equal(labels, est.labels_)
    assert inertia == est.inertia_
    out = k_means(X, 6, n_init=2, random_state=5, init="random", sample_weight=w,
                  return_n_iter=True)
    assert len(out) == 4 and out[3] == est.n_iter_
    np.testing.assert_array_equal(out[0], est.cluster_centers_)
    assert kl_cluster.k_means is k_means


def test_k_means_validates_like_the_estimator(blobs):
    with pytest.raises(ValueError, match="n_clusters"):
        k_means(blobs, 0)
    with pytest.raises(ValueError, match="sample_weight"):
        k_means(blobs, 3, sample_weight=np.ones(3))


# -- 9. MNIST quality -------------------------------------------------------------------
@pytest.mark.slow
def test_mnist_best_of_10_matches_sklearn(mnist_train):
    X, _ = mnist_train
    assert X.shape == (60000, 784) and X.dtype == np.float32
    # 20,000 seeded rows: the same local optima as the 60,000 (inertia ratios 1 +- 1e-5 over
    # seeds 0-2), a third of the suite's time
    X = X[np.random.RandomState(0).choice(len(X), 20_000, replace=False)]
    t0 = time.perf_counter()
    ours = KMeans(10, init="k-means++", n_init=10, random_state=0).fit(X)
    t_ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    ref = skc.KMeans(n_clusters=10, n_init=10, random_state=0).fit(X)
    t_ref = time.perf_counter() - t0
    print(f"\nMNIST 20k K=10 best-of-10: kmeanslab inertia {ours.inertia_:.2f} ({t_ours:.1f} s), "
          f"sklearn inertia {float(ref.inertia_):.2f} ({t_ref:.1f} s), "
          f"ratio {ours.inertia_ / float(ref.inertia_):.6f}")
    assert ours.cluster_centers_.dtype == np.float32
    assert abs(ours.inertia_ - ref.inertia_) <= 0.005 * ref.inertia_
    assert len(np.unique(ours.labels_)) == 10


# -- 10. scikit-learn estimator checks --------------------------------------------------
def _expected_failed_checks(estimator):
    reason = ("sample_weight is not equivalent to removing/repeating samples: the weighted "
              "and the repeated data are in another order, so the seeding draws other rows "
              "(scikit-learn's own KMeans is exempt for the same reason; "
              "test_integer_weights_equal_repeated_rows checks it from a fixed init)")
    return {"check_sample_weight_equivalence_on_dense_data": reason,
            "check_sample_weight_equivalence_on_sparse_data": reason}


@parametrize_with_checks([KMeans(), KMeans(n_clusters=3, init="random", n_init=2, max_iter=10)],
                         expected_failed_checks=_expected_failed_checks)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


# -- 11. validation ---------------------------------------------------------------------
@pytest.mark.parametrize("params, exc, name", [
    (dict(n_clusters=0), ValueError, "n_clusters"),
    (dict(n_clusters=-1), ValueError, "n_clusters"),
    (dict(n_clusters=2.5), TypeError, "n_clusters"),
    (dict(n_clusters="3"), TypeError, "n_clusters"),
    (dict(n_clusters=None), TypeError, "n_clusters"),
    (dict(n_clusters=51), ValueError, "n_clusters"),
    (dict(n_init=0), ValueError, "n_init"),
    (dict(n_init=-2), ValueError, "n_init"),
    (dict(n_init="many"), TypeError, "n_init"),
    (dict(max_iter=0), ValueError, "max_iter"),
    (dict(max_iter=1.5), TypeError, "max_iter"),
    (dict(tol=-1), ValueError, "tol"),
    (dict(tol=np.nan), ValueError, "tol"),
    (dict(tol="small"), TypeError, "tol"),
    (dict(algorithm="foo"), ValueError, "algorithm"),
    (dict(verbose=-1), ValueError, "verbose"),
])
def test_bad_parameters_are_rejected(params, exc, name):
    X = np.random.RandomState(0).rand(50, 3)
    with pytest.raises(exc, match=name):
        KMeans(**{"n_clusters": 3, **params}).fit(X)


@pytest.mark.parametrize("sample_weight", [
    -np.ones(50),
    np.r_[np.ones(49), -1.0],
    np.ones(49),
    np.ones(51),
    np.zeros(50),
    np.ones((50, 1)),
    np.r_[np.ones(49), np.nan],
    "heavy",
])
def test_bad_sample_weight_is_rejected(sample_weight):
    X = np.random.RandomState(0).rand(50, 3)
    with pytest.raises((ValueError, TypeError), match="sample_weight"):
        KMeans(3).fit(X, sample_weight=sample_weight)


def test_n_clusters_equal_n_samples_and_scalar_weight():
    X = np.random.RandomState(0).rand(6, 2)
    km = KMeans(6, random_state=0).fit(X, sample_weight=2.0)
    assert km.inertia_ == pytest.approx(0, abs=1e-12)
    assert sorted(km.labels_) == list(range(6))


def test_predict_rejects_other_n_features(blobs):
    km = KMeans(3, random_state=0).fit(blobs)
    with pytest.raises(ValueError, match="features"):
        km.predict(blobs[:, :5])
    with pytest.raises(ValueError, match="features"):
        km.transform(blobs[:, :5])


# -- sparse input in non-canonical form, feature names --------------------------------
def _messy_csr(seed=0, n=200, d=6, per_row=8):
    """CSR with unsorted column indices and duplicate entries (which scipy sums)."""
    rng = np.random.RandomState(seed)
    indices = rng.randint(0, d, size=n * per_row)
    data = rng.rand(n * per_row)
    indptr = np.arange(0, n * per_row + 1, per_row)
    X = sp.csr_matrix((data, indices, indptr), shape=(n, d))
    assert not X.has_canonical_format
    return X


@pytest.mark.parametrize("K", [4, 30])
def test_csr_with_duplicates_and_unsorted_indices(K):
    X = _messy_csr()
    before = (X.data.copy(), X.indices.copy(), X.indptr.copy())
    Xd = X.toarray()
    C0 = Xd[:K]
    km = KMeans(K, init=C0, n_init=1).fit(X)
    dense = KMeans(K, init=C0, n_init=1).fit(Xd)
    np.testing.assert_array_equal(km.labels_, dense.labels_)
    np.testing.assert_allclose(km.cluster_centers_, dense.cluster_centers_, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(km.inertia_, dense.inertia_, rtol=1e-10)
    np.testing.assert_allclose(km.score(X), -dense.inertia_, rtol=1e-10)
    np.testing.assert_allclose(km.transform(X), dense.transform(Xd), rtol=1e-7, atol=1e-7)
    # the caller's matrix is left as it was
    for a, b in zip(before, (X.data, X.indices, X.indptr)):
        np.testing.assert_array_equal(a, b)


def test_get_feature_names_out(blobs):
    km = KMeans(3, random_state=0).fit(blobs)
    np.testing.assert_array_equal(km.get_feature_names_out(), ["kmeans0", "kmeans1", "kmeans2"])



@pytest.mark.parametrize("algorithm", ["lloyd", "hamerly", "elkan"])
def test_final_labels_after_a_relocation_are_the_nearest_centres(algorithm):
    """All rows equal: the empty cluster takes a row, both centres land on the same point and
    the fit stops on the tolerance; the final labels are then the nearest centres', ties to
    the lowest index, as scikit-learn (not the relocated row's label kept by the bounds)."""
    import warnings

    from sklearn.cluster import KMeans as SKKMeans

    X = np.zeros((5, 2), np.float32)
    init = np.zeros((2, 2), np.float32)  # both centres on the rows (as k-means++ seeds them)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = KMeans(2, init=init, n_init=1, algorithm=algorithm).fit(X)
        ref = SKKMeans(2, init=init, n_init=1, algorithm="lloyd" if algorithm == "hamerly" else algorithm).fit(X)
    np.testing.assert_array_equal(got.labels_, ref.labels_)
    np.testing.assert_array_equal(got.labels_, np.zeros(5))


def test_a_lloyd_step_keeps_no_block_in_its_cache():
    """Streamed Dask blocks take Lloyd steps: a block's cache must not hold the block (it
    would stay in worker memory for the whole fit); bounds steppers are kept."""
    import sys

    from kmeanslab.cluster import _engine
    from kmeanslab.cluster._methods import SquaredEuclidean

    X = np.random.RandomState(0).rand(300, 4).astype(np.float32)
    data = _engine.Data(X, np.ones(300, np.float32))
    for algorithm, kept in (("lloyd", False), ("hamerly", True)):
        cache = {}
        before = sys.getrefcount(data)
        SquaredEuclidean(3, algorithm).step(data, cache, 0, X[:3].copy())
        assert ("stepper" in cache) is kept
        assert (sys.getrefcount(data) > before) is kept
