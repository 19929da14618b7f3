"""The engine's algorithms (Lloyd, Hamerly, Elkan) agree with each other; k-means|| seeding."""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import make_blobs
from threadpoolctl import threadpool_limits

from kmeanslab import KMeans
from kmeanslab.cluster import _engine, _lloyd, _seeding
from kmeanslab.cluster._seeding import init_centers
from kmeanslab.cluster.backends import LocalBackend

ALGORITHMS = ("hamerly", "elkan", "auto")


def blobs(n, d, centers, dtype, seed=0, std=2.0):
    X, _ = make_blobs(n, d, centers=centers, cluster_std=std, random_state=seed)
    return X.astype(dtype)


def fit(X, init, algorithm, **kw):
    return KMeans(init.shape[0], init=init, n_init=1, algorithm=algorithm, **kw).fit(X)


def assert_same_fit(a, b, dtype):
    np.testing.assert_array_equal(a.labels_, b.labels_)
    assert a.n_iter_ == b.n_iter_
    rtol = 1e-5 if dtype == np.float32 else 1e-10
    assert a.inertia_ == pytest.approx(b.inertia_, rel=rtol)
    scale = np.abs(b.cluster_centers_).max()
    np.testing.assert_allclose(a.cluster_centers_, b.cluster_centers_, rtol=0, atol=rtol * 10 * scale)
    np.testing.assert_allclose(a.history_, b.history_, rtol=rtol * 10)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("k", [1, 2, 7, 15, 16, 23, 64, 300])
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_bounds_algorithms_match_lloyd(dtype, k, algorithm):
    X = blobs(max(1500, 6 * k), 12, 15, dtype, std=3.0)
    init = X[np.random.RandomState(k).choice(len(X), k, replace=False)].copy()
    assert_same_fit(fit(X, init, algorithm), fit(X, init, "lloyd"), dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_sparse_input_same_answer(dtype, algorithm):
    X = blobs(1200, 20, 6, dtype)
    X[np.abs(X) < 4] = 0
    init = X[:9].copy()
    a = fit(sp.csr_matrix(X), init, algorithm)
    assert_same_fit(a, fit(X, init, "lloyd"), dtype)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_duplicates_and_more_clusters_than_distinct_points(algorithm):
    base = blobs(40, 5, 4, np.float64, seed=3)
    X = np.repeat(base, 25, axis=0)  # every point 25 times
    init = X[::40][:30].copy()
    with pytest.warns(Warning):
        b = fit(np.repeat(base[:12], 3, axis=0), np.repeat(base[:12], 3, axis=0)[:20].copy(), algorithm)
    assert np.isfinite(b.cluster_centers_).all()
    assert_same_fit(fit(X, init, algorithm), fit(X, init, "lloyd"), np.float64)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_empty_clusters_relocated_like_lloyd(algorithm, weighted):
    X = blobs(2000, 8, 5, np.float64)
    # Fractional weights: a cluster that empties must weigh exactly 0, not a rounding residue.
    w = np.random.RandomState(0).uniform(0.5, 2, len(X)) if weighted else None
    init = X[:12].copy()
    init[[3, 7]] += 1e3  # two centres far from every point: empty after the first step
    a = KMeans(12, init=init, algorithm=algorithm).fit(X, sample_weight=w)
    b = KMeans(12, init=init, algorithm="lloyd").fit(X, sample_weight=w)
    assert np.isfinite(a.cluster_centers_).all()
    assert_same_fit(a, b, np.float64)
    assert len(np.unique(a.labels_)) == 12


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_weighted_fit_matches_lloyd(algorithm):
    X = blobs(3000, 10, 8, np.float32)
    w = np.random.RandomState(1).uniform(0.1, 3, len(X))
    init = X[:30].copy()
    a = KMeans(30, init=init, algorithm=algorithm).fit(X, sample_weight=w)
    b = KMeans(30, init=init, algorithm="lloyd").fit(X, sample_weight=w)
    assert_same_fit(a, b, np.float32)


@pytest.mark.parametrize("algorithm", ALGORITHMS + ("lloyd",))
def test_objective_never_rises(algorithm):
    rs = np.random.RandomState(0)
    for seed in range(8):
        X = rs.standard_normal((800, 6)).astype(np.float32)
        km = KMeans(1 + 5 * seed, init="random", n_init=1, random_state=seed, algorithm=algorithm,
                    tol=0).fit(X)
        h = km.history_
        assert np.all(h[1:] <= h[:-1] * (1 + 1e-6)), (seed, h)
        assert km.inertia_ <= h[-1] * (1 + 1e-6)


def near_ties(n=3000, d=40, k=12, seed=0):
    """float32 rows, a fifth on the bisector of two centres: which is nearer is decided by
    the rounding of the row to float32, a gap below the rounding of a float32 dot product."""
    rng = np.random.RandomState(seed)
    C = (3 * rng.normal(size=(k, d))).astype(np.float32)
    a = rng.randint(k, size=n)
    b = (a + 1 + rng.randint(k - 1, size=n)) % k
    along = (C[b] - C[a]).astype(np.float64)
    off = rng.normal(size=(n, d))
    off -= along * ((off * along).sum(1) / (along * along).sum(1))[:, None]
    ties = (C[a] + C[b]) / 2 + 0.5 * off
    plain = C[rng.randint(k, size=4 * n)] + 0.5 * rng.normal(size=(4 * n, d))  # far from ties
    X = np.concatenate([ties, plain]).astype(np.float32)
    exact = ((X[:, None].astype(np.float64) - C[None]) ** 2).sum(-1).argmin(1)
    return X, C, exact


def test_near_ties_go_to_the_exactly_nearest_centre():
    """Every kernel breaks near-ties by exact float64 distances, so all of them (and Lloyd
    whichever way its products were summed) give the same labels."""
    X, C, exact = near_ties()
    keys = (C * C).sum(1) - 2 * (X @ C.T)  # float32 products: wrong on many near-ties
    assert (keys.argmin(1) != exact).sum() > 50
    data = _engine.Data(X, np.ones(len(X), np.float32))
    np.testing.assert_array_equal(_engine.assign(data, C)[0], exact)
    sparse = _engine.Data(sp.csr_matrix(X), np.ones(len(X), np.float32))
    np.testing.assert_array_equal(_engine.assign(sparse, C)[0], exact)
    moved = C + np.float32(0.05) * np.random.RandomState(1).normal(size=C.shape).astype(np.float32)
    for kind in ("hamerly", "elkan"):
        step = _lloyd.BoundsStep(data, len(C), kind)
        np.testing.assert_array_equal(step.step(C).labels, exact)  # a full pass
        step.step(moved)
        labels = step.step(C).labels  # bounds, then the rows they cannot settle
        assert step.scanned > 0
        np.testing.assert_array_equal(labels, exact)


@pytest.mark.parametrize("kind", ["hamerly", "elkan"])
def test_bounds_objective_is_the_sse_of_its_labels(kind):
    X = blobs(1000, 6, 4, np.float64)
    data = _engine.Data(X, np.ones(len(X)))
    step = _lloyd.BoundsStep(data, 6, kind)
    centers = X[:6].copy()
    for _ in range(4):
        stats = step.step(centers)
        exact = _engine.exact_sse(data, centers, stats.labels)
        assert stats.sse == pytest.approx(exact, rel=1e-9)
        np.testing.assert_array_equal(stats.labels, _engine.assign(data, centers)[0])
        centers = (stats.sums / np.maximum(stats.weights, 1e-300)[:, None]).astype(X.dtype)


@pytest.mark.parametrize("algorithm", ["hamerly", "elkan", "lloyd"])
@pytest.mark.parametrize("k", [5, 40])
def test_bit_identical_across_thread_counts(algorithm, k):
    X = blobs(6000, 16, 10, np.float32, std=4.0)
    with threadpool_limits(limits=1, user_api="openmp"):
        a = KMeans(k, random_state=0, algorithm=algorithm, init="k-means||").fit(X)
    with threadpool_limits(limits=2, user_api="openmp"):
        b = KMeans(k, random_state=0, algorithm=algorithm, init="k-means||").fit(X)
    np.testing.assert_array_equal(a.cluster_centers_, b.cluster_centers_)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    assert a.inertia_ == b.inertia_


def test_choose_algorithm(monkeypatch):
    dense = _engine.Data(np.zeros((100, 4)), np.ones(100))
    sparse = _engine.Data(sp.csr_matrix(np.eye(100, 4)), np.ones(100))
    assert _lloyd.choose_algorithm("auto", dense, 10) == "hamerly"
    assert _lloyd.choose_algorithm("auto", dense, 100) == "elkan"
    assert _lloyd.choose_algorithm("elkan", sparse, 100) == "lloyd"
    assert _lloyd.choose_algorithm("auto", dense, 1) == "lloyd"
    monkeypatch.setattr(_lloyd, "ELKAN_MAX_BYTES", 100 * 256 * 8 - 1)  # n x K float64 bounds over budget
    assert _lloyd.choose_algorithm("elkan", dense, 256) == "hamerly"


def test_auto_stays_hamerly_longer_on_mostly_zero_rows():
    """Rows read from X's copy of their non-zeros make Hamerly's scans cheap: "auto" keeps
    it up to AUTO_ELKAN_MIN_K_NONZEROS centres there, and not on full rows."""
    rng = np.random.RandomState(0)
    full = rng.uniform(1, 2, size=(200, 40))
    mostly_zero = np.where(rng.uniform(size=full.shape) < 0.9, 0.0, full)
    k = _lloyd.AUTO_ELKAN_MIN_K
    assert _lloyd.AUTO_ELKAN_MIN_K < _lloyd.AUTO_ELKAN_MIN_K_NONZEROS
    for X, below in ((full, "elkan"), (mostly_zero, "hamerly")):
        data = _engine.Data(X, np.ones(len(X)))
        assert (data.nonzeros is not None) == (below == "hamerly")
        assert _lloyd.choose_algorithm("auto", data, k - 1) == "hamerly"
        assert _lloyd.choose_algorithm("auto", data, k) == below
        assert _lloyd.choose_algorithm("auto", data, _lloyd.AUTO_ELKAN_MIN_K_NONZEROS) == "elkan"



def byte_level_mostly_zero(n=600, d=64, seed=0):
    """Rows on MNIST's grid (bytes / 255), four in five values zero."""
    rng = np.random.RandomState(seed)
    Q = rng.randint(1, 256, size=(n, d)) * (rng.uniform(size=(n, d)) < 0.2)
    return (Q / 255).astype(np.float32)


def test_seeding_reads_the_copy_of_nonzeros_to_the_same_draws():
    """A KMeans fit makes X's copy of non-zeros before k-means++; the candidates' distances
    through it are the same bits as without it, so the same seed draws the same rows."""
    X = byte_level_mostly_zero()
    plain, copied = (_engine.Data(X, np.ones(len(X), X.dtype)) for _ in range(2))
    assert copied.nonzeros is not None and plain.built_nonzeros() is None
    for k in (5, 40):
        a = _seeding._kmeans_plusplus(plain, k, np.random.RandomState(k))[1]
        b = _seeding._kmeans_plusplus(copied, k, np.random.RandomState(k))[1]
        np.testing.assert_array_equal(a, b)
    rows = _seeding._kmeans_plusplus(plain, 5, np.random.RandomState(5))[1]
    fitted = KMeans(5, n_init=1, random_state=5, algorithm="hamerly").fit(X)
    from_rows = KMeans(5, n_init=1, init=X[rows], algorithm="hamerly").fit(X)
    np.testing.assert_array_equal(fitted.cluster_centers_, from_rows.cluster_centers_)


def test_elkan_keeps_the_copy_of_nonzeros_only_while_memory_allows(monkeypatch):
    """Beside its byte copy and n x K bounds, Elkan keeps X's copy of non-zeros while they take
    at most ELKAN_COPIES_SHARE of X's memory, and frees it past that."""
    X = byte_level_mostly_zero()
    for share, kept in ((10.0, True), (0.1, False)):
        monkeypatch.setattr(_lloyd, "ELKAN_COPIES_SHARE", share)
        data = _engine.Data(X, np.ones(len(X), X.dtype))
        data.nonzeros
        assert data.byte_copy is not None
        step = _lloyd.BoundsStep(data, 8, "elkan")
        assert (data.built_nonzeros() is not None) == kept
        assert (step.nz is not None) == kept
        exact = ((X[:, None, :].astype(np.float64) - X[None, :8]) ** 2).sum(axis=2)
        np.testing.assert_array_equal(step.step(X[:8].copy()).labels, exact.argmin(axis=1))


# -- k-means|| ------------------------------------------------------------------------------

def seed_sse(X, centers):
    data = _engine.Data(X, np.ones(len(X), X.dtype))
    return _engine.assign(data, np.ascontiguousarray(centers, dtype=X.dtype))[2]


def test_kmeans_parallel_shape_determinism_and_quality():
    X = blobs(5000, 10, 20, np.float64, std=0.5)
    data = LocalBackend(_engine.Data(X, np.ones(len(X))))
    a = init_centers(data, 20, "k-means||", np.random.RandomState(0))
    b = init_centers(data, 20, "k-means||", np.random.RandomState(0))
    c = init_centers(data, 20, "k-means||", np.random.RandomState(1))
    assert a.shape == (20, 10) and a.dtype == X.dtype
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    # On well separated blobs it finds every blob: the seeding SSE is near the optimum.
    optimum = KMeans(20, n_init=10, random_state=0).fit(X).inertia_
    assert seed_sse(X, a) < 1.5 * optimum
    rnd = np.median([seed_sse(X, init_centers(data, 20, "random", np.random.RandomState(s)))
                     for s in range(5)])
    assert seed_sse(X, a) < rnd


def test_kmeans_parallel_weights_sparse_and_tiny_data():
    X = blobs(600, 5, 3, np.float32)
    w = np.ones(len(X), np.float32)
    w[:300] = 0  # zero-weight rows never become candidates' owners
    km = KMeans(3, init="k-means||", random_state=0).fit(X, sample_weight=w)
    assert np.isfinite(km.cluster_centers_).all()
    Xs = X.copy()
    Xs[np.abs(Xs) < 3] = 0
    kms = KMeans(4, init="k-means||", random_state=0).fit(sp.csr_matrix(Xs))
    kmd = KMeans(4, init="k-means||", random_state=0).fit(Xs)
    assert kms.inertia_ == pytest.approx(kmd.inertia_, rel=1e-4)
    few = np.repeat(np.arange(3.0)[:, None], 10, axis=0)  # 3 distinct points, K=3
    assert sorted(KMeans(3, init="k-means||", random_state=0).fit(few).cluster_centers_.ravel()) == [0, 1, 2]


@pytest.mark.parametrize("k", [1, 2, 7, 8, 9, 17, 64, 301])
def test_half_center_distances_are_lower_bounds(k):
    """Elkan's centre separations (tiled products, triangle blocks): never above the exact
    half distance, close to it, symmetric, +inf on the diagonal."""
    from kmeanslab.cluster._kernels.bounds import half_center_distances

    C = np.random.RandomState(k).normal(size=(k, 33)) * 50 + 1e3  # far from the origin
    C[k // 2] = C[0]  # a duplicate centre: separation 0
    exact = np.sqrt(((C[:, None] - C[None]) ** 2).sum(-1)) / 2
    got = half_center_distances(C)
    assert np.all(np.isinf(np.diag(got)))
    off = ~np.eye(k, dtype=bool)
    assert np.all(got[off] <= exact[off])
    np.testing.assert_allclose(got[off], exact[off], rtol=1e-6, atol=1e-3)
    np.testing.assert_array_equal(got, got.T)


def grid_near_ties(n_pairs=6, per_pair=400, d=24, seed=0):
    """Rows on a grid of 256 levels (as MNIST's pixels / 255), so Elkan reads them from
    a byte copy, with near-ties: centre b is centre a mirrored in one coordinate about
    a grid level m, and the rows that have m there are equally far from both but for
    the rounding of 2m - a to float32."""
    rng = np.random.RandomState(seed)
    k = 2 * n_pairs + 4
    C = rng.uniform(0.1, 0.9, size=(k, d)).astype(np.float32)
    rows = []
    for p in range(n_pairs):
        a, b = 2 * p, 2 * p + 1
        t0 = p % d
        m = np.float32(rng.randint(60, 200) / 255)
        C[b] = C[a]
        C[b, t0] = np.float32(2 * np.float64(m) - C[a, t0])
        near = C[a] + rng.normal(scale=0.02, size=(per_pair, d))
        near[:, t0] = m
        rows.append(near)
    rows.append(C[rng.randint(2 * n_pairs, k, size=4 * per_pair)] + rng.normal(scale=0.02, size=(4 * per_pair, d)))
    X = (np.rint(np.clip(np.concatenate(rows), 0, 1) * 255) / 255).astype(np.float32)
    exact = ((X[:, None].astype(np.float64) - C[None]) ** 2).sum(-1).argmin(1)
    return X, C, exact


def test_elkan_byte_copy_gives_lloyds_labels():
    """On grid data Elkan's single distances come from a byte copy of X (bounds widened
    by its error): the labels are still the exactly nearest centres, near-ties included,
    and a fit matches Lloyd's."""
    X, C, exact = grid_near_ties()
    keys = (C * C).sum(1) - 2 * (X @ C.T)
    assert (keys.argmin(1) != exact).sum() > 20  # float32 products get near-ties wrong
    data = _engine.Data(X, np.ones(len(X), np.float32))
    assert data.byte_copy is not None and data.byte_copy[3].max() < 1e-6
    step = _lloyd.BoundsStep(data, len(C), "elkan")
    np.testing.assert_array_equal(step.step(C).labels, exact)
    moved = C + np.float32(0.01) * np.random.RandomState(1).normal(size=C.shape).astype(np.float32)
    step.step(moved)
    labels = step.step(C).labels
    assert step.scanned > 0  # the bounded step, not a full pass
    np.testing.assert_array_equal(labels, exact)
    for dtype in (np.float32, np.float64):
        Xd = X.astype(dtype)
        init = Xd[np.random.RandomState(2).choice(len(Xd), 40, replace=False)].copy()
        assert_same_fit(fit(Xd, init, "elkan"), fit(Xd, init, "lloyd"), dtype)


def test_no_byte_copy_for_data_off_the_grid():
    X = blobs(2000, 8, 4, np.float32)
    assert _engine.Data(X, np.ones(len(X), np.float32)).byte_copy is None  # negative values
    U = np.random.RandomState(0).uniform(size=(3000, 8)).astype(np.float32)
    assert _engine.Data(U, np.ones(len(U), np.float32)).byte_copy is None  # continuous
    assert _engine.Data(sp.csr_matrix(U), np.ones(len(U), np.float32)).byte_copy is None
