"""Seeding: greedy k-means++, random rows, uniform in the bounding box."""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.cluster import kmeans_plusplus as sk_kmeans_plusplus
from sklearn.datasets import make_blobs

from kmeanslab.cluster import kmeans_plusplus
from kmeanslab.cluster._engine import Data
from kmeanslab.cluster._seeding import init_centers as _init_centers
from kmeanslab.cluster.backends import LocalBackend

DTYPES = [np.float32, np.float64]


def _container(X, sparse):
    return sp.csr_matrix(X) if sparse else X


def _data(X, w=None):
    X = sp.csr_matrix(X) if sp.issparse(X) else np.ascontiguousarray(X)
    return Data(X, np.ones(X.shape[0], X.dtype) if w is None else np.asarray(w, X.dtype))


def init_centers(data, *args):
    return _init_centers(LocalBackend(data), *args)


def _potential(X, C):
    """Sum over rows of the squared distance to the nearest of C (float64, brute force)."""
    X = np.asarray(X, dtype=np.float64)
    C = np.asarray(C, dtype=np.float64)
    return float(((X[:, None, :] - C[None]) ** 2).sum(2).min(1).sum())


@pytest.fixture(scope="module")
def blobs():
    X, y = make_blobs(n_samples=1000, n_features=10, centers=10, random_state=0)
    return X, y


@pytest.fixture(scope="module")
def far_blobs():
    """10 tight blobs, centres 100 apart on a simplex-like layout."""
    rng = np.random.RandomState(0)
    means = np.eye(10) * 100
    y = np.repeat(np.arange(10), 50)
    X = means[y] + rng.normal(scale=0.1, size=(500, 10))
    perm = rng.permutation(500)
    return X[perm], y[perm]


# -- kmeans_plusplus --------------------------------------------------------------------
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("K", [1, 2, 10, 40])
def test_returns_rows_of_X(blobs, dtype, sparse, K):
    Xd = blobs[0].astype(dtype)
    centers, indices = kmeans_plusplus(_container(Xd, sparse), K, random_state=0)
    assert centers.shape == (K, Xd.shape[1]) and centers.dtype == dtype
    assert indices.shape == (K,) and np.issubdtype(indices.dtype, np.integer)
    assert np.all((indices >= 0) & (indices < len(Xd)))
    assert len(np.unique(indices)) == K  # distinct data: never the same row twice
    np.testing.assert_array_equal(centers, Xd[indices])


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_deterministic_per_seed(blobs, sparse):
    X = _container(blobs[0], sparse)
    a = kmeans_plusplus(X, 10, random_state=3)
    b = kmeans_plusplus(X, 10, random_state=3)
    np.testing.assert_array_equal(a[1], b[1])
    np.testing.assert_array_equal(a[0], b[0])
    c = kmeans_plusplus(X, 10, random_state=np.random.RandomState(3))
    np.testing.assert_array_equal(a[1], c[1])
    others = [kmeans_plusplus(X, 10, random_state=s)[1] for s in range(4, 8)]
    assert any(not np.array_equal(a[1], o) for o in others)


def _exact_triples(X, w):
    """P(first three centres = (a, b, c)) under plain k-means++ (one candidate a step)."""
    d2 = ((X[:, None, :] - X[None]) ** 2).sum(-1)
    probs = {}
    for a in range(len(X)):
        m1 = w * d2[a]
        for b in np.flatnonzero(m1 > 0):
            m2 = w * np.minimum(d2[a], d2[b])
            for c in np.flatnonzero(m2 > 0):
                probs[(a, b, c)] = w[a] / w.sum() * m1[b] / m1.sum() * m2[c] / m2.sum()
    return probs


