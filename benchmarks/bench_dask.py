"""KMeans on Dask: kmeanslab against dask_ml.cluster.KMeans on one LocalCluster (2 workers).

MNIST-70k (float32) as a dask array of 10,000-row blocks, persisted on the workers;
K = 10 and 100; both libraries start from the same centres (greedy k-means++ on X)
and run the same number of Lloyd iterations (tol=0). Times are medians over
``--repeats`` interleaved fits; the SSE of each result is computed here, the same
way for both, in float64 from its labels and centres (dask-ml's ``inertia_`` is a
sum of unsquared distances). Plus the scaling row: a >= 700,000-row Zarr store
(``scripts/make_big_mnist.py``) clustered with K=10 by streaming its blocks (not
persisted), with each worker's peak resident memory against the data's size.

    KMEANSLAB_DATA=../shared/data .venv/bin/python benchmarks/bench_dask.py --big big_mnist.zarr
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


def bench_mnist(client, X, ks, max_iter, repeats):
    import dask.array as da
    from dask_ml.cluster import KMeans as DaskMLKMeans

    from kmeanslab import KMeans, kmeans_plusplus

    # 8 blocks of 8,750 rows: ~10k-row blocks that split evenly over the 2 workers
    Xd = da.from_array(X, chunks=(8_750, -1)).persist()
    rows = []
    for k in ks:
        init = kmeans_plusplus(X, k, random_state=0)[0]
        makers = {
            "lloyd": lambda: KMeans(k, init=init, max_iter=max_iter, tol=0, algorithm="lloyd"),
            "auto": lambda: KMeans(k, init=init, max_iter=max_iter, tol=0, algorithm="auto"),
            "dask-ml": lambda: DaskMLKMeans(k, init=init, max_iter=max_iter, tol=0, n_init=1),
        }
        for make in makers.values():
            fit_timed(make, Xd)  # warm the workers (JIT caches, imports)
        times = {name: [] for name in makers}
        for rep in range(repeats):
            for name, make in makers.items():
                est, labels, t = fit_timed(make, Xd)
                times[name].append(t)
                if rep == 0:
                    times[name + "/fit"] = (est, labels)
        local = KMeans(k, init=init, max_iter=max_iter, tol=0, algorithm="lloyd").fit(X)
        row = {"k": k, "sse_local": sse(X, local.labels_, local.cluster_centers_)}
        for name in makers:
            est, labels = times[name + "/fit"]
            row[name] = {"t": float(np.median(times[name])), "n_iter": int(est.n_iter_),
                         "sse": sse(X, labels, est.cluster_centers_),
                         "same": float(np.mean(labels == local.labels_))}
        rows.append(row)
        print(f"K={k}: " + ", ".join(f"{n} {row[n]['t']:.2f} s (SSE {row[n]['sse']:.7g})" for n in makers)
              + f"; in-process SSE {row['sse_local']:.7g}", flush=True)
    return rows


def _warm():
    import kmeanslab.cluster._dask  # noqa: F401  (imports and JIT caches out of the peak's way)


def bench_big(client, path, k, max_iter):
    import dask

    from kmeanslab import KMeans
    from kmeanslab.data import open_array

    client.run(_warm)
    before = client.run(start_rss_sampler)
    X = open_array(path)
    with dask.config.set({"kmeanslab.persist": False}):  # stream the blocks from the store
        t = time.perf_counter()
        km = KMeans(k, init="k-means||", max_iter=max_iter, random_state=0).fit(X)
        elapsed = time.perf_counter() - t
    sampled = client.run(stop_rss_sampler)
    maxrss = client.run(peak_rss_mib)
    return {"n": X.shape[0], "d": X.shape[1], "gib": X.nbytes / 2**30, "blocks": len(X.chunks[0]),
            "k": k, "n_iter": km.n_iter_, "time": elapsed, "inertia": km.inertia_,
            "before": sorted(before.values()), "peak": sorted(sampled.values()),
            "maxrss": sorted(maxrss.values())}


def write_table(path, mnist_rows, big, args, elapsed):
    lines = [
        "# KMeans on Dask: kmeanslab vs dask-ml",
        "",
        f"`benchmarks/bench_dask.py` on {platform.machine()} with {os.cpu_count()} cores (shared with "
        "other jobs: times are noisy), one LocalCluster: 2 worker processes x 1 thread, "
        "OMP threads = 1. MNIST-70k float32 as a dask array "
        f"persisted on the workers (8 blocks of 8,750 rows); same initial centres (k-means++) and "
        f"{args.max_iter} Lloyd iterations (tol=0) for all; fit time (labels gathered, seeding "
        f"excluded), median of {args.repeats} interleaved fits. kmeanslab `lloyd`: full passes of "
        "`lloyd_block`; `auto`: the engine's Hamerly (K < 16) / Elkan steppers kept per block on "
        "the workers (same labels as Lloyd). SSE computed here in float64 from each result's "
        "labels and centres; \"labels\" = share of labels equal to in-process Lloyd's.",
        "",
        "| data | K | fit | iterations | time (s) | dask-ml time / this | SSE | labels = in-process |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in mnist_rows:
        for name in ("lloyd", "auto", "dask-ml"):
            v = r[name]
            label = "dask_ml.cluster.KMeans" if name == "dask-ml" else f"kmeanslab `{name}`"
            ratio = r["dask-ml"]["t"] / v["t"]
            ratio = f"**{ratio:.1f}x**" if name != "dask-ml" else "1x"
            lines.append(f"| MNIST-70k | {r['k']} | {label} | {v['n_iter']} | {v['t']:.2f} | {ratio} | "
                         f"{v['sse']:.7g} | {100 * v['same']:.2f} % |")
        lines.append(f"| MNIST-70k | {r['k']} | in-process kmeanslab (`lloyd`, reference) | "
                     f"{args.max_iter} | | | {r['sse_local']:.7g} | 100 % |")
    if big:
        lines += [
            "",
            "## Scaling: out-of-core Zarr",
            "",
            f"`{Path(args.big).name}` from `scripts/make_big_mnist.py` (MNIST x 10, shifts <= 2 px, "
            "noise 0.05), streamed from the store every pass (not persisted); k-means|| seeding "
            f"(distributed) + Lloyd (full passes) with the default tol and max_iter={args.big_max_iter}, "
            "on a fresh LocalCluster (2 workers x 1 "
            "thread). Worker RSS per worker: resident memory before the fit, and its peak during "
            "the fit (sampled every 20 ms; the process's VmHWM high-water mark in brackets).",
            "",
            "| rows x features | data (float32) | blocks | K | iterations | time (s) | s / iteration "
            "(incl. seeding) | worker RSS at start (MiB) | worker peak RSS (MiB) | peak / data |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
            f"| {big['n']:,} x {big['d']} | {big['gib']:.2f} GiB | {big['blocks']} | {big['k']} | "
            f"{big['n_iter']} | {big['time']:.1f} | {big['time'] / big['n_iter']:.2f} | "
            f"{' / '.join(f'{v:.0f}' for v in big['before'])} | "
            f"{' / '.join(f'{v:.0f}' for v in big['peak'])} "
            f"({' / '.join(f'{v:.0f}' for v in big['maxrss'])}) | "
            f"{max(big['peak']) / (big['gib'] * 1024):.2f} |",
        ]
    lines += ["", f"Total benchmark time {elapsed / 60:.1f} min.", ""]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".md.tmp")
    tmp.write_text("\n".join(lines))
    tmp.replace(path)
    print("\n".join(lines))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ks", type=int, nargs="+", default=[10, 100])
    p.add_argument("--max-iter", type=int, default=20)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--big", default=None, help="Zarr store for the scaling row (make_big_mnist.py)")
    p.add_argument("--big-max-iter", type=int, default=50)
    p.add_argument("--out", default=str(HERE / "results" / "bench_dask.md"))
    args = p.parse_args()
    import distributed

    from kmeanslab.data import load_mnist

    t0 = time.perf_counter()
    X, _ = load_mnist("all", download=False)
    # X travels into the graph once, to be persisted on the workers: expected here.
    warnings.filterwarnings("ignore", "Sending large graph", UserWarning)
    cluster_args = dict(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                        env=WORKER_ENV)
    with distributed.LocalCluster(**cluster_args) as cluster, distributed.Client(cluster) as client:
        rows = bench_mnist(client, X, args.ks, args.max_iter, args.repeats)
    big = None
    if args.big:
        with distributed.LocalCluster(**cluster_args) as cluster, distributed.Client(cluster) as client:
            big = bench_big(client, args.big, 10, args.big_max_iter)
    write_table(Path(args.out), rows, big, args, time.perf_counter() - t0)


if __name__ == "__main__":
    main()
