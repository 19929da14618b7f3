"""MiniBatchKMeans against scikit-learn's on the same batches; and the estimator registry."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import sklearn.cluster as skc
from threadpoolctl import threadpool_limits
from sklearn.datasets import make_blobs
from sklearn.utils.estimator_checks import parametrize_with_checks

from kmeanslab import _core
from kmeanslab.cluster import (ESTIMATORS, KMeans, KMedians, MiniBatchKMeans, SoftKMeans,
                               SphericalKMeans, make_estimator)
from kmeanslab.cluster._kernels.family import draw_rows


@pytest.fixture(scope="module")
def blobs():
    return make_blobs(2000, 8, centers=6, cluster_std=1.5, random_state=0)[0]


def _container(X, sparse):
    return sp.csr_matrix(X) if sparse else X


def _assert_same_fit(ours, ref, rtol=1e-9):
    np.testing.assert_allclose(ours.cluster_centers_, ref.cluster_centers_, rtol=rtol, atol=1e-9)
    np.testing.assert_array_equal(ours.labels_, ref.labels_)
    assert ours.inertia_ == pytest.approx(ref.inertia_, rel=rtol)


# -- 1. the same as scikit-learn from the same seed -------------------------------------
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("params", [
    dict(),
    dict(batch_size=100),
    dict(batch_size=64, init="random", n_init=3),
    dict(batch_size=50, tol=1e-3, max_no_improvement=None),
    dict(batch_size=200, max_iter=3, max_no_improvement=None, reassignment_ratio=0.5),
    dict(batch_size=100, init_size=30),
], ids=["default", "b100", "random3", "tol", "reassign", "init_size"])
def test_fit_matches_sklearn_from_same_seed(blobs, sparse, params):
    """Same seed, same draws: the whole trajectory (and its early stop) is sklearn's."""
    X = _container(blobs, sparse)
    ours = MiniBatchKMeans(6, random_state=0, **params).fit(X)
    ref = skc.MiniBatchKMeans(6, random_state=0, **params).fit(X)
    _assert_same_fit(ours, ref)
    assert (ours.n_steps_, ours.n_iter_) == (ref.n_steps_, ref.n_iter_)
    assert ours.history_.shape == (ours.n_steps_,)


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_fit_with_sample_weight_matches_sklearn(blobs, sparse):
    w = np.random.RandomState(1).uniform(0, 3, len(blobs))
    w[:100] = 0
    X = _container(blobs, sparse)
    ours = MiniBatchKMeans(6, batch_size=128, random_state=2).fit(X, sample_weight=w)
    ref = skc.MiniBatchKMeans(6, batch_size=128, random_state=2).fit(X, sample_weight=w)
    _assert_same_fit(ours, ref)


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_partial_fit_matches_sklearn_on_same_chunks(blobs, sparse):
    """Explicit init, chunks with weights, reassignments on: step by step as sklearn."""
    X = _container(blobs, sparse)
    w = np.random.RandomState(3).uniform(0.5, 2, len(blobs))
    init = blobs[:6] * 0.1  # poor start: some centres get nothing and are reassigned
    params = dict(init=init, random_state=0, batch_size=100, reassignment_ratio=0.2)
    ours, ref = MiniBatchKMeans(6, **params), skc.MiniBatchKMeans(6, **params)
    for start in range(0, 2000, 250):
        chunk = slice(start, start + 250)
        ours.partial_fit(X[chunk], sample_weight=w[chunk])
        ref.partial_fit(X[chunk], sample_weight=w[chunk])
        _assert_same_fit(ours, ref)
    assert ours.n_steps_ == ref.n_steps_ == 8
    assert ours.history_.shape == (8,)


def test_mnist_subset_matches_sklearn(mnist_small):
    X = mnist_small[0]
    ours = MiniBatchKMeans(10, batch_size=256, random_state=0).fit(X)
    ref = skc.MiniBatchKMeans(10, batch_size=256, random_state=0).fit(X)
    assert ours.cluster_centers_.dtype == np.float32
    np.testing.assert_allclose(ours.cluster_centers_, ref.cluster_centers_, atol=1e-4)
    assert ours.inertia_ == pytest.approx(ref.inertia_, rel=1e-5)
    assert ours.n_steps_ == ref.n_steps_


def test_inertia_close_to_kmeans_on_blobs(blobs):
    full = KMeans(6, random_state=0).fit(blobs).inertia_
    for seed in range(3):
        mb = MiniBatchKMeans(6, batch_size=128, random_state=seed).fit(blobs)
        assert mb.inertia_ <= 1.03 * full