@pytest.mark.parametrize("pool", [1, 64], ids=["pool1", "pool64"])
def test_draws_follow_the_kmeanspp_distribution(monkeypatch, pool):
    """Pooled candidates accepted with probability D^2 / D^2-when-drawn are exact k-means++ draws.

    Six weighted points, three centres, one candidate a step: the frequencies of the
    ordered triples over 3000 seeds against their exact probabilities (chi-square),
    with the whole pool in one pass and with a pool of one candidate per pass.
    """
    from scipy.stats import chi2

    from kmeanslab.cluster import _seeding

    monkeypatch.setattr(_seeding, "POOL_MAX", pool)
    X = np.array([[0, 0], [1, 0], [0, 2], [3, 3], [3, 4], [-2, 1]], dtype=np.float64)
    w = np.array([1, 2, 1, 0.5, 1, 3])
    probs = _exact_triples(X, w)
    counts = {}
    n_seeds = 3000
    for seed in range(n_seeds):
        key = tuple(kmeans_plusplus(X, 3, sample_weight=w, random_state=seed, n_local_trials=1)[1])
        assert key in probs, key  # never a zero-probability triple (e.g. a repeated row)
        counts[key] = counts.get(key, 0) + 1
    expected = np.array([p * n_seeds for p in probs.values()])
    observed = np.array([counts.get(k, 0) for k in probs])
    big = expected >= 5
    stat = (((observed - expected) ** 2 / expected)[big]).sum()
    stat += (observed[~big].sum() - expected[~big].sum()) ** 2 / max(expected[~big].sum(), 1e-9)
    dof = int(big.sum())
    assert stat < chi2.ppf(1 - 1e-4, dof), (stat, dof)


@pytest.mark.parametrize("dtype", DTYPES)
def test_unpooled_draws_as_sklearn(blobs, dtype):
    """pooled=False (MiniBatchKMeans's seeding): the same rows as scikit-learn for a seed."""
    from kmeanslab.cluster._seeding import _kmeans_plusplus

    X = blobs[0].astype(dtype)
    w = np.random.RandomState(1).uniform(0.2, 2, size=len(X))
    for seed in range(10):
        ours = _kmeans_plusplus(_data(X), 10, np.random.RandomState(seed), pooled=False)[1]
        np.testing.assert_array_equal(ours, sk_kmeans_plusplus(X, 10, random_state=seed)[1])
        ours = _kmeans_plusplus(_data(X, w), 10, np.random.RandomState(seed), pooled=False)[1]
        ref = sk_kmeans_plusplus(X, 10, random_state=seed, sample_weight=w)[1]
        np.testing.assert_array_equal(ours, ref)


@pytest.mark.parametrize("dtype", DTYPES)
def test_seeding_quality_matches_sklearn(dtype):
    """Same distribution as scikit-learn's greedy k-means++: the mean seed potential agrees."""
    X, _ = make_blobs(n_samples=2000, n_features=8, centers=30, cluster_std=2.0, random_state=1)
    X = X.astype(dtype)
    ours = [_potential(X, kmeans_plusplus(X, 20, random_state=s)[0]) for s in range(40)]
    ref = [_potential(X, sk_kmeans_plusplus(X, 20, random_state=s)[0]) for s in range(40)]
    assert abs(np.mean(ours) / np.mean(ref) - 1) < 0.05, (np.mean(ours), np.mean(ref))


@pytest.mark.parametrize("dtype", DTYPES)
def test_sparse_gives_dense_indices(blobs, dtype):
    Xd = blobs[0].astype(dtype)
    Xd[np.abs(Xd) < 2] = 0  # a genuinely sparse matrix
    Xs = sp.csr_matrix(Xd)
    assert Xs.nnz < 0.8 * Xd.size
    for seed in range(10):
        dense = kmeans_plusplus(Xd, 12, random_state=seed)
        sparse = kmeans_plusplus(Xs, 12, random_state=seed)
        np.testing.assert_array_equal(dense[1], sparse[1])
        np.testing.assert_array_equal(dense[0], sparse[0])


