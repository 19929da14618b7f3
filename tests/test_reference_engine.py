"""Every path of the engine against the float64 reference (``tests/reference.py``).

Lloyd, Hamerly, Elkan and "auto", dense and CSR, float32 and float64, with sample
weights that include zeros: one step, relocation, and whole fits with scikit-learn's
stopping rule (n_iter counted as scikit-learn counts it). Never path against path: a bug
that two paths share (say a relocation that keeps the moved point's weight in its old
cluster) would pass such a test.
"""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import make_blobs

import reference as ref
from kmeanslab import KMeans
from kmeanslab.cluster import _engine, _lloyd, _loop
from kmeanslab.cluster._methods import SquaredEuclidean, combine
from kmeanslab.cluster.backends import LocalBackend

ALGORITHMS = ("lloyd", "hamerly", "elkan", "auto")
DTYPES = (np.float32, np.float64)
# float32 data: centres are rounded to float32 after every update, the reference keeps float64.
RTOL = {np.float32: 2e-5, np.float64: 1e-10}


def blob_data(n=1100, d=6, k=6, seed=0, dtype=np.float64):
    """Separated blobs (so a float32 path cannot part from the reference on a near-tie)
    and weights in [0.5, 2] with a tenth of them exactly 0. n spans several 256-row blocks."""
    X, _ = make_blobs(n, d, centers=k, cluster_std=1.0, center_box=(-20, 20), random_state=seed)
    rng = np.random.RandomState(seed)
    w = rng.uniform(0.5, 2.0, n)
    w[rng.rand(n) < 0.1] = 0
    return X.astype(dtype), w.astype(dtype)


def zero_rich_data(n=1100, d=48, k=6, seed=0, dtype=np.float64):
    """Dense rows that are mostly zero, as MNIST's digits are: each cluster has its own
    support of about a seventh of the features and its rows are zero elsewhere; every
    tenth row stays fully dense. The engine multiplies rows with at most a third non-zeros
    through their non-zeros (kept in a copy of X's non-zeros, which a fit makes when X is
    this sparse), the others in tiles: both kinds meet in every 256-row block."""
    X, y = make_blobs(n, d, centers=k, cluster_std=1.0, center_box=(5, 40), random_state=seed)
    rng = np.random.RandomState(seed)
    support = rng.rand(k, d) < 0.15
    keep = support[y] | (np.arange(n) % 10 == 0)[:, None]
    w = rng.uniform(0.5, 2.0, n)
    w[rng.rand(n) < 0.1] = 0
    return np.where(keep, X, 0).astype(dtype), w.astype(dtype)


def as_input(X, sparse):
    if not sparse:
        return X
    Xs = X.copy()
    Xs[np.abs(Xs) < 2] = 0  # real zeros, so CSR holds fewer entries than X
    return sp.csr_matrix(Xs)


def assert_close(got, want, dtype, what):
    scale = max(np.abs(want).max(), 1.0)
    np.testing.assert_allclose(got, want, rtol=RTOL[dtype], atol=RTOL[dtype] * scale, err_msg=what)


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_one_lloyd_step_is_the_reference(dtype, sparse):
    X, w = blob_data(dtype=dtype)
    X = as_input(X, sparse)
    C = ref.dense64(X)[[3, 100, 200, 400, 700, 1000, 1050]].astype(dtype)
    stats = _engine.lloyd_block(_engine.Data(X, w), C)
    want = ref.lloyd_step(X, w, C)
    np.testing.assert_array_equal(stats.labels, want["labels"])
    assert_close(stats.sums, want["sums"], dtype, "sums")
    assert_close(stats.weights, want["weights"], dtype, "weights")
    assert stats.sse == pytest.approx(want["sse"], rel=10 * RTOL[dtype])


@pytest.mark.parametrize("copy", [True, False], ids=["copy", "no-copy"])
@pytest.mark.parametrize("k", [6, 40, 130])
@pytest.mark.parametrize("dtype", DTYPES)
def test_mostly_zero_dense_rows_step_is_the_reference(dtype, k, copy, monkeypatch):
    """Dense rows with few non-zeros (their products through the non-zeros, read from
    X's copy of them or found in X) mixed with full rows (tiles), K below one vector of
    centres, several panels, and more centres than one register pass holds: labels name
    nearest centres, the distances and statistics are the reference's."""
    if not copy:
        monkeypatch.setattr(_engine, "NONZEROS_SHARE", 0.0)
    X, w = zero_rich_data(k=6, dtype=dtype)
    rng = np.random.RandomState(k)
    C = (X[rng.choice(len(X), k, replace=False)] + rng.uniform(0, 0.5, (k, X.shape[1]))).astype(dtype)
    data = _engine.Data(X, w)
    stats = _engine.lloyd_block(data, C)
    assert (data.built_nonzeros() is not None) == copy
    ref.assert_nearest(stats.labels, X, C, rtol=RTOL[dtype])
    d2 = ref.sq_dists(X, C)
    own = d2[np.arange(len(X)), stats.labels]
    np.testing.assert_allclose(stats.mind, own, rtol=10 * RTOL[dtype], atol=10 * RTOL[dtype] * own.max())
    want = ref.lloyd_step(X, w, C)
    if np.array_equal(stats.labels, want["labels"]):  # no near-tie broken otherwise
        assert_close(stats.sums, want["sums"], dtype, "sums")
    assert stats.sse == pytest.approx(float((w * own).sum()), rel=10 * RTOL[dtype])


