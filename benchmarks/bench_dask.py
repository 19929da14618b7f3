"""KMeans on Dask: kmeanslab against dask_ml.cluster.KMeans and against itself in-process.

One LocalCluster (2 worker processes x 1 thread, OMP threads = 1); MNIST-70k float32 as
a dask array of 8 blocks persisted on the workers. Three tables, times are medians of
``--repeats`` interleaved runs:

1. End to end with each library's defaults (seeding included: kmeanslab k-means||,
   dask-ml k-means||), K = 10 and 100, seeds 0, 1, 2, ...: fit time with the labels
   gathered (and kmeanslab's default fit in-process on 2 threads, k-means++), and the SSE of each result computed here in float64 from its labels and
   centres (dask-ml's ``inertia_`` is a sum of unsquared distances).
2. The same fit on Dask and in-process: same initial centres (k-means++ on X),
   ``--max-iter`` Lloyd iterations (tol=0), the in-process fit on 2 threads in this
   process; the per-iteration cost from fits of N and 2N iterations.
3. Streaming: MNIST-70k written to a Zarr store (or ``--big``, e.g. from
   ``scripts/make_big_mnist.py``), not persisted: the time of one Lloyd iteration
   (fits of N and 2N iterations from the same centres) against one plain pass over the
   store (``da.from_zarr(...).sum().compute()``, on the same dask array the fit gets), and each worker's peak resident memory
   during the fit against the data's size.

    KMEANSLAB_DATA=../shared/data .venv/bin/python benchmarks/bench_dask.py
"""

import argparse
import os
import platform
import resource
import time
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
WORKER_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
              "MKL_NUM_THREADS": "1"}


def sse(X, labels, centers, block=10_000):
    """Sum of squared distances to the assigned centres, float64, by differences."""
    c = np.asarray(centers, dtype=np.float64)
    total = 0.0
    for s in range(0, X.shape[0], block):
        d = X[s:s + block].astype(np.float64) - c[labels[s:s + block]]
        total += float(np.einsum("ij,ij->", d, d))
    return total


def fit_timed(make, X):
    t = time.perf_counter()
    est = make().fit(X)
    labels = np.asarray(est.labels_.compute() if hasattr(est.labels_, "compute") else est.labels_)
    return est, labels, time.perf_counter() - t


def peak_rss_mib():
    """This process's resident high-water mark (VmHWM: reset by exec, unlike ru_maxrss,
    which a worker inherits from the large process that forked it)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def start_rss_sampler(dask_worker, every=0.02):
    """Sample this worker's resident memory in a thread; ``stop_rss_sampler`` returns the peak."""
    import threading

    import psutil

    proc, state = psutil.Process(), {"peak": 0, "run": True}

    def loop():
        while state["run"]:
            state["peak"] = max(state["peak"], proc.memory_info().rss)
            time.sleep(every)

    dask_worker._kmeanslab_rss = state
    threading.Thread(target=loop, daemon=True).start()
    return proc.memory_info().rss / 2**20


def stop_rss_sampler(dask_worker):
    state = dask_worker._kmeanslab_rss
    state["run"] = False
    return state["peak"] / 2**20


def _median(f, repeats):
    return float(np.median([f() for _ in range(repeats)]))


def bench_defaults(client, X, Xd, ks, repeats):
    """Table 1: each library's defaults, seeding included."""
    from dask_ml.cluster import KMeans as DaskMLKMeans

    from kmeanslab import KMeans

    rows = []
    for k in ks:
        makers = {"kmeanslab": lambda s: KMeans(k, random_state=s),
                  "dask-ml": lambda s: DaskMLKMeans(k, random_state=s),
                  "kmeanslab in-process": lambda s: KMeans(k, random_state=s)}
        data = {"kmeanslab in-process": X}
        for name, make in makers.items():
            fit_timed(lambda: make(99), data.get(name, Xd))  # warm the workers (imports)
        runs = {name: [] for name in makers}
        for rep in range(repeats):
            for name, make in makers.items():
                est, labels, t = fit_timed(lambda: make(rep), data.get(name, Xd))
                runs[name].append((t, int(est.n_iter_), sse(X, labels, est.cluster_centers_)))
        row = {"k": k}
        for name, r in runs.items():
            t, it, e = (np.median([x[i] for x in r]) for i in range(3))
            row[name] = {"t": float(t), "n_iter": float(it), "sse": float(e)}
        rows.append(row)
        print(f"defaults K={k}: kmeanslab {row['kmeanslab']['t']:.2f} s, dask-ml {row['dask-ml']['t']:.2f} s "
              f"({row['dask-ml']['t'] / row['kmeanslab']['t']:.1f}x), in-process "
              f"{row['kmeanslab in-process']['t']:.2f} s", flush=True)
    return rows


