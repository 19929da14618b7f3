"""The Dask backend on a LocalCluster: same answers as in-process, lazily, surviving a lost worker."""

import contextlib
import io
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
# The in-memory test arrays travel inside the graph: expected here, noise in the output.
pytestmark = pytest.mark.filterwarnings("ignore:Sending large graph:UserWarning")
distributed = pytest.importorskip("distributed")

from kmeanslab.cluster import (KMeans, KMedians, MiniBatchKMeans, SoftKMeans,  # noqa: E402
                               SphericalKMeans)
from kmeanslab.cluster import _engine  # noqa: E402
from kmeanslab.cluster._seeding import kmeans_parallel  # noqa: E402
from kmeanslab.cluster.backends import LocalBackend  # noqa: E402
from kmeanslab.cluster.backends import dask as dask_backend  # noqa: E402
from kmeanslab.data import open_array  # noqa: E402

WORKER_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
              "MKL_NUM_THREADS": "1"}


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None, env=WORKER_ENV)
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


@pytest.fixture(scope="module")
def small(mnist_small):
    X = mnist_small[0]
    return X, da.from_array(X, chunks=(500, -1))


def _init(X, k, seed=0):
    return X[np.random.RandomState(seed).choice(len(X), k, replace=False)].copy()


def _same_fit(a, b):
    assert a.n_iter_ == b.n_iter_
    np.testing.assert_array_equal(np.asarray(a.labels_), np.asarray(b.labels_))
    np.testing.assert_allclose(a.inertia_, b.inertia_, rtol=1e-5)
    np.testing.assert_allclose(a.history_, b.history_, rtol=1e-5)
    np.testing.assert_allclose(a.cluster_centers_, b.cluster_centers_, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("k", [10, 40])  # the fused kernel and the GEMM kernel
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_same_centres_same_labels_and_inertia(client, small, k, dtype):
    X, _ = small
    X = X.astype(dtype)
    init = _init(X, k)
    ref = KMeans(k, init=init, max_iter=15, algorithm="lloyd").fit(X)
    got = KMeans(k, init=init, max_iter=15, algorithm="lloyd").fit(da.from_array(X, chunks=(700, -1)))
    assert isinstance(got.labels_, da.Array)
    assert got.cluster_centers_.dtype == dtype
    _same_fit(got, ref)


@pytest.mark.parametrize("algorithm", ["hamerly", "elkan"])
def test_bounds_steppers_on_workers(client, small, algorithm):
    X, Xd = small
    init = _init(X, 12, seed=6)
    init[3] = 50.0  # an empty cluster: its relocation reaches the block's stepper
    ref = KMeans(12, init=init, max_iter=25, algorithm=algorithm).fit(X)
    got = KMeans(12, init=init, max_iter=25, algorithm=algorithm).fit(Xd)
    _same_fit(got, ref)
    np.testing.assert_array_equal(np.asarray(got.labels_),
                                  KMeans(12, init=init, max_iter=25, algorithm="lloyd").fit(X).labels_)
    assert not any(client.run(lambda: len(dask_backend._CACHES)).values())  # dropped after the fit


def test_passes_call_actors_not_tasks(client, small):
    """Persisted blocks: a pass is one call to an actor per worker (no scheduler task)."""
    X, Xd = small
    init = _init(X, 10, seed=4)
    with distributed.get_task_stream() as stream:
        got = KMeans(10, init=init, max_iter=6, tol=0).fit(Xd)
    names = {str(t["key"]).split("-")[0] for t in stream.data}
    assert "_Blocks" in names and "_call_group" not in names
    _same_fit(got, KMeans(10, init=init, max_iter=6, tol=0).fit(X))


def test_sample_weight_and_tol_stop(client, small):
    X, Xd = small
    w = np.random.RandomState(1).uniform(0, 3, len(X)).astype(np.float32)
    w[:100] = 0
    init = _init(X, 8, seed=3)
    ref = KMeans(8, init=init, tol=1e-2).fit(X, sample_weight=w)
    got = KMeans(8, init=init, tol=1e-2).fit(Xd, sample_weight=da.from_array(w, chunks=300))
    _same_fit(got, ref)
    # stopped on the (scaled) tolerance, before the labels settle
    assert ref.n_iter_ < KMeans(8, init=init, tol=0).fit(X, sample_weight=w).n_iter_


def test_empty_cluster_relocated_as_in_process(client, small):
    X, Xd = small
    init = _init(X, 6, seed=2)
    init[[1, 4]] = 50.0  # far from every row: two clusters start empty
    ref = KMeans(6, init=init, max_iter=50).fit(X)
    got = KMeans(6, init=init, max_iter=50).fit(Xd)
    _same_fit(got, ref)
    assert len(np.unique(np.asarray(got.labels_))) == 6


def test_strict_convergence_and_max_iter(client, small):
    X, Xd = small
    init = _init(X, 5, seed=4)
    ref = KMeans(5, init=init, tol=0, max_iter=500).fit(X)
    got = KMeans(5, init=init, tol=0, max_iter=500).fit(Xd)
    _same_fit(got, ref)
    assert got.n_iter_ < 500
    short = KMeans(5, init=init, tol=0, max_iter=3).fit(Xd)
    assert short.n_iter_ == 3 and len(short.history_) == 3
    _same_fit(short, KMeans(5, init=init, tol=0, max_iter=3).fit(X))


def test_kmeans_parallel_distributed_is_sane(client, small):
    X, Xd = small
    data = _engine.Data(X, np.ones(len(X), X.dtype))
    local = [_engine.assign(data, kmeans_parallel(LocalBackend(data), 10, np.random.RandomState(s)))[2]
             for s in range(3)]
    seeds = kmeans_parallel(dask_backend.DaskBackend(Xd), 10, np.random.RandomState(0))
    again = kmeans_parallel(dask_backend.DaskBackend(Xd), 10, np.random.RandomState(0))
    np.testing.assert_array_equal(seeds, again)  # seeded per block: reproducible
    assert seeds.shape == (10, 784) and len(np.unique(seeds, axis=0)) == 10
    assert _engine.assign(data, seeds)[2] < 1.1 * max(local)
    fit = KMeans(10, init="k-means||", random_state=0, max_iter=20).fit(Xd)
    ref = KMeans(10, init="k-means||", random_state=0, max_iter=20).fit(X)
    assert abs(fit.inertia_ / ref.inertia_ - 1) < 0.03


def test_kmeans_parallel_one_block_is_the_in_process_draw(client, small):
    """One function over the backend interface: one block on Dask draws what in-process draws."""
    X, _ = small
    one = da.from_array(X, chunks=(len(X), -1))
    for seed in range(2):
        np.testing.assert_array_equal(
            KMeans(9, init="k-means||", n_init=1, random_state=seed, max_iter=1).fit(one).cluster_centers_,
            KMeans(9, init="k-means||", n_init=1, random_state=seed, max_iter=1).fit(X).cluster_centers_)


def test_kmeans_parallel_falls_back_to_random_rows_on_both(client):
    """Three distinct rows, five clusters: too few candidates hold weight; both backends seed
    with the same random rows (duplicates among them), and warn alike."""
    X = np.repeat(np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 5.0]]), 400, axis=0)
    fits = []
    for data in (X, da.from_array(X, chunks=(250, -1))):
        with pytest.warns(Warning, match="distinct"):
            fits.append(KMeans(5, init="k-means||", n_init=1, random_state=3).fit(data))
    np.testing.assert_array_equal(fits[0].cluster_centers_, fits[1].cluster_centers_)
    np.testing.assert_array_equal(fits[0].labels_, np.asarray(fits[1].labels_))


