"""A row of weight 0 is a removed row, for every estimator, dense and CSR.

The weightless rows are put far from everything, so that a path that lets them count
anywhere (a centre, a median, a relocation, a responsibility) shows it. ``tol=0``
because the tolerance scale is the unweighted variance of X, which the weightless rows
do change (as in scikit-learn).
"""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import make_blobs

import reference as ref
from kmeanslab import KMeans
from kmeanslab.cluster import KMedians, MiniBatchKMeans, SoftKMeans, SphericalKMeans, _engine
from kmeanslab.cluster._engine import weighted_medians

RTOL = {np.float32: 1e-5, np.float64: 1e-10}


def weighted_data(dtype, sparse, n=500, seed=0):
    """Positive blobs (SphericalKMeans takes them too); a quarter of the rows weigh 0 and
    sit far away. Returns X, w, and the mask of the rows that count."""
    X, _ = make_blobs(n, 5, centers=4, cluster_std=1.0, random_state=seed)
    X += 30.0
    rng = np.random.RandomState(seed)
    w = rng.uniform(0.5, 2.0, n)
    keep = np.arange(n) % 4 != 1
    w[~keep] = 0
    X[~keep] = 3 * X[~keep] + 100.0
    if sparse:
        X[X < 28] = 0  # real zeros in CSR; no row is all zeros
        assert (X != 0).any(axis=1).all()
    X = X.astype(dtype)
    return (sp.csr_matrix(X) if sparse else X), w.astype(dtype), keep


def assert_same_fit(full, part, keep, dtype, n_iter=True):
    if n_iter:
        assert full.n_iter_ == part.n_iter_
    np.testing.assert_array_equal(full.labels_[keep], part.labels_)
    scale = np.abs(part.cluster_centers_).max()
    np.testing.assert_allclose(full.cluster_centers_, part.cluster_centers_, rtol=RTOL[dtype],
                               atol=RTOL[dtype] * scale)
    assert full.inertia_ == pytest.approx(part.inertia_, rel=10 * RTOL[dtype])


def fit_both(make, X, w, keep):
    full = make().fit(X, sample_weight=w)
    part = make().fit(X[np.flatnonzero(keep)], sample_weight=w[keep])
    return full, part


ESTIMATOR_CASES = [
    ("kmeans-lloyd", False), ("kmeans-hamerly", False), ("kmeans-elkan", False), ("kmeans-auto", False),
    ("kmeans-lloyd", True), ("kmedians", False), ("kmedians", True), ("soft", False), ("soft", True),
    ("spherical", False), ("spherical", True),
]


def make_estimator(name, C):
    if name.startswith("kmeans"):
        return KMeans(len(C), init=C, n_init=1, tol=0, algorithm=name.split("-")[1])
    if name == "kmedians":
        return KMedians(len(C), init=C, n_init=1, tol=0)
    if name == "soft":
        return SoftKMeans(len(C) - 1, init=C[:-1], n_init=1, tol=0, beta=0.5, max_iter=10)
    return SphericalKMeans(len(C) - 1, init=C[:-1], n_init=1, tol=0)


@pytest.mark.parametrize("name, sparse", ESTIMATOR_CASES,
                         ids=[f"{n}-{'csr' if s else 'dense'}" for n, s in ESTIMATOR_CASES])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_zero_weight_rows_are_removed_rows(name, sparse, dtype):
    X, w, keep = weighted_data(dtype, sparse)
    dense = ref.dense64(X)
    C = dense[np.flatnonzero(keep)[[0, 60, 120, 180, 240]]].astype(dtype)
    C[-1] += 1000  # far from every row: an empty cluster to re-seed (k-means, k-medians)
    full, part = fit_both(lambda: make_estimator(name, C), X, w, keep)
    assert_same_fit(full, part, keep, dtype)


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_minibatch_partial_fit_zero_weights_are_removed_rows(sparse):
    X, w, keep = weighted_data(np.float64, sparse)
    C = ref.dense64(X)[np.flatnonzero(keep)[[0, 60, 120, 180]]]
    full, part = MiniBatchKMeans(4, init=C, n_init=1), MiniBatchKMeans(4, init=C, n_init=1)
    for chunk in np.array_split(np.arange(X.shape[0]), 3):
        full.partial_fit(X[chunk], sample_weight=w[chunk])
        kept = chunk[keep[chunk]]
        part.partial_fit(X[kept], sample_weight=w[kept])
        np.testing.assert_allclose(full.cluster_centers_, part.cluster_centers_, rtol=1e-12)
    np.testing.assert_array_equal(full.labels_[keep[chunk]], part.labels_)
    assert full.inertia_ == pytest.approx(part.inertia_, rel=1e-12)


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_minibatch_fit_ignores_what_weightless_rows_hold(sparse):
    """Batches are drawn by weight: a weightless row is never drawn, so its values change
    nothing (the row count, which the random draws depend on, stays the same)."""
    X, w, keep = weighted_data(np.float64, sparse)
    Y = ref.dense64(X)
    Y[~keep] = Y[~keep][::-1] * 0.5 + 7.0
    Y = sp.csr_matrix(Y) if sparse else Y
    C = ref.dense64(X)[np.flatnonzero(keep)[[0, 60, 120, 180]]]

    def fit(data):
        return MiniBatchKMeans(4, init=C, n_init=1, batch_size=32, max_iter=3, random_state=0,
                               max_no_improvement=None).fit(data, sample_weight=w)

    a, b = fit(X), fit(Y)
    assert a.n_steps_ == b.n_steps_ > 10
    np.testing.assert_array_equal(a.cluster_centers_, b.cluster_centers_)
    np.testing.assert_array_equal(a.labels_[keep], b.labels_[keep])
    assert a.inertia_ == b.inertia_


@pytest.mark.parametrize("start", [0.0, 5.0, 10.0])
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_weightless_row_is_not_in_the_median(sparse, start):
    """X = [0, 5, 10], w = [1, 0, 1]: the median of 0 and 10 with equal weights is 5
    (from a start at 0 a median that saw the weightless 5 would say 2.5)."""
    X = np.array([[0.0], [5.0], [10.0]])
    X = sp.csr_matrix(X) if sparse else X
    w = np.array([1.0, 0.0, 1.0])
    km = KMedians(1, init=np.array([[start]]), n_init=1).fit(X, sample_weight=w)
    assert km.cluster_centers_[0, 0] == 5.0 == ref.weighted_median([0, 5, 10], w)


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cluster_medians_are_the_reference(dtype, sparse):
    """Weighted medians with zero weights, exact half-weight splits (integer weights, values
    with gaps between them where a weightless value may sit) and an empty cluster (keeps
    its centre)."""
    rng = np.random.RandomState(0)
    X = rng.randint(-50, 51, size=(300, 4)).astype(dtype)
    w = rng.randint(0, 4, size=300).astype(dtype)
    labels = rng.randint(0, 5, size=300)
    labels[labels == 4] = 3  # cluster 4: empty
    X = sp.csr_matrix(X) if sparse else X
    old = rng.normal(size=(5, 4)).astype(dtype)
    got = weighted_medians(_engine.Data(X, w), labels.astype(np.int32), old)
    np.testing.assert_array_equal(got, ref.cluster_medians(X, w, labels, old).astype(dtype))