def test_single_centre(blobs):
    X = blobs[0]
    centers, indices = kmeans_plusplus(X, 1, random_state=0)
    assert centers.shape == (1, X.shape[1]) and indices.shape == (1,)
    np.testing.assert_array_equal(centers[0], X[indices[0]])
    one_row = X[:1]
    centers, indices = kmeans_plusplus(one_row, 1, random_state=0)
    np.testing.assert_array_equal(indices, [0])


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_one_centre_per_well_separated_blob(far_blobs, sparse):
    X, y = far_blobs
    for seed in range(5):
        _, indices = kmeans_plusplus(_container(X, sparse), 10, random_state=seed)
        assert sorted(y[indices]) == list(range(10)), seed


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_zero_weight_rows_are_never_picked(blobs, sparse):
    X = _container(blobs[0], sparse)
    rng = np.random.RandomState(0)
    for seed in range(10):
        w = rng.uniform(0.5, 2, size=X.shape[0])
        w[rng.rand(len(w)) < 0.5] = 0
        w[-5:] = 0  # the end of the cumulative sum too
        _, indices = kmeans_plusplus(X, 30, sample_weight=w, random_state=seed)
        assert np.all(w[indices] > 0), seed


def test_only_few_positive_weights(blobs):
    """More centres than rows of positive weight: the rest repeat those rows, no NaN."""
    X = blobs[0][:50]
    w = np.zeros(50)
    w[[3, 17, 40]] = 1
    centers, indices = kmeans_plusplus(X, 6, sample_weight=w, random_state=0)
    assert set(indices[:3]) == {3, 17, 40}
    assert np.all(w[indices] > 0)
    assert np.all(np.isfinite(centers))


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_duplicates_fewer_distinct_points_than_centres(dtype, sparse):
    rng = np.random.RandomState(0)
    distinct = rng.rand(4, 5).astype(dtype)
    X = np.repeat(distinct, 25, axis=0)[rng.permutation(100)]
    for seed in range(5):
        centers, indices = kmeans_plusplus(_container(X, sparse), 9, random_state=seed)
        assert np.all(np.isfinite(centers))
        assert np.all((indices >= 0) & (indices < 100))
        np.testing.assert_array_equal(centers, X[indices])
        # every distinct point is a centre before any repeats
        assert len(np.unique(centers[:4], axis=0)) == 4


def test_kmeans_plusplus_validation(blobs):
    X = blobs[0]
    with pytest.raises(ValueError, match="n_clusters"):
        kmeans_plusplus(X, 0)
    with pytest.raises(ValueError, match="n_clusters"):
        kmeans_plusplus(X[:5], 6)
    with pytest.raises(TypeError, match="n_clusters"):
        kmeans_plusplus(X, 2.0)
    with pytest.raises(ValueError, match="n_local_trials"):
        kmeans_plusplus(X, 3, n_local_trials=0)
    with pytest.raises(ValueError, match="sample_weight"):
        kmeans_plusplus(X, 3, sample_weight=np.ones(3))
    with pytest.raises(ValueError, match="sample_weight"):
        kmeans_plusplus(X, 3, sample_weight=-np.ones(len(X)))


def test_x_squared_norms_and_n_local_trials_are_used(blobs):
    X = blobs[0]
    norms = (X ** 2).sum(1)
    a = kmeans_plusplus(X, 10, random_state=0)[1]
    b = kmeans_plusplus(X, 10, random_state=0, x_squared_norms=norms)[1]
    np.testing.assert_array_equal(a, b)
    seeds = range(20)
    one = [kmeans_plusplus(X, 10, random_state=s, n_local_trials=1) for s in seeds]
    many = [kmeans_plusplus(X, 10, random_state=s) for s in seeds]
    assert any(not np.array_equal(o[1], m[1]) for o, m in zip(one, many))
    # the greedy choice among 2 + log K candidates lowers the potential on average
    assert np.mean([_potential(X, m[0]) for m in many]) < np.mean([_potential(X, o[0]) for o in one])


