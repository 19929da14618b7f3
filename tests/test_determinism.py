"""Determinism (issue 7, part 5): the same seed gives bit-identical outputs, run after
run and on 1 thread or 2, for every estimator; ``kmeanslab run --seed`` fully
determines a run, whatever the thread count of the process that runs it.
"""

import json
import os
import subprocess
import sys
from contextlib import contextmanager

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import make_blobs
from threadpoolctl import threadpool_limits

from kmeanslab import _core
from kmeanslab.cluster import KMeans
from kmeanslab.cluster.registry import ESTIMATORS

TWO = min(2, _core.max_threads())


@contextmanager
def threads(n):
    """The kernels (OpenMP) and BLAS on ``n`` threads; the counts restored afterwards."""
    with threadpool_limits(n):
        yield


@pytest.fixture(scope="module")
def X():
    """Enough rows for several sub-blocks, so that threads split the work."""
    X, _ = make_blobs(1500, n_features=12, centers=8, cluster_std=3.0, random_state=7)
    return X + 30.0  # positive: SphericalKMeans takes it as well


CASES = [("kmeans", {"algorithm": "lloyd"}), ("kmeans", {"algorithm": "hamerly", "init": "random"}),
         ("kmeans", {"algorithm": "elkan"}), ("kmeans", {"init": "k-means||"}),
         ("kmeans", {"init": "random-uniform", "n_init": 2}),
         ("minibatch", {"batch_size": 256}), ("soft", {"beta": 0.05}),
         ("soft", {"beta": 0.05, "batch_size": 500}), ("kmedians", {}), ("spherical", {})]


def outputs(est, X):
    """Everything a fitted estimator hands out, for exact comparison."""
    out = {name: np.asarray(getattr(est, name)) for name in
           ("cluster_centers_", "labels_", "inertia_", "n_iter_", "history_")}
    out["predict"] = est.predict(X)
    out["transform"] = est.transform(X)
    out["score"] = np.asarray(est.score(X))
    if hasattr(est, "predict_proba"):
        out["predict_proba"] = est.predict_proba(X)
    return out


def assert_identical(a, b):
    assert a.keys() == b.keys()
    for key in a:
        assert a[key].dtype == b[key].dtype, key
        # Bit for bit: equal_nan-free array_equal on the raw bytes.
        assert a[key].tobytes() == b[key].tobytes(), key




def _case_params():
    out = []
    for name, params in CASES:
        cid = f"{name}-{'-'.join(map(str, params.values())) or 'default'}"
        # K=5: the fused kernel; K=30: the GEMM one (and a threaded GEMM in transform).
        for dtype, K in ((np.float32, 5), (np.float32, 30), (np.float64, 5)):
            out.append(pytest.param(name, params, dtype, K,
                                    id=f"{cid}-{np.dtype(dtype).name}-K{K}"))
    return out


@pytest.mark.parametrize("name, params, dtype, K", _case_params())
def test_same_seed_bit_identical_across_runs_and_threads(X, name, params, dtype, K):
    Xd = X.astype(dtype)
    results = []
    for n in (1, TWO, TWO):
        with threads(n):
            est = ESTIMATORS[name](n_clusters=K, random_state=3, max_iter=30, **params).fit(Xd)
            results.append(outputs(est, Xd))
    for other in results[1:]:
        assert_identical(results[0], other)


@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_sparse_input_bit_identical_across_threads(X, name):
    Xs = sp.csr_matrix(np.where(X > 33.0, X, 0.0).astype(np.float32))
    Xs = Xs[np.asarray(Xs.getnnz(axis=1)) > 0]  # no all-zero rows (SphericalKMeans)
    results = []
    for n in (1, TWO):
        with threads(n):
            est = ESTIMATORS[name](n_clusters=6, random_state=1, max_iter=30).fit(Xs)
            results.append(outputs(est, Xs))
    assert_identical(*results)


@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_random_state_objects_and_ints_agree(X, name):
    """An int seed and a RandomState seeded with it give the same fit (sklearn semantics)."""
    a = ESTIMATORS[name](n_clusters=4, random_state=11, max_iter=30).fit(X)
    b = ESTIMATORS[name](n_clusters=4, random_state=np.random.RandomState(11), max_iter=30).fit(X)
    assert_identical(outputs(a, X), outputs(b, X))


def test_extreme_magnitudes_bit_identical_across_threads(X):
    """The power-of-two scaling path is as deterministic as the plain one."""
    Xe = (X * 1e30).astype(np.float32)
    results = []
    for n in (1, TWO):
        with threads(n):
            results.append(outputs(KMeans(7, random_state=0, algorithm="elkan").fit(Xe), Xe))
    assert_identical(*results)


# -- the command line ---------------------------------------------------------------------
def _run_cli(out, n_threads, *extra):
    env = dict(os.environ, OMP_NUM_THREADS=str(n_threads),
               OPENBLAS_NUM_THREADS=str(n_threads), MKL_NUM_THREADS=str(n_threads),
               MPLBACKEND="Agg")
    cmd = [sys.executable, "-m", "kmeanslab.cli", "run", "--dataset", "digits", "--k", "12",
           "--seed", "4", "--out", str(out), "--quiet", *extra]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _without_timings_and_out(result):
    result = dict(result)
    result.pop("timings")
    result["config"] = {k: v for k, v in result["config"].items() if k != "out"}
    return result


@pytest.mark.skipif(_core.max_threads() < 2, reason="the kernels have a single OpenMP thread here")
def test_cli_seed_fully_determines_a_run_on_1_or_2_threads(tmp_path):
    # Both runs at once: two cores, half the wall time.
    procs = {n: _run_cli(tmp_path / f"t{n}", n, "--init", "k-means++") for n in (1, 2)}
    for n, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=300)
        assert proc.returncode == 0, stderr
    one, two = tmp_path / "t1", tmp_path / "t2"
    for name in ("centroids.npy", "labels.npy", "test_labels.npy"):
        assert (one / name).read_bytes() == (two / name).read_bytes(), name
    a = json.loads((one / "metrics.json").read_text())
    b = json.loads((two / "metrics.json").read_text())
    assert set(a["timings"]) == set(b["timings"])
    assert _without_timings_and_out(a) == _without_timings_and_out(b)
    assert a["config"]["seed"] == 4