def _per_iteration(fit, n, repeats):
    """(time of a fit of n iterations, time per iteration from fits of n and 2n iterations)."""
    t1 = _median(lambda: fit(n), repeats)
    t2 = _median(lambda: fit(2 * n), repeats)
    return t1, max(t2 - t1, 0.0) / n


def bench_local(client, X, Xd, ks, max_iter, repeats):
    """Table 2: the same Lloyd fit on Dask and in-process (2 threads here)."""
    from threadpoolctl import threadpool_limits

    from kmeanslab import KMeans, kmeans_plusplus

    rows = []
    for k in ks:
        init = kmeans_plusplus(X, k, random_state=0)[0]

        def fit(data, n):
            return fit_timed(lambda: KMeans(k, init=init, n_init=1, max_iter=n, tol=0), data)[2]

        fit(Xd, 2)
        with threadpool_limits(2, user_api="openmp"):
            local = _per_iteration(lambda n: fit(X, n), max_iter, repeats)
        dask = _per_iteration(lambda n: fit(Xd, n), max_iter, repeats)
        rows.append({"k": k, "local": local, "dask": dask})
        print(f"same fit K={k}: dask {dask[0]:.2f} s ({1e3 * dask[1]:.0f} ms/it), in-process {local[0]:.2f} s "
              f"({1e3 * local[1]:.0f} ms/it): {dask[0] / local[0]:.2f}x", flush=True)
    return rows


def _warm():
    import kmeanslab.cluster.backends.dask  # noqa: F401  (imports out of the peak's way)