@pytest.mark.parametrize("data", [blob_data, zero_rich_data], ids=["blobs", "mostly-zero"])
@pytest.mark.parametrize("kind", ["hamerly", "elkan"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_bounds_steps_are_reference_steps(kind, dtype, data):
    """A bounds stepper fed the centres of a reference run: each step's labels, sums,
    weights and objective are the reference step's (bounded steps included)."""
    X, w = data(dtype=dtype)
    assert (_engine.Data(X, w).nonzeros is not None) == (data is zero_rich_data)
    # mostly-zero data: ten centres from neighbouring rows (its clusters settle fast otherwise)
    C0 = X[[3, 100, 200, 400, 700, 1000, 1050] if data is blob_data else [1, 2, 3, 4, 6, 7, 8, 9, 11, 12]]
    run = ref.lloyd_fit(X, w, C0)
    step = _lloyd.BoundsStep(_engine.Data(X, w), len(C0), kind)
    C, bounded = ref.dense64(C0), 0
    for _ in range(run["n_iter"]):
        C32 = C.astype(dtype)
        want = ref.lloyd_step(X, w, C32)
        stats = step.step(C32)
        bounded += bool(step.cum.any())  # drift is zeroed by full passes only
        np.testing.assert_array_equal(stats.labels, want["labels"])
        assert_close(stats.sums, want["sums"], dtype, "sums")
        np.testing.assert_allclose(stats.weights, want["weights"], rtol=1e-12)
        assert stats.sse == pytest.approx(want["sse"], rel=100 * RTOL[dtype])
        C, _ = ref.relocate_and_update(X, w, C32, want["labels"], want["sums"], want["weights"])
    assert bounded >= 2


def empty_cluster_case(dtype, sparse=False):
    """Weighted blobs and initial centres of which two are far from every row: both
    clusters are empty after the first assignment and take the two farthest points."""
    X, w = blob_data(dtype=dtype)
    X = as_input(X, sparse)
    C = ref.dense64(X)[[3, 100, 200, 400, 700, 1000, 1050, 5]].copy()
    C[[2, 6]] += 500.0
    return X, w, C.astype(dtype)


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_relocation_is_the_reference(dtype, sparse):
    """The moved points leave their clusters (weight and sum), each empty cluster is its
    point; the other centres are the means of what is left."""
    X, w, C = empty_cluster_case(dtype, sparse)
    backend, method = LocalBackend(_engine.Data(X, w)), SquaredEuclidean(len(C))
    stats = backend.map_reduce(method.step, 0, C, combine=combine)
    assert (stats.weights == 0).sum() == 2
    stats, moves, moved = _loop.relocate(method, backend, stats, C, 0)
    centers = method.update(backend, stats, C, 0, moves)
    rows, old, new = moves[0]
    s = ref.lloyd_step(X, w, C)
    want, moved = ref.relocate_and_update(X, w, C, s["labels"], s["sums"], s["weights"])
    assert list(rows) == moved and list(new) == [2, 6]
    assert_close(centers, want, dtype, "centres after relocation")
    assert_close(centers[[2, 6]], ref.dense64(X)[moved], dtype, "relocated centres are their points")


def check_fit(km, run, dtype):
    assert km.n_iter_ == run["n_iter"]
    np.testing.assert_array_equal(km.labels_, run["labels"])
    assert_close(km.cluster_centers_, run["centers"], dtype, "centres")
    assert km.inertia_ == pytest.approx(run["inertia"], rel=100 * RTOL[dtype])
    np.testing.assert_allclose(km.history_, run["history"], rtol=100 * RTOL[dtype])


# CSR input always runs Lloyd: "auto" checks that it does.
PATHS = [(a, False) for a in ALGORITHMS] + [("lloyd", True), ("auto", True)]
PATH_IDS = [f"{a}-{'csr' if s else 'dense'}" for a, s in PATHS]


@pytest.mark.parametrize("algorithm, sparse", PATHS, ids=PATH_IDS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_fit_is_the_reference_fit(algorithm, sparse, dtype):
    """Weighted (zeros included) fit with relocations, run to convergence (tol = 0)."""
    X, w, C = empty_cluster_case(dtype, sparse)
    run = ref.lloyd_fit(X, w, C, tol=0)
    assert run["n_iter"] > 3
    km = KMeans(len(C), init=C, n_init=1, tol=0, algorithm=algorithm).fit(X, sample_weight=w)
    check_fit(km, run, dtype)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_many_centres_fit_is_the_reference_fit(algorithm, dtype):
    """K = 20: "auto" runs Elkan; Hamerly's and Elkan's bounded steps carry many rows."""
    X, w = blob_data(n=1300, d=4, k=20, seed=3, dtype=dtype)
    C = X[np.random.RandomState(1).choice(len(X), 20, replace=False)]
    run = ref.lloyd_fit(X, w, C, tol=0)
    km = KMeans(20, init=C, n_init=1, tol=0, algorithm=algorithm).fit(X, sample_weight=w)
    check_fit(km, run, dtype)


def fixed_point_data(dtype):
    """Integer rows in clusters of four whose means are exact: from those means the
    first update moves nothing (total shift exactly 0)."""
    base = np.array([[0.0, 0.0], [40.0, 0.0], [0.0, 40.0]])
    offsets = np.array([[1.0, 1.0], [-1.0, 1.0], [1.0, -1.0], [-1.0, -1.0]])
    X = (base[:, None, :] + offsets[None] * np.arange(1, 4)[:, None, None, None]).reshape(-1, 2)
    return X.astype(dtype), base.astype(dtype)


@pytest.mark.parametrize("algorithm, sparse", PATHS, ids=PATH_IDS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_fixed_point_with_zero_tol_stops_after_one_iteration(algorithm, sparse, dtype):
    """scikit-learn's rule is ``shift <= tol``: a first update that moves nothing stops at
    n_iter 1 even with tol = 0 (``<`` would run a second iteration)."""
    X, C = fixed_point_data(dtype)
    run = ref.lloyd_fit(X, None, C, tol=0)
    assert run["n_iter"] == 1 and run["shifts"] == [0.0]
    km = KMeans(3, init=C, n_init=1, tol=0, algorithm=algorithm).fit(sp.csr_matrix(X) if sparse else X)
    check_fit(km, run, dtype)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_stop_on_tolerance_counts_and_relabels_as_reference(algorithm, dtype):
    """A stop on tol (labels still moving): same n_iter as the reference, and the labels
    are those of the final centres. The tolerance is chosen far from every shift."""
    X, w, C = empty_cluster_case(dtype)
    tol_rel = 1e-3
    tol = ref.tolerance(X, tol_rel)
    run = ref.lloyd_fit(X, w, C, tol=tol)
    assert not run["strict"] and 1 < run["n_iter"] < len(ref.lloyd_fit(X, w, C)["shifts"])
    assert min(abs(s - tol) for s in run["shifts"]) > 0.05 * tol  # not a near thing
    km = KMeans(len(C), init=C, n_init=1, tol=tol_rel, algorithm=algorithm).fit(X, sample_weight=w)
    check_fit(km, run, dtype)


# -- soft and spherical -------------------------------------------------------------------

@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("beta", [0.02, 0.5])
def test_soft_step_is_the_reference(beta, dtype, sparse):
    """Responsibilities, the weighted free energy, and the responsibility-weighted sums
    and masses of one E-step (zero weights included)."""
    from kmeanslab.cluster._engine import soft_step

    X, w = blob_data(n=600, dtype=dtype)
    X = as_input(X, sparse)
    C = ref.dense64(X)[[3, 100, 200, 400, 500]].astype(dtype)
    st = soft_step(_engine.Data(X, w), C, beta, responsibilities=True)
    resp, F = ref.soft_responsibilities(X, C, beta)
    w64 = w.astype(np.float64)
    rtol = 1e-3 if dtype == np.float32 else 1e-9  # float32 squared distances, times beta
    np.testing.assert_allclose(st.resp, resp, rtol=rtol, atol=rtol * 1e-3)
    assert st.objective == pytest.approx(float((w64 * F).sum()), rel=rtol)
    np.testing.assert_allclose(st.mass, (w64[:, None] * resp).sum(0), rtol=rtol)
    np.testing.assert_allclose(st.sums, (w64[:, None] * resp).T @ ref.dense64(X), rtol=rtol,
                               atol=rtol * 1e-3 * np.abs(ref.dense64(X)).max() * w64.sum())
    np.testing.assert_array_equal(st.labels, ref.nearest(X, C))


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_spherical_step_and_assignment_are_the_reference(dtype, sparse):
    """One spherical step from given centres: each row goes to the centre of largest
    cosine similarity, each centre becomes the direction of its weighted sum of unit rows."""
    from kmeanslab.cluster import SphericalKMeans

    X, w = blob_data(n=600, dtype=dtype)
    X = ref.dense64(X) + 1.0  # no all-zero row
    X = as_input(X.astype(dtype), sparse)
    D = ref.dense64(X)
    C0 = D[[3, 100, 200, 400]]
    km = SphericalKMeans(4, init=C0.astype(dtype), n_init=1, max_iter=1, tol=0).fit(X, sample_weight=w)
    labels0 = ref.spherical_nearest(D, C0)
    U = D / np.linalg.norm(D, axis=1, keepdims=True)
    sums = np.zeros((4, D.shape[1]))
    np.add.at(sums, labels0, w.astype(np.float64)[:, None] * U)
    want = sums / np.linalg.norm(sums, axis=1, keepdims=True)
    assert_close(km.cluster_centers_, want, dtype, "spherical centres")
    np.testing.assert_array_equal(km.predict(X), ref.spherical_nearest(D, km.cluster_centers_))
    np.testing.assert_array_equal(km.labels_, ref.spherical_nearest(D, km.cluster_centers_))
