"""metrics.evaluate with sample weights, against the float64 reference (found by ``make mutate``)."""

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