def test_predict_transform_score_lazy(client, small):
    X, Xd = small
    km = KMeans(7, init=_init(X, 7), max_iter=20).fit(X)
    labels = km.predict(Xd)
    dist = km.transform(Xd)
    assert isinstance(labels, da.Array) and isinstance(dist, da.Array)
    assert labels.chunks[0] == Xd.chunks[0] and dist.chunks == (Xd.chunks[0], (7,))
    np.testing.assert_array_equal(labels.compute(), km.predict(X))
    np.testing.assert_allclose(dist.compute(), km.transform(X), rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(km.score(Xd), km.score(X), rtol=1e-6)
    with pytest.raises(ValueError, match="features"):
        km.predict(Xd[:, :10])


def test_backend_parameter(client, small):
    X, Xd = small
    init = _init(X, 4)
    forced = KMeans(4, init=init, backend="dask").fit(X)
    assert isinstance(forced.labels_, np.ndarray)
    _same_fit(forced, KMeans(4, init=init).fit(X))
    local = KMeans(4, init=init, backend="local").fit(Xd)
    assert isinstance(local.labels_, np.ndarray)
    with pytest.raises(ValueError, match="backend"):
        KMeans(4, backend="spark").fit(Xd)


def test_out_of_core_zarr_and_npy(client, small, tmp_path):
    zarr = pytest.importorskip("zarr")
    X, _ = small
    z = zarr.open_array(str(tmp_path / "x.zarr"), mode="w", shape=X.shape, chunks=(600, X.shape[1]),
                        dtype=X.dtype)
    z[:] = X
    np.save(tmp_path / "x.npy", X)
    init = _init(X, 6)
    ref = KMeans(6, init=init, max_iter=10).fit(X)
    for path in (tmp_path / "x.zarr", tmp_path / "x.npy"):
        Xd = open_array(path, block_rows=700)
        assert Xd.chunks[0][0] == 700 and len(Xd.chunks[1]) == 1
        _same_fit(KMeans(6, init=init, max_iter=10).fit(Xd), ref)
    with pytest.raises(ValueError, match="zarr"):
        open_array(tmp_path / "x.csv")


def test_minibatch_draws_from_blocks(client, small):
    X, Xd = small
    params = dict(n_clusters=10, batch_size=256, random_state=0, max_iter=5)
    ref = MiniBatchKMeans(**params).fit(X)
    got = MiniBatchKMeans(**params).fit(Xd)
    assert isinstance(got.labels_, da.Array) and len(got.history_) == got.n_steps_ > 0
    assert got.inertia_ < 1.05 * ref.inertia_
    labels = got.predict(Xd)
    assert isinstance(labels, da.Array)
    np.testing.assert_array_equal(labels.compute(), got.labels_.compute())
    np.testing.assert_allclose(got.inertia_, got.score(X) * -1, rtol=1e-5)
    assert isinstance(got.transform(Xd), da.Array)
    w = np.ones(len(X), X.dtype)
    w[:1500] = 0  # the first three blocks never drawn
    weighted = MiniBatchKMeans(**params, compute_labels=False).fit(Xd, sample_weight=w)
    far = MiniBatchKMeans(**params).fit(X[1500:]).inertia_
    assert weighted.inertia_ < 1.2 * far and not hasattr(weighted, "labels_")


@pytest.mark.slow
def test_worker_killed_mid_fit(client, small):
    X, Xd = small
    init = _init(X, 10, seed=5)
    ref = KMeans(10, init=init, tol=0, max_iter=300, algorithm="hamerly").fit(X)
    assert ref.n_iter_ > 6
    pids = client.run(os.getpid)
    victim = sorted(pids)[0]
    killed = []

    class KillAtSecondIteration(io.StringIO):
        """stdout during the fit: the verbose line of the second iteration kills a worker."""

        def write(self, text):
            if not killed and text.startswith("Iteration 1,"):
                os.kill(pids[victim], signal.SIGKILL)
                killed.append(time.time())
                deadline = time.time() + 30  # let the scheduler see the worker die, blocks lost
                while victim in client.scheduler_info()["workers"] and time.time() < deadline:
                    time.sleep(0.05)
            return super().write(text)

    with contextlib.redirect_stdout(KillAtSecondIteration()):
        # bounds steppers cached on the workers: the lost ones must be rebuilt, not trusted
        got = KMeans(10, init=init, tol=0, max_iter=300, verbose=1, algorithm="hamerly").fit(Xd)
    assert killed, "the worker was never killed"
    _same_fit(got, ref)
    client.wait_for_workers(2, timeout=60)
    assert pids[victim] not in client.run(os.getpid).values()


@pytest.mark.parametrize("algorithm, tol", [("lloyd", 1e-3), ("elkan", 0.0)])
def test_verbose_prints_the_in_process_lines(client, small, algorithm, tol):
    X, Xd = small
    init = _init(X, 8, seed=2)
    printed = []
    for data in (X, Xd):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            KMeans(8, init=init, tol=tol, algorithm=algorithm, verbose=1).fit(data)
        printed.append([line.split(", inertia")[0].split(": center shift")[0]
                        for line in out.getvalue().splitlines()])
    assert printed[0] == printed[1]
    assert printed[0][0] == "Initialization complete" and printed[0][-1].startswith("Converged at")


@pytest.mark.slow  # the run folder: figures and report
def test_cli_run_on_zarr_joins_a_scheduler(client, mnist_small, tmp_path, monkeypatch):
    zarr = pytest.importorskip("zarr")
    import json

    from kmeanslab.cli import main
    from kmeanslab.experiment import runner as experiment

    X, y = mnist_small
    group = zarr.open_group(str(tmp_path / "d.zarr"), mode="w")
    group.create_array("X", shape=X.shape, chunks=(1000, X.shape[1]), dtype=X.dtype)[:] = X
    group.create_array("y", shape=y.shape, chunks=(1000,), dtype=y.dtype)[:] = y
    monkeypatch.setattr(experiment, "EVAL_ROWS", 2000)  # metrics on a sample of the rows fitted
    out = tmp_path / "run"
    code = main(["run", "--dataset", str(tmp_path / "d.zarr"), "--preprocess", "none", "--k", "5",
                 "--max-iter", "5", "--scheduler", client.scheduler.address, "--out", str(out), "--quiet"])
    assert code == 0
    result = json.loads((out / "metrics.json").read_text())
    assert result["config"]["scheduler"] == client.scheduler.address
    assert result["dataset"]["n_train"] == 2000 and "3000 rows out of core" in result["notes"][0]
    assert np.load(out / "labels.npy").shape == (2000,)
    # Lazy rows cannot be embedded (PCA/UMAP need them in memory): a clear error, exit 2.
    assert main(["run", "--dataset", str(tmp_path / "d.zarr"), "--embed", "pca:5", "--out", str(tmp_path / "x")]) == 2


def test_import_kmeanslab_does_not_import_dask():
    code = ("import sys, numpy as np, kmeanslab\n"
            "from kmeanslab.cluster import KMeans\n"
            "KMeans(2, n_init=1).fit(np.random.rand(50, 3)).predict(np.random.rand(5, 3))\n"
            "assert 'dask' not in sys.modules, 'dask imported'\n")
    subprocess.run([sys.executable, "-c", code], check=True)


# -- every estimator, one loop: the same fit on both backends ------------------------------------

FAMILY = {
    "kmeans-lloyd": lambda k, init, **kw: KMeans(k, init=init, algorithm="lloyd", **kw),
    "kmeans-elkan": lambda k, init, **kw: KMeans(k, init=init, algorithm="elkan", **kw),
    "soft": lambda k, init, **kw: SoftKMeans(k, init=init, beta=30.0, **kw),
    "kmedians": lambda k, init, **kw: KMedians(k, init=init, **kw),
    "spherical": lambda k, init, **kw: SphericalKMeans(k, init=init, **kw),
}


def _rows(X, k, seed, far=()):
    init = _init(X, k, seed)
    for j in far:  # far from every row: the cluster starts empty and is relocated
        init[j] = 40.0 * (1 + j)
    return init


@pytest.mark.parametrize("name", sorted(FAMILY))
def test_every_estimator_same_fit_on_dask(client, small, name):
    X, _ = small
    X = X[:1500]
    w = np.random.RandomState(2).uniform(0.5, 2, len(X)).astype(X.dtype)
    init = _rows(X, 7, seed=11, far=(2,) if name != "spherical" else ())
    make = FAMILY[name]
    iters = 4 if name == "kmedians" else 12  # (each k-medians step: 8 passes of a radix selection)
    ref = make(7, init, max_iter=iters, n_init=1).fit(X, sample_weight=w)
    got = make(7, init, max_iter=iters, n_init=1).fit(da.from_array(X, chunks=(400, -1)),
                                                      sample_weight=da.from_array(w, chunks=400))
    assert isinstance(got.labels_, da.Array), "the dask input stays lazy"
    _same_fit(got, ref)
    np.testing.assert_array_equal(got.predict(X), ref.predict(X))


@pytest.mark.parametrize("name", ["kmeans-lloyd", "kmedians", "soft"])
@pytest.mark.parametrize("scale", [1e-30, 1e30])
def test_extreme_magnitudes_scaled_on_both(client, small, name, scale):
    """Rows near the ends of float64's range: the power-of-two scaling runs on Dask too."""
    X, _ = small
    X = X[:1000, :200].astype(np.float64) * scale
    init = _rows(X, 5, seed=1) * 1.0
    make = FAMILY[name]
    kw = dict(max_iter=3 if name == "kmedians" else 8, n_init=1)  # float64 medians: 16 passes a step
    if name == "soft":
        make = lambda k, init, **kw: SoftKMeans(k, init=init, beta=30.0 / scale**2, **kw)  # noqa: E731
    ref = make(5, init, **kw).fit(X)
    got = make(5, init, **kw).fit(da.from_array(X, chunks=(300, -1)))
    assert np.isfinite(ref.inertia_) and ref.inertia_ > 0
    _same_fit(got, ref)


def test_minibatch_on_one_block_is_the_in_process_fit(client, small):
    X, _ = small
    params = dict(n_clusters=8, batch_size=300, random_state=4, max_iter=3, n_init=1)
    ref = MiniBatchKMeans(**params).fit(X)
    got = MiniBatchKMeans(**params).fit(da.from_array(X, chunks=(len(X), -1)))
    assert got.n_steps_ == ref.n_steps_
    np.testing.assert_array_equal(got.cluster_centers_, ref.cluster_centers_)
    np.testing.assert_array_equal(np.asarray(got.labels_), ref.labels_)
    assert got.inertia_ == ref.inertia_


@pytest.mark.parametrize("name", ["kmedians", "spherical", "soft"])
def test_family_n_init_and_seeding_on_dask(client, small, name):
    """Seeded fits (k-means|| through the backend, n_init runs) pick the same best run."""
    X, _ = small
    X = X[:1200]
    make = {"kmedians": KMedians, "spherical": SphericalKMeans,
            "soft": lambda k, **kw: SoftKMeans(k, beta=30.0, **kw)}[name]
    kw = dict(init="k-means||", n_init=2, random_state=5, max_iter=3 if name == "kmedians" else 6)
    ref = make(4, **kw).fit(X)
    got = make(4, **kw).fit(da.from_array(X, chunks=(len(X), -1)))
    _same_fit(got, ref)


@pytest.mark.parametrize("where", ["workers", "no client"])
def test_streamed_blocks_not_persisted(client, small, where, monkeypatch):
    """Blocks read from the source every pass (too big to keep, or no distributed client):
    the same fit, reductions over many blocks included."""
    import dask

    X, _ = small
    Xd = da.from_array(X, chunks=(150, -1))  # 20 blocks: a two-level reduction tree
    init = _rows(X, 6, seed=8, far=(1,))
    ref = KMeans(6, init=init, max_iter=6, algorithm="elkan").fit(X)
    if where == "no client":
        monkeypatch.setattr(dask_backend, "client", lambda: None)
    with dask.config.set({"kmeanslab.persist": False, "scheduler": "sync" if where == "no client" else None}):
        got = KMeans(6, init=init, max_iter=6, algorithm="elkan").fit(Xd)
        soft = SoftKMeans(6, init=init, beta=30.0, max_iter=4).fit(Xd)
    _same_fit(got, ref)
    _same_fit(soft, SoftKMeans(6, init=init, beta=30.0, max_iter=4).fit(X))
