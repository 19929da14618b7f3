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
def test_zero_rows_have_a_defined_place(directions, sparse):
    """All-zero rows: similarity 0 to every centre, so label 0, distance 1, inertia 1 each."""
    conv = sp.csr_matrix if sparse else np.asarray
    zero = np.array([7, 8, 100, 799])
    X = directions.copy()
    X[zero] = 0
    rest = np.setdiff1d(np.arange(len(X)), zero)
    init = normalize(directions[[0, 200, 400, 600, 750]])
    w = np.random.RandomState(2).uniform(0.5, 2, len(X))
    with pytest.warns(UserWarning, match=r"X has 4 all-zero row\(s\) of 800 \(the first is row 7\)"):
        m = SphericalKMeans(5, init=init).fit(conv(X), sample_weight=w)
    ref = SphericalKMeans(5, init=init).fit(conv(X[rest]), sample_weight=w[rest])
    np.testing.assert_array_equal(m.labels_[zero], 0)
    np.testing.assert_array_equal(m.labels_[rest], ref.labels_)
    np.testing.assert_allclose(m.cluster_centers_, ref.cluster_centers_, rtol=0, atol=1e-15)
    assert m.n_iter_ == ref.n_iter_
    assert m.inertia_ == pytest.approx(ref.inertia_ + w[zero].sum(), rel=1e-12)
    np.testing.assert_allclose(m.history_, ref.history_ + w[zero].sum(), rtol=1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # one warning, in fit only
        np.testing.assert_array_equal(m.predict(conv(X)), m.labels_)
        D = m.transform(conv(X))
        assert m.score(conv(X), sample_weight=w) == pytest.approx(-m.inertia_, rel=1e-12)
    np.testing.assert_array_equal(D[zero], 1.0)
    np.testing.assert_allclose(D[rest], 1 - _cos(X[rest], m.cluster_centers_), atol=1e-12)
    np.testing.assert_array_equal(D.argmin(axis=1), m.labels_)
    with pytest.warns(UserWarning, match="all-zero") as record:
        labels = SphericalKMeans(5, init=init).fit_predict(conv(X), sample_weight=w)
    np.testing.assert_array_equal(labels, m.labels_)
    assert len(record) == 1


def test_zero_rows_move_no_centre_whatever_their_weight(directions):
    X = directions.copy()
    X[::10] = 0
    init = normalize(directions[[1, 201, 401, 601, 751]])
    heavy = np.where(np.arange(len(X)) % 10 == 0, 1e6, 1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = SphericalKMeans(5, init=init).fit(X)
        b = SphericalKMeans(5, init=init).fit(X, sample_weight=heavy)
        seeded = SphericalKMeans(5, init="random", n_init=3, random_state=0).fit(X)
    np.testing.assert_array_equal(a.cluster_centers_, b.cluster_centers_)
    assert b.inertia_ - a.inertia_ == pytest.approx((1e6 - 1) * 80, rel=1e-12)
    # never drawn as a centre: every seeded centre has a direction
    np.testing.assert_allclose(np.linalg.norm(seeded.cluster_centers_, axis=1), 1, rtol=1e-12)


def _tfidf_with_empty_documents(n_docs=200, seed=8):
    """A real TF-IDF matrix: generated documents on four topics, about a third of them empty."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    rng = np.random.RandomState(seed)
    vocab = np.array([f"word{i}" for i in range(400)])
    docs = ["" if rng.rand() < 0.33 else
            " ".join(rng.choice(vocab[100 * t:100 * t + 120], rng.randint(3, 30)))
            for t in rng.randint(0, 4, n_docs)]
    return TfidfVectorizer().fit_transform(docs)


def test_tfidf_with_empty_documents_fits_as_without_them():
    X = _tfidf_with_empty_documents()
    empty = np.flatnonzero(np.diff(X.indptr) == 0)
    assert sp.isspmatrix_csr(X) and len(empty) == 65
    rest = np.setdiff1d(np.arange(X.shape[0]), empty)
    init = X[rest[[0, 1, 2, 3]]].toarray()
    with pytest.warns(UserWarning, match="X has 65 all-zero row") as record:
        m = SphericalKMeans(4, init=init).fit(X)
    assert len([r for r in record if "all-zero" in str(r.message)]) == 1
    ref = SphericalKMeans(4, init=init).fit(X[rest])
    np.testing.assert_array_equal(m.labels_[rest], ref.labels_)
    np.testing.assert_array_equal(m.labels_[empty], 0)
    np.testing.assert_allclose(m.cluster_centers_, ref.cluster_centers_, rtol=0, atol=1e-15)
    assert m.n_iter_ == ref.n_iter_
    assert m.inertia_ == pytest.approx(ref.inertia_ + 65, rel=1e-12)
    np.testing.assert_array_equal(m.predict(X), m.labels_)
    np.testing.assert_array_equal(m.transform(X)[empty], 1.0)
    assert m.score(X) == pytest.approx(-m.inertia_, rel=1e-12)


def test_only_zero_rows_is_a_clear_error(directions):
    X = np.zeros((10, 3))
    with pytest.raises(ValueError, match=r"10 all-zero row\(s\) of 10.*fewer than n_clusters=2"):
        SphericalKMeans(2).fit(X)
    X[0] = 1
    with pytest.raises(ValueError, match=r"the 1 other row\(s\) are fewer than n_clusters=2"):
        SphericalKMeans(2).fit(sp.csr_matrix(X))


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_transform_of_the_centres_is_exactly_zero_on_the_diagonal(directions, sparse, dtype):
    m = SphericalKMeans(5, random_state=0).fit(directions.astype(dtype))
    C = m.cluster_centers_
    D = m.transform(sp.csr_matrix(C) if sparse else C)
    assert D.dtype == dtype
    np.testing.assert_array_equal(np.diag(D), 0)
    np.testing.assert_array_equal(np.diag(m.transform(4 * C)), 0)  # (same direction, exactly)
    np.testing.assert_allclose(D, 1 - _cos(C.astype(np.float64), C.astype(np.float64)), atol=1e-6)


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
    weights = ("sample_weight is not equivalent to removing/repeating samples: the seeding "
               "draws other rows from the weighted and the repeated data (as for "
               "scikit-learn's KMeans)")
    return {"check_sample_weight_equivalence_on_dense_data": weights,
            "check_sample_weight_equivalence_on_sparse_data": weights}


@parametrize_with_checks([SphericalKMeans(n_init=2, max_iter=5)],
                         expected_failed_checks=_expected_failed_checks)
def test_sklearn_estimator_checks(estimator, check):
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "X has .* all-zero row", UserWarning)  # (their data)
        check(estimator)
