"""metrics.sse and evaluate edges, against the float64 reference (found by ``make mutate``)."""

import numpy as np
import pytest
import scipy.sparse as sp

import reference as ref
from kmeanslab import metrics


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_evaluate_weighs_the_objective(sparse):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(60, 3))
    centers = X[:4].copy()
    labels = ref.nearest(X, centers)
    w = rng.uniform(0, 3, 60)
    w[::5] = 0
    want = float((w * ref.sq_dists(X, centers)[np.arange(60), labels]).sum())
    out = metrics.evaluate(sp.csr_matrix(X) if sparse else X, None, labels, centers, sample_weight=w)
    assert out["sse"] == pytest.approx(want, rel=1e-12)
    assert out["mean_sse"] == pytest.approx(want / w.sum(), rel=1e-12)
    assert out["n_samples"] == 60


def test_csr_sse_counts_leading_empty_rows():
    """All-zero rows before the first stored value are still ||c||^2 from their centre."""
    X = np.zeros((6, 3))
    X[3:] = [[1.0, 2.0, 0.0], [0.0, 1.0, 1.0], [2.0, 0.0, 1.0]]
    centers = np.array([[0.5, 0.5, 0.5], [1.0, 1.0, 0.0]])
    labels = np.array([0, 1, 0, 1, 1, 0])
    want = float(ref.sq_dists(X, centers)[np.arange(6), labels].sum())
    assert metrics.sse(sp.csr_matrix(X), labels, centers) == pytest.approx(want, rel=1e-12)


def test_evaluate_counts_clusters_not_features():
    rng = np.random.RandomState(1)
    X = rng.normal(size=(40, 5))
    centers = X[:3].copy()
    labels = ref.nearest(X, centers)
    y = labels % 2
    out = metrics.evaluate(X, y, labels, centers, n_clusters=3)
    assert out["purity"] == metrics.purity(y, labels, n_clusters=3)