def bench_stream(client, path, k, max_iter, repeats):
    """Table 3: a Zarr store streamed every pass, against one plain pass over it."""
    import dask
    import dask.array as da

    from kmeanslab import KMeans
    from kmeanslab.data import open_array

    client.run(_warm)
    X = open_array(path)
    def plain_pass():
        t = time.perf_counter()
        X.sum().compute()  # X = open_array(path): da.from_zarr on the store's array
        return time.perf_counter() - t

    plain = _median(plain_pass, repeats)
    init = X[:: X.shape[0] // k][:k].compute()
    before = client.run(start_rss_sampler)
    with dask.config.set({"kmeanslab.persist": False}):  # stream the blocks from the store
        fit_t, per_it = _per_iteration(
            lambda n: fit_timed(lambda: KMeans(k, init=init, n_init=1, max_iter=n, tol=0), X)[2],
            max_iter, repeats)
    sampled = client.run(stop_rss_sampler)
    row = {"n": X.shape[0], "d": X.shape[1], "gib": X.nbytes / 2**30, "blocks": len(X.chunks[0]),
           "k": k, "fit": fit_t, "per_it": per_it, "plain": plain,
           "before": sorted(before.values()), "peak": sorted(sampled.values())}
    print(f"stream K={k}: {1e3 * per_it:.0f} ms/iteration, plain pass {1e3 * plain:.0f} ms "
          f"({per_it / plain:.2f}x); worker peak {max(row['peak']):.0f} MiB for {row['gib']:.2f} GiB",
          flush=True)
    return row


def write_table(path, defaults, same, stream, args, elapsed):
    lines = [
        "# KMeans on Dask: kmeanslab vs dask-ml, and vs itself in-process",
        "",
        f"`benchmarks/bench_dask.py` on {platform.machine()} with {os.cpu_count()} cores (shared with "
        "other jobs: read the ratios), one LocalCluster of 2 worker processes x 1 thread, OMP "
        "threads = 1; MNIST-70k float32 in 8 blocks persisted on the workers. Medians of "
        f"{args.repeats} interleaved runs.",
        "",
        "## 1. End to end, each library's defaults (seeding included)",
        "",
        "| K | library | time (s) | dask-ml / this | iterations | SSE (float64, from labels) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in defaults:
        for name in ("kmeanslab", "dask-ml", "kmeanslab in-process"):
            v = r[name]
            ratio = "1x" if name == "dask-ml" else f"**{r['dask-ml']['t'] / v['t']:.1f}x**"
            lines.append(f"| {r['k']} | {name} | {v['t']:.2f} | {ratio} | {v['n_iter']:.0f} | {v['sse']:.7g} |")
    lines += [
        "",
        f"## 2. The same fit on Dask and in-process ({args.max_iter} Lloyd iterations from the same "
        "k-means++ centres, tol=0; in-process on 2 OpenMP threads)",
        "",
        "| K | Dask fit (s) | in-process fit (s) | Dask / in-process | Dask ms / iteration | "
        "in-process ms / iteration |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in same:
        lines.append(f"| {r['k']} | {r['dask'][0]:.2f} | {r['local'][0]:.2f} | **{r['dask'][0] / r['local'][0]:.2f}x** | "
                     f"{1e3 * r['dask'][1]:.0f} | {1e3 * r['local'][1]:.0f} |")
    if stream:
        s = stream
        lines += [
            "",
            "## 3. Streaming a Zarr store (blocks read from the store every pass, not persisted)",
            "",
            f"`{Path(s['path']).name}`, K={s['k']}, Lloyd from fixed centres; one iteration from "
            f"fits of {args.max_iter} and {2 * args.max_iter} iterations; plain pass: "
            "`da.from_zarr(path).sum().compute()`. Worker resident memory sampled every 20 ms.",
            "",
            "| rows x features | data | blocks | ms / iteration | plain pass (ms) | iteration / pass | "
            "worker RSS at start (MiB) | worker peak RSS (MiB) | peak / data |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
            f"| {s['n']:,} x {s['d']} | {s['gib']:.2f} GiB | {s['blocks']} | {1e3 * s['per_it']:.0f} | "
            f"{1e3 * s['plain']:.0f} | **{s['per_it'] / s['plain']:.2f}x** | "
            f"{' / '.join(f'{v:.0f}' for v in s['before'])} | {' / '.join(f'{v:.0f}' for v in s['peak'])} | "
            f"{max(s['peak']) / (s['gib'] * 1024):.2f} |",
        ]
    lines += ["", f"Total benchmark time {elapsed / 60:.1f} min.", ""]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".md.tmp")
    tmp.write_text("\n".join(lines))
    tmp.replace(path)
    print("\n".join(lines))


def _zarr_copy(X, folder):
    import zarr

    path = Path(folder) / "mnist70k.zarr"
    z = zarr.open_array(str(path), mode="w", shape=X.shape, chunks=(8_750, X.shape[1]), dtype=X.dtype)
    z[:] = X
    return path


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ks", type=int, nargs="+", default=[10, 100])
    p.add_argument("--max-iter", type=int, default=10)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--big", default=None, help="Zarr store to stream (default: MNIST-70k copied to one)")
    p.add_argument("--skip", nargs="*", default=[], choices=["defaults", "same", "stream"])
    p.add_argument("--out", default=str(HERE / "results" / "bench_dask.md"))
    args = p.parse_args()
    import tempfile

    import dask.array as da
    import distributed

    from kmeanslab.data import load_mnist

    t0 = time.perf_counter()
    X, _ = load_mnist("all", download=False)
    # X travels into the graph once, to be persisted on the workers: expected here.
    warnings.filterwarnings("ignore", "Sending large graph", UserWarning)
    cluster_args = dict(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                        env=WORKER_ENV)
    defaults = same = stream = None
    with distributed.LocalCluster(**cluster_args) as cluster, distributed.Client(cluster) as client:
        Xd = da.from_array(X, chunks=(8_750, -1)).persist()
        if "defaults" not in args.skip:
            defaults = bench_defaults(client, X, Xd, args.ks, args.repeats)
        if "same" not in args.skip:
            same = bench_local(client, X, Xd, args.ks, args.max_iter, args.repeats)
    if "stream" not in args.skip:
        with tempfile.TemporaryDirectory() as tmp, distributed.LocalCluster(**cluster_args) as cluster, \
                distributed.Client(cluster) as client:
            path = args.big or _zarr_copy(X, tmp)
            stream = bench_stream(client, path, 10, args.max_iter, args.repeats)
            stream["path"] = str(path)
    write_table(Path(args.out), defaults or [], same or [], stream, args, time.perf_counter() - t0)


if __name__ == "__main__":
    main()