@pytest.mark.parametrize("n", [1, 2, 7, 1000, 70001])
@pytest.mark.parametrize("kind", ["unit", "random", "zeros", "spiky"])
def test_draw_rows_is_numpys_searchsorted(n, kind):
    """The batch draw is RandomState.choice(n, b, p=w/sum(w))'s, index for index."""
    rng = np.random.RandomState(n)
    w = {"unit": np.ones(n), "random": rng.rand(n), "spiky": np.r_[1e6, np.ones(n - 1)],
         "zeros": np.where(rng.rand(n) < 0.5, 0.0, 1.0) + np.eye(1, n).ravel()}[kind]
    cdf = (w / w.sum()).cumsum()
    cdf /= cdf[-1]
    u = np.r_[0.0, np.nextafter(1.0, 0), cdf[0], cdf[n // 2], rng.random_sample(3000)]
    out = np.empty(len(u), dtype=np.intp)
    draw_rows(cdf, u, out)
    np.testing.assert_array_equal(out, cdf.searchsorted(u, side="right"))
    p = w / w.sum()
    np.testing.assert_array_equal(
        np.random.RandomState(0).choice(n, 500, p=p),
        cdf.searchsorted(np.random.RandomState(0).random_sample(500), side="right"))


# -- 2. outputs ---------------------------------------------------------------------------
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_outputs_on_whole_data(blobs, sparse):
    X = _container(blobs.astype(np.float32), sparse)
    mb = MiniBatchKMeans(6, batch_size=100, random_state=0).fit(X)
    assert mb.cluster_centers_.dtype == np.float32
    assert mb.labels_.shape == (2000,)
    np.testing.assert_array_equal(mb.labels_, mb.predict(X))
    d2 = ((blobs - mb.cluster_centers_[mb.labels_].astype(np.float64)) ** 2).sum()
    assert mb.inertia_ == pytest.approx(d2, rel=1e-4)
    assert mb.score(X) == pytest.approx(-mb.inertia_, rel=1e-5)
    assert mb.transform(X).shape == (2000, 6)


def test_dense_and_csr_agree(blobs):
    a = MiniBatchKMeans(6, batch_size=100, random_state=0).fit(blobs)
    b = MiniBatchKMeans(6, batch_size=100, random_state=0).fit(sp.csr_matrix(blobs))
    _assert_same_fit(a, b)


def test_runs_all_steps_without_early_stop(blobs):
    mb = MiniBatchKMeans(6, batch_size=300, max_iter=4, max_no_improvement=None,
                         random_state=0).fit(blobs)
    assert mb.n_steps_ == 4 * 2000 // 300
    assert mb.n_iter_ == 4


def test_compute_labels_false(blobs):
    mb = MiniBatchKMeans(6, batch_size=100, compute_labels=False, random_state=0).fit(blobs)
    assert not hasattr(mb, "labels_")
    assert np.isfinite(mb.inertia_) and mb.inertia_ > 0


def test_same_seed_same_result_and_thread_count(blobs):
    if _core.max_threads() < 2:
        pytest.skip("the kernels have a single OpenMP thread here")
    fits = []
    for threads in (1, 2, 2):
        with threadpool_limits(limits=threads, user_api="openmp"):
            fits.append(MiniBatchKMeans(6, batch_size=512, random_state=5).fit(blobs))
    for other in fits[1:]:
        np.testing.assert_array_equal(fits[0].cluster_centers_, other.cluster_centers_)
        np.testing.assert_array_equal(fits[0].history_, other.history_)


def test_duplicates_give_finite_centres():
    X = np.repeat(np.arange(3.0)[:, None], 50, axis=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mb = MiniBatchKMeans(5, batch_size=20, random_state=0).fit(X)
    assert np.all(np.isfinite(mb.cluster_centers_))


def test_partial_fit_continues_a_fit_and_checks_features(blobs):
    mb = MiniBatchKMeans(6, batch_size=100, random_state=0).fit(blobs)
    steps = mb.n_steps_
    mb.partial_fit(blobs[:300])
    assert mb.n_steps_ == steps + 1
    with pytest.raises(ValueError, match="features"):
        mb.partial_fit(blobs[:300, :5])


def test_small_init_size_warns(blobs):
    with pytest.warns(RuntimeWarning, match="init_size"):
        MiniBatchKMeans(6, init_size=3, random_state=0).fit(blobs)


@pytest.mark.parametrize("params, exc, name", [
    (dict(batch_size=0), ValueError, "batch_size"),
    (dict(batch_size=2.5), TypeError, "batch_size"),
    (dict(max_no_improvement=-1), ValueError, "max_no_improvement"),
    (dict(init_size=0), ValueError, "init_size"),
    (dict(reassignment_ratio=-0.1), ValueError, "reassignment_ratio"),
    (dict(compute_labels="yes"), TypeError, "compute_labels"),
    (dict(n_clusters=0), ValueError, "n_clusters"),
])
def test_bad_parameters_are_rejected(blobs, params, exc, name):
    with pytest.raises(exc, match=name):
        MiniBatchKMeans(**params).fit(blobs)


def _expected_failed_checks(estimator):
    reason = ("sample_weight is not equivalent to removing/repeating samples: batches are "
              "drawn at random, so weighted and repeated data see other rows (scikit-learn's "
              "MiniBatchKMeans is exempt for the same reason)")
    return {"check_sample_weight_equivalence_on_dense_data": reason,
            "check_sample_weight_equivalence_on_sparse_data": reason}


@parametrize_with_checks([MiniBatchKMeans(n_init=2, max_iter=5, batch_size=10)],
                         expected_failed_checks=_expected_failed_checks)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


# -- 3. the registry (cluster/registry.py) --------------------------------------------------
def test_registry_names_every_estimator():
    assert ESTIMATORS == {"kmeans": KMeans, "minibatch": MiniBatchKMeans, "soft": SoftKMeans,
                          "kmedians": KMedians, "spherical": SphericalKMeans}


@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_make_estimator_passes_or_drops_optional_params(name):
    est = make_estimator(name, n_clusters=3, random_state=0, beta=5.0, batch_size=64)
    assert isinstance(est, ESTIMATORS[name])
    params = est.get_params()
    assert params["n_clusters"] == 3
    assert params.get("beta", 5.0) == 5.0
    assert params.get("batch_size", 64) == 64
    assert ("beta" in params) == (name == "soft")
    assert ("batch_size" in params) == (name in ("soft", "minibatch"))


def test_make_estimator_none_means_default():
    assert make_estimator("minibatch", batch_size=None).batch_size == 1024
    assert make_estimator("soft", beta=None).beta == 1.0


def test_make_estimator_errors():
    with pytest.raises(ValueError, match="unknown algorithm 'elkan'.*kmeans, minibatch, soft"):
        make_estimator("elkan")
    with pytest.raises(ValueError, match="has no parameter 'alpha'"):
        make_estimator("kmeans", alpha=1)
