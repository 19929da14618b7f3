"""SphericalKMeans: cosine similarity on the unit sphere, against KMeans there."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import make_blobs
from sklearn.preprocessing import normalize
from sklearn.utils.estimator_checks import parametrize_with_checks

from kmeanslab.cluster import KMeans, SphericalKMeans


@pytest.fixture(scope="module")
def directions():
    """Rows in five well-separated directions, at various lengths (positive orthant)."""
    X = make_blobs(800, 6, centers=5, cluster_std=0.6, center_box=(2, 12), random_state=0)[0]
    lengths = np.random.RandomState(0).uniform(0.5, 20, len(X))
    return np.abs(X) * lengths[:, None]


def _cos(X, C):
    return normalize(X) @ normalize(C).T


# -- 1. against KMeans on the unit sphere ---------------------------------------------------
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_matches_kmeans_on_unit_sphere_from_same_init(directions, sparse):
    U = normalize(directions)
    init = U[[0, 1, 2, 3, 4]]
    conv = sp.csr_matrix if sparse else np.asarray
    km = KMeans(5, init=init, n_init=1).fit(conv(U))
    sph = SphericalKMeans(5, init=init).fit(conv(U))
    np.testing.assert_array_equal(sph.labels_, km.labels_)
    np.testing.assert_allclose(sph.cluster_centers_, normalize(km.cluster_centers_), atol=1e-12)
    assert sph.inertia_ == pytest.approx((1 - (U * sph.cluster_centers_[sph.labels_]).sum(1)).sum())
    # A cluster of n unit rows with mean of norm r: SSE = n (1 - r^2), sum(1 - cos) = n (1 - r).
    assert km.inertia_ / 2 <= sph.inertia_ <= km.inertia_


def test_only_directions_matter(directions):
    a = SphericalKMeans(5, random_state=0).fit(directions)
    b = SphericalKMeans(5, random_state=0).fit(normalize(directions))
    np.testing.assert_array_equal(a.labels_, b.labels_)
    np.testing.assert_allclose(a.cluster_centers_, b.cluster_centers_, atol=1e-12)


# -- 2. outputs ---------------------------------------------------------------------------
def test_centres_are_unit_and_inertia_is_cosine_distance(directions):
    w = np.random.RandomState(1).uniform(0.2, 2, len(directions))
    m = SphericalKMeans(5, random_state=0).fit(directions, sample_weight=w)
    np.testing.assert_allclose(np.linalg.norm(m.cluster_centers_, axis=1), 1, rtol=1e-12)
    cos = _cos(directions, m.cluster_centers_)
    np.testing.assert_array_equal(m.labels_, cos.argmax(axis=1))
    assert m.inertia_ == pytest.approx((w * (1 - cos.max(axis=1))).sum(), rel=1e-9)
    np.testing.assert_allclose(m.transform(directions), 1 - cos, atol=1e-12)
    assert m.score(directions, sample_weight=w) == pytest.approx(-m.inertia_, rel=1e-9)
    assert np.all(np.diff(m.history_) <= 1e-12)


def test_centre_is_direction_of_weighted_sum(directions):
    m = SphericalKMeans(5, random_state=0).fit(directions)
    U = normalize(directions)
    for k in range(5):
        s = U[m.labels_ == k].sum(axis=0)
        np.testing.assert_allclose(m.cluster_centers_[k], s / np.linalg.norm(s), atol=1e-12)


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_float32_is_kept(directions, sparse):
    X = directions.astype(np.float32)
    m = SphericalKMeans(5, random_state=0).fit(sp.csr_matrix(X) if sparse else X)
    assert m.cluster_centers_.dtype == np.float32
    assert m.transform(X).dtype == np.float32
    ref = SphericalKMeans(5, random_state=0).fit(directions)
    np.testing.assert_allclose(m.cluster_centers_, ref.cluster_centers_, atol=1e-5)


def test_dense_and_csr_agree():
    rng = np.random.RandomState(0)
    X = rng.uniform(size=(300, 20))
    X[X < 0.7] = 0
    X[:, 0] += 0.1  # no zero rows
    a = SphericalKMeans(4, random_state=0).fit(X)
    b = SphericalKMeans(4, random_state=0).fit(sp.csr_matrix(X))
    np.testing.assert_allclose(a.cluster_centers_, b.cluster_centers_, atol=1e-12)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    np.testing.assert_allclose(a.transform(X), b.transform(sp.csr_matrix(X)), atol=1e-12)


# -- 3. errors and edge cases ---------------------------------------------------------------
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_zero_rows_are_a_clear_error(directions, sparse):
    X = directions.copy()
    X[7] = 0
    conv = sp.csr_matrix if sparse else np.asarray
    with pytest.raises(ValueError, match=r"X has 1 all-zero row.*row 7.*cosine"):
        SphericalKMeans(3).fit(conv(X))
    m = SphericalKMeans(3, random_state=0).fit(conv(directions))
    with pytest.raises(ValueError, match="X has 1 all-zero row"):
        m.predict(conv(X))
    with pytest.raises(ValueError, match="X has 1 all-zero row"):
        m.transform(conv(X))


def test_zero_init_row_is_a_clear_error(directions):
    init = normalize(directions[:3])
    init[1] = 0
    with pytest.raises(ValueError, match="init has 1 all-zero row"):
        SphericalKMeans(3, init=init).fit(directions)


def test_init_array_is_normalised(directions):
    init = directions[[0, 1, 2, 3, 4]] * 7
    m = SphericalKMeans(5, init=init, max_iter=1).fit(directions)
    assert m.history_[0] == pytest.approx(
        (1 - _cos(directions, init).max(axis=1)).sum(), rel=1e-9)


def test_antipodal_cluster_and_empty_clusters_stay_finite():
    X = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = SphericalKMeans(3, init=np.array([[0.0, -1.0], [0.0, 1.0], [0.0, -1.0]])).fit(X)
    assert np.all(np.isfinite(m.cluster_centers_))
    np.testing.assert_allclose(np.linalg.norm(m.cluster_centers_, axis=1), 1)


def test_same_seed_same_result(directions):
    a = SphericalKMeans(5, init="random", n_init=3, random_state=4).fit(directions)
    b = SphericalKMeans(5, init="random", n_init=3, random_state=4).fit(directions)
    np.testing.assert_array_equal(a.cluster_centers_, b.cluster_centers_)


def _expected_failed_checks(estimator):
    zero_rows = ("the check's data has all-zero rows (integer-cast uniforms / sparse data with "
                 "most entries zeroed), on which cosine similarity is undefined: "
                 "SphericalKMeans rejects them with a ValueError by design; "
                 "test_zero_rows_are_a_clear_error and test_dense_and_csr_agree cover it")
    weights = ("sample_weight is not equivalent to removing/repeating samples: the seeding "
               "draws other rows from the weighted and the repeated data (as for "
               "scikit-learn's KMeans)")
    return {"check_estimators_dtypes": zero_rows, "check_estimator_sparse_tag": zero_rows,
            "check_estimator_sparse_array": zero_rows, "check_estimator_sparse_matrix": zero_rows,
            "check_sample_weight_equivalence_on_dense_data": weights,
            "check_sample_weight_equivalence_on_sparse_data": weights}


@parametrize_with_checks([SphericalKMeans(n_init=2, max_iter=5)],
                         expected_failed_checks=_expected_failed_checks)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)
