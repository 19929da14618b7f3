"""SoftKMeans: responsibilities against a direct float64 reference, EM monotonicity, limits."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.special import logsumexp, softmax
from sklearn.datasets import make_blobs
from sklearn.utils.estimator_checks import parametrize_with_checks
from threadpoolctl import threadpool_limits

from kmeanslab import _core
from kmeanslab.cluster import KMeans, SoftKMeans


@pytest.fixture(scope="module")
def blobs():
    return make_blobs(1500, 6, centers=5, cluster_std=1.2, random_state=0)[0]


def _reference(X, C, beta, w=None):
    """Responsibilities and free energy computed directly in float64."""
    X, C = np.asarray(X, dtype=np.float64), np.asarray(C, dtype=np.float64)
    w = np.ones(len(X)) if w is None else w
    d2 = ((X[:, None, :] - C[None, :, :]) ** 2).sum(-1)
    F = -(logsumexp(-beta * d2, axis=1) - np.log(len(C))) / beta
    return softmax(-beta * d2, axis=1), float((w * F).sum())


def _purity(labels, y):
    return sum(np.bincount(y[labels == k]).max() for k in np.unique(labels)) / len(y)


def _zscore(X):
    X = np.asarray(X, dtype=np.float64)
    std = X.std(axis=0)
    return ((X - X.mean(axis=0)) / np.where(std > 0, std, 1)).astype(np.float32)


# -- 1. against a direct float64 reference --------------------------------------------------
@pytest.mark.parametrize("beta", [1e-3, 0.3, 1.0, 30.0])
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_responsibilities_and_objective_match_reference(beta, sparse):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(60, 4)) * 2
    X[X < -1] = 0  # some zeros for the sparse path
    w = rng.uniform(0.1, 3, 60)
    C = X[[0, 10, 20]] + 0.1
    m = SoftKMeans(3, beta=beta, init=C, max_iter=1).fit(sp.csr_matrix(X) if sparse else X,
                                                          sample_weight=w)
    _, F0 = _reference(X, C, beta, w)
    assert m.history_[0] == pytest.approx(F0, rel=1e-10)
    R, F = _reference(X, m.cluster_centers_, beta, w)
    P = m.predict_proba(sp.csr_matrix(X) if sparse else X)
    np.testing.assert_allclose(P, R, rtol=1e-9, atol=1e-13)
    np.testing.assert_allclose(P.sum(axis=1), 1, rtol=1e-12)
    assert m.inertia_ == pytest.approx(F, rel=1e-10)
    assert m.score(X, sample_weight=w) == pytest.approx(-F, rel=1e-10)


def test_centres_are_responsibility_weighted_means():
    rng = np.random.RandomState(1)
    X, C = rng.normal(size=(40, 3)), rng.normal(size=(4, 3))
    m = SoftKMeans(4, beta=0.7, init=C, max_iter=1, tol=0).fit(X)
    R, _ = _reference(X, C, 0.7)
    np.testing.assert_allclose(m.cluster_centers_, (R.T @ X) / R.sum(axis=0)[:, None], rtol=1e-10)


def test_float32_close_to_float64(blobs):
    a = SoftKMeans(5, beta=0.5, random_state=0).fit(blobs)
    b = SoftKMeans(5, beta=0.5, random_state=0).fit(blobs.astype(np.float32))
    assert b.cluster_centers_.dtype == np.float32
    assert b.predict_proba(blobs.astype(np.float32)).dtype == np.float64
    np.testing.assert_allclose(b.cluster_centers_, a.cluster_centers_, atol=1e-3)
    assert b.inertia_ == pytest.approx(a.inertia_, rel=1e-4)


# -- 2. the objective and its limits ----------------------------------------------------------
@pytest.mark.parametrize("beta", [0.05, 0.3, 1.0, 10.0])
def test_objective_never_increases(blobs, beta):
    m = SoftKMeans(5, beta=beta, init="random", n_init=1, tol=0, max_iter=40,
                   random_state=0).fit(blobs)
    h = np.append(m.history_, m.inertia_)
    assert len(h) > 5
    assert np.all(np.diff(h) <= 1e-10 * np.abs(h[:-1]))


def test_objective_brackets_the_hard_inertia(blobs):
    m = SoftKMeans(5, beta=0.2, random_state=0).fit(blobs)
    d2 = ((blobs[:, None] - m.cluster_centers_[None]) ** 2).sum(-1).min(axis=1).sum()
    assert d2 <= m.inertia_ <= d2 + len(blobs) * np.log(5) / 0.2


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_large_beta_gives_kmeans_from_same_init(blobs, sparse):
    X = sp.csr_matrix(blobs) if sparse else blobs
    init = blobs[[0, 1, 2, 3, 4]]
    km = KMeans(5, init=init, n_init=1).fit(X)
    soft = SoftKMeans(5, beta=1e6, init=init).fit(X)
    np.testing.assert_allclose(soft.cluster_centers_, km.cluster_centers_, rtol=1e-10)
    np.testing.assert_array_equal(soft.labels_, km.labels_)
    gap = soft.inertia_ - km.inertia_  # F - SSE is within [0, n log(K) / beta]
    assert -1e-9 * km.inertia_ <= gap <= len(blobs) * np.log(5) / 1e6 + 1e-9 * km.inertia_
    P = soft.predict_proba(X)
    np.testing.assert_array_equal(P.argmax(axis=1), km.labels_)
    assert P.max(axis=1).min() > 1 - 1e-12


def test_tiny_beta_pulls_all_centres_to_the_mean(blobs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = SoftKMeans(5, beta=1e-9, random_state=0, tol=0, max_iter=50).fit(blobs)
    np.testing.assert_allclose(m.cluster_centers_, np.tile(blobs.mean(0), (5, 1)), atol=1e-3)
    np.testing.assert_allclose(m.predict_proba(blobs), 0.2, atol=1e-6)


@pytest.mark.parametrize("beta", [1.0, 10.0])
@pytest.mark.parametrize("scale", [1.0, 1e3])
def test_no_nan_or_collapse_on_zscored_mnist(mnist_small, beta, scale):
    """A naive exp() underflows here (every r = 0/0); log-sum-exp keeps all ten clusters."""
    X, y = mnist_small
    Xz = _zscore(X) * np.float32(scale)
    m = SoftKMeans(10, beta=beta, random_state=0, max_iter=30).fit(Xz)
    assert np.all(np.isfinite(m.cluster_centers_)) and np.isfinite(m.inertia_)
    P = m.predict_proba(Xz[:500])
    assert np.all(np.isfinite(P)) and np.allclose(P.sum(axis=1), 1)
    assert len(np.unique(m.labels_)) == 10
    assert _purity(m.labels_, y) > 0.45
    km = KMeans(10, random_state=0, max_iter=30).fit(Xz)
    assert m.inertia_ <= 1.05 * km.inertia_


# -- 3. API, weights, sparse, mini-batches ------------------------------------------------------
def test_predict_is_argmax_and_labels(blobs):
    m = SoftKMeans(5, beta=0.5, random_state=0).fit(blobs)
    np.testing.assert_array_equal(m.predict(blobs), m.labels_)
    np.testing.assert_array_equal(m.predict_proba(blobs).argmax(axis=1), m.labels_)


def test_integer_weights_equal_repeated_rows(blobs):
    X = blobs[:300]
    w = np.random.RandomState(0).randint(0, 4, len(X))
    init = X[w > 0][:5]
    a = SoftKMeans(5, beta=0.5, init=init).fit(X, sample_weight=w)
    b = SoftKMeans(5, beta=0.5, init=init).fit(np.repeat(X, w, axis=0))
    np.testing.assert_allclose(a.cluster_centers_, b.cluster_centers_, rtol=1e-9)
    assert a.inertia_ == pytest.approx(b.inertia_, rel=1e-9)


def test_dense_and_csr_agree(blobs):
    X = np.where(blobs > 0, blobs, 0)
    a = SoftKMeans(5, beta=0.5, random_state=0).fit(X)
    b = SoftKMeans(5, beta=0.5, random_state=0).fit(sp.csr_matrix(X))
    np.testing.assert_allclose(a.cluster_centers_, b.cluster_centers_, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(a.predict_proba(X), b.predict_proba(sp.csr_matrix(X)), atol=1e-10)


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_minibatch_close_to_full_batch(blobs, sparse):
    X = sp.csr_matrix(blobs) if sparse else blobs
    full = SoftKMeans(5, beta=0.5, random_state=0).fit(X)
    mb = SoftKMeans(5, beta=0.5, batch_size=128, random_state=0).fit(X)
    assert mb.inertia_ <= 1.02 * full.inertia_
    assert mb.history_.shape == (mb.n_iter_,)
    again = SoftKMeans(5, beta=0.5, batch_size=128, random_state=0).fit(X)
    np.testing.assert_array_equal(mb.cluster_centers_, again.cluster_centers_)


def test_empty_components_stay_finite():
    X = np.vstack([np.zeros((20, 2)), np.ones((20, 2))])
    init = np.array([[0.0, 0.0], [1.0, 1.0], [100.0, 100.0], [100.0, 100.0]])
    m = SoftKMeans(4, beta=10.0, init=init).fit(X)
    assert np.all(np.isfinite(m.cluster_centers_))
    np.testing.assert_array_equal(m.cluster_centers_[2:], init[2:])


def test_same_result_on_1_and_2_threads(blobs):
    if _core.max_threads() < 2:
        pytest.skip("the kernels have a single OpenMP thread here")
    X = np.tile(blobs, (3, 1))  # several slots
    fits = []
    for threads in (1, 2):
        with threadpool_limits(limits=threads, user_api="openmp"):
            fits.append(SoftKMeans(5, beta=0.3, random_state=0).fit(X))
    np.testing.assert_array_equal(fits[0].cluster_centers_, fits[1].cluster_centers_)
    np.testing.assert_array_equal(fits[0].history_, fits[1].history_)


@pytest.mark.parametrize("params, exc", [
    (dict(beta=0), ValueError), (dict(beta=-1.0), ValueError), (dict(beta=np.inf), ValueError),
    (dict(beta="hot"), TypeError), (dict(batch_size=0), ValueError),
])
def test_bad_parameters_are_rejected(blobs, params, exc):
    name = next(iter(params))
    with pytest.raises(exc, match=name):
        SoftKMeans(3, **params).fit(blobs)


def _expected_failed_checks(estimator):
    weights = ("sample_weight is not equivalent to removing/repeating samples: the seeding "
               "draws other rows from the weighted and the repeated data (as for "
               "scikit-learn's KMeans); test_integer_weights_equal_repeated_rows checks it "
               "from a fixed init")
    proba = ("the check reads classifier tags to size predict_proba (2 or 4 classes); a "
             "clusterer has none and its predict_proba has n_clusters columns. Sparse fit, "
             "predict and predict_proba are tested in test_dense_and_csr_agree")
    return {"check_sample_weight_equivalence_on_dense_data": weights,
            "check_sample_weight_equivalence_on_sparse_data": weights,
            "check_estimator_sparse_array": proba, "check_estimator_sparse_matrix": proba}


@parametrize_with_checks([SoftKMeans(n_init=2, max_iter=5), SoftKMeans(batch_size=20, max_iter=3)],
                         expected_failed_checks=_expected_failed_checks)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)