def test_kmeans_plusplus_potential_beats_random(blobs):
    X, _ = blobs
    data = _data(X)
    pp, rnd = [], []
    for seed in range(20):
        pp.append(_potential(X, kmeans_plusplus(X, 10, random_state=seed)[0]))
        rnd.append(_potential(X, init_centers(data, 10, "random", np.random.RandomState(seed))))
    assert np.mean(pp) < 0.5 * np.mean(rnd), (np.mean(pp), np.mean(rnd))
    assert np.median(pp) < np.median(rnd)


# -- init_centers: the named inits ------------------------------------------------------
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_random_uniform_within_bounding_box(blobs, dtype, sparse):
    Xd = blobs[0].astype(dtype)
    Xd[:, 0] = np.abs(Xd[:, 0]) + 5  # a column far from 0
    Xd[::2, 1] = 0  # a column with many (in CSR: implicit) zeros
    X = _container(Xd, sparse)
    lo, hi = Xd.min(0), Xd.max(0)
    for seed in range(5):
        C = init_centers(_data(X), 50, "random-uniform", np.random.RandomState(seed))
        assert C.shape == (50, Xd.shape[1]) and C.dtype == dtype
        assert np.all(C >= lo) and np.all(C <= hi)
        # spread over the box, not stuck in a corner
        assert np.all(C.max(0) - C.min(0) > 0.5 * (hi - lo))
    a = init_centers(_data(X), 5, "random-uniform", np.random.RandomState(1))
    b = init_centers(_data(X), 5, "random-uniform", np.random.RandomState(1))
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_random_picks_distinct_rows(blobs, sparse):
    Xd = blobs[0]
    X = _container(Xd, sparse)
    for seed in range(5):
        C = init_centers(_data(X), 20, "random", np.random.RandomState(seed))
        rows = [np.flatnonzero(np.all(Xd == c, axis=1)) for c in C]
        assert all(len(r) == 1 for r in rows)
        assert len({int(r[0]) for r in rows}) == 20


def test_random_respects_sample_weight(blobs):
    X = blobs[0]
    w = np.zeros(len(X))
    w[:30] = 1
    C = init_centers(_data(X, w), 10, "random", np.random.RandomState(0))
    assert all(np.any(np.all(X[:30] == c, axis=1)) for c in C)
    # fewer positive rows than centres: repeats allowed, still only positive rows
    C = init_centers(_data(X, w), 40, "random", np.random.RandomState(0))
    assert all(np.any(np.all(X[:30] == c, axis=1)) for c in C)


@pytest.mark.parametrize("name", ["k-means++", "random", "random-uniform"])
def test_init_centers_dtype_and_contiguity(blobs, name):
    X = blobs[0].astype(np.float32)
    C = init_centers(_data(X), 7, name, np.random.RandomState(0))
    assert C.dtype == np.float32 and C.flags.c_contiguous and C.shape == (7, X.shape[1])
    assert np.all(np.isfinite(C))


def test_messy_csr_gives_dense_indices():
    rng = np.random.RandomState(0)
    n, d, per_row = 300, 8, 10
    X = sp.csr_matrix((rng.rand(n * per_row), rng.randint(0, d, n * per_row),
                       np.arange(0, n * per_row + 1, per_row)), shape=(n, d))
    assert not X.has_canonical_format
    Xd = X.toarray()
    for seed in range(5):
        dense = kmeans_plusplus(Xd, 10, random_state=seed)
        sparse = kmeans_plusplus(X, 10, random_state=seed)
        np.testing.assert_array_equal(dense[1], sparse[1])
        np.testing.assert_array_equal(dense[0], sparse[0])


def test_bad_x_squared_norms_is_rejected(blobs):
    X = blobs[0]
    with pytest.raises(ValueError, match="x_squared_norms"):
        kmeans_plusplus(X, 3, x_squared_norms=np.ones(len(X) - 1))
    with pytest.raises(ValueError, match="x_squared_norms"):
        kmeans_plusplus(X, 3, x_squared_norms=np.ones((len(X), 2)))
