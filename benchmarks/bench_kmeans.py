"""KMeans on MNIST-70k (float32): kmeanslab against scikit-learn, scikit-learn-intelex and faiss.

Same data, same seeds, runs interleaved in one process; medians over seeds (K=10: seeds
0-9, larger K: 0-2); ratios side by side. Also the floors (one pass over X, X @ C.T) of
one full Lloyd step, and, each in fresh subprocesses (medians of several): import time
against scikit-learn's, the first fit of a new process against its second, and the peak
memory of a fit above X.

    KMEANSLAB_DATA=../shared/data .venv/bin/python benchmarks/bench_kmeans.py [--quick]
"""

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def median_time(fn, repeat=5):
    fn()
    return float(np.median([timed(fn)[1] for _ in range(repeat)]))


def load():
    from kmeanslab.data import load_mnist

    X, _ = load_mnist("all", download=False)
    return X


def run_kmeanslab(X, k, seed, algorithm):
    from kmeanslab import KMeans, kmeans_plusplus

    _, t_seed = timed(lambda: kmeans_plusplus(X, k, random_state=seed))
    km, t_fit = timed(lambda: KMeans(k, n_init=1, random_state=seed, algorithm=algorithm).fit(X))
    return t_seed, t_fit, km.n_iter_, km.inertia_


def run_sklearn(X, k, seed):
    from sklearn.cluster import KMeans, kmeans_plusplus

    _, t_seed = timed(lambda: kmeans_plusplus(X, k, random_state=seed))
    km, t_fit = timed(lambda: KMeans(k, n_init=1, random_state=seed, algorithm="lloyd").fit(X))
    return t_seed, t_fit, km.n_iter_, km.inertia_


def run_sklearnex(X, k, seed):
    from sklearnex.cluster import KMeans

    km, t_fit = timed(lambda: KMeans(k, n_init=1, random_state=seed).fit(X))
    return float("nan"), t_fit, km.n_iter_, km.inertia_


def run_faiss(X, k, seed):
    import faiss

    def fit():
        km = faiss.Kmeans(X.shape[1], k, niter=300, seed=seed, verbose=False, min_points_per_centroid=1,
                          max_points_per_centroid=10**9)
        km.train(X)
        _, idx = km.index.search(X, 1)
        c = km.centroids[idx[:, 0]]
        return km, float(((X - c) ** 2).sum())

    (km, inertia), t_fit = timed(fit)
    return float("nan"), t_fit, 300, inertia


def references(names):
    refs = {"sklearn": run_sklearn}
    for name, mod, fn in (("sklearnex", "sklearnex", run_sklearnex), ("faiss", "faiss", run_faiss)):
        if name not in names:
            continue
        try:
            __import__(mod)
            refs[name] = fn
        except ImportError:  # said, not silently dropped from the table
            print(f"bench_kmeans: {name} is not installed, so it is not in the table "
                  f"(pip install -e '.[bench]')", file=sys.stderr, flush=True)
    return refs


def subprocess_values(code, env=None):
    """The numbers a fresh Python process prints on its last line."""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, **(env or {})})
    return [float(v) for v in out.stdout.strip().splitlines()[-1].split()]


def subprocess_seconds(code, env=None):
    return subprocess_values(code, env)[0]


IMPORTS = {"kmeanslab": "import kmeanslab; from kmeanslab import KMeans",
           "sklearn": "from sklearn.cluster import KMeans"}
FIRST_SECOND = ("import time;from kmeanslab import KMeans;from kmeanslab.datasets import load_mnist\n"
                "X,_=load_mnist('all',download=False)\n"
                "def fit():\n t=time.perf_counter();KMeans(10,n_init=1,random_state=0).fit(X)\n"
                " return time.perf_counter()-t\n"
                "a=fit();b=fit();print(a,b)")


def process_rows(repeat):
    """Import times (interleaved, medians of at least 8: one import varies by 0.5 s here)
    and the first fit of a new process vs its second."""
    times = {name: [] for name in IMPORTS}
    for _ in range(max(repeat, 8)):
        for name, stmt in IMPORTS.items():
            times[name].append(subprocess_seconds(f"import time;t=time.perf_counter();{stmt};"
                                                  "print(time.perf_counter()-t)"))
    ours, theirs = (float(np.median(times[n])) for n in IMPORTS)
    pairs = np.array([subprocess_values(FIRST_SECOND) for _ in range(repeat)])
    first, second = np.median(pairs, axis=0)
    return [(f"`{IMPORTS['kmeanslab']}` (s)", ours), (f"`{IMPORTS['sklearn']}` (s)", theirs),
            ("  kmeanslab import - sklearn import (s)", ours - theirs),
            ("first KMeans(10, n_init=1).fit in a new process (s)", first),
            ("second fit in that process (s)", second), ("  first / second", first / second)]


def peak_memory_mb(k, algorithm):
    """Peak RSS during a fit above the RSS before it (Linux: the peak is reset first)."""
    code = (
        "import re,numpy as np;from kmeanslab.data import load_mnist;from kmeanslab import KMeans\n"
        "def status(key): return int(re.search(key + r':\\s+(\\d+)', open('/proc/self/status').read()).group(1))\n"
        "X,_=load_mnist('all',download=False)\n"
        "KMeans(2,n_init=1,max_iter=2,random_state=0).fit(X[:1000])\n"
        "open('/proc/self/clear_refs','w').write('5')\n"
        "base=status('VmRSS')\n"
        f"KMeans({k},n_init=1,random_state=0,algorithm={algorithm!r}).fit(X)\n"
        "print((status('VmHWM')-base)/1024)"
    )
    return subprocess_seconds(code)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ks", default="10,100,256")
    ap.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 for K > 10")
    ap.add_argument("--seeds-k10", type=int, default=10, help="seeds 0..N-1 for K <= 10")
    ap.add_argument("--repeat", type=int, default=5, help="fresh processes per subprocess row")
    ap.add_argument("--refs", default="sklearnex,faiss", help="references besides scikit-learn")
    ap.add_argument("--algorithm", default="auto")
    ap.add_argument("--quick", action="store_true", help="one seed, no subprocess rows")
    ap.add_argument("--out", default=str(HERE / "results" / "bench_kmeans.md"))
    args = ap.parse_args(argv)
    ks = [int(k) for k in args.ks.split(",")]

    def seeds_for(k):
        return range(1 if args.quick else (args.seeds_k10 if k <= 10 else args.seeds))

    X = load()
    from kmeanslab import _core

    print(f"MNIST-70k {X.shape} {X.dtype}; kernels: {_core.cpu_level()}, {_core.max_threads()} threads",
          file=sys.stderr)
    load_avg = os.getloadavg()[0]
    lines = ["# bench_kmeans: MNIST-70k float32, n_init=1, k-means++, default tol", "",
             f"machine: {os.cpu_count()} cores (load average {load_avg:.1f} at the start); kernels: "
             f"{_core.cpu_level()}; seeds 0-{args.seeds_k10 - 1} at K<=10, 0-{args.seeds - 1} above; "
             f"medians over seeds; kmeanslab algorithm={args.algorithm!r}", ""]
    floor_rows = [("one pass over X: X.sum() (ms)", 1e3 * median_time(lambda: X.sum()))]
    from kmeanslab.cluster import _engine

    data = _engine.Data(X, np.ones(X.shape[0], X.dtype))
    for k in ks:
        C = X[:: X.shape[0] // k][:k].copy()
        gemm = 1e3 * median_time(lambda: X @ C.T)
        step = 1e3 * median_time(lambda: _engine.lloyd_block(data, C))
        floor_rows.append((f"X @ C.T, K={k} (ms)", gemm))
        floor_rows.append((f"one full Lloyd step (labels + sums), K={k} (ms)", step))
        floor_rows.append((f"  that step / one pass over X, K={k}", step / floor_rows[0][1]))
        floor_rows.append((f"  that step / X @ C.T, K={k}", step / gemm))

    refs = references(args.refs.split(","))
    table = ["| K | impl | seeding s | iterations | ms / iteration | total fit s | inertia | "
             "fit speed-up vs sklearn | inertia / sklearn |", "|" + "---|" * 9]
    summary = ["| K | seeds | kmeanslab fit s | " + " | ".join(f"{n} fit s" for n in refs) + " | "
               + " | ".join(f"kmeanslab speed-up vs {n}" for n in refs) + " |",
               "|" + "---|" * (3 + 2 * len(refs))]
    for k in ks:
        results = {name: [] for name in ["kmeanslab", *refs]}
        for seed in seeds_for(k):  # interleaved: the same machine state for all
            results["kmeanslab"].append(run_kmeanslab(X, k, seed, args.algorithm))
            for name, fn in refs.items():
                results[name].append(fn(X, k, seed))
            print(f"K={k} seed={seed}: " + ", ".join(f"{n} {r[-1][1]:.2f}s" for n, r in results.items()),
                  file=sys.stderr)
        med = {n: np.median(np.array(r, dtype=float), axis=0) for n, r in results.items()}
        sk = med["sklearn"]
        for name, (t_seed, t_fit, n_iter, inertia) in med.items():
            per_iter = (t_fit - (t_seed if np.isfinite(t_seed) else 0)) / n_iter * 1e3
            table.append(f"| {k} | {name} | {t_seed:.3f} | {n_iter:.0f} | {per_iter:.1f} | {t_fit:.3f} | "
                         f"{inertia:.6g} | {sk[1] / t_fit:.2f}x | {inertia / sk[3]:.4f} |")
        ours = med["kmeanslab"][1]
        seeds = seeds_for(k)
        summary.append(f"| {k} | {seeds[0]}-{seeds[-1]} | {ours:.3f} | "
                       + " | ".join(f"{med[n][1]:.3f}" for n in refs) + " | "
                       + " | ".join(f"**{med[n][1] / ours:.2f}x**" for n in refs) + " |")
        # Rows as soon as each K is done: a run cut short still leaves its table.
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text("\n".join(lines + summary + [""] + table) + "\n")
    lines += summary + [""] + table + ["", "| floor / overhead | value |", "|---|---|"]
    lines += [f"| {name} | {value:.2f} |" for name, value in floor_rows]
    if not args.quick:
        extra = process_rows(args.repeat)
        extra += [(f"peak RSS of a fit above X, K={k} (MB)", peak_memory_mb(k, args.algorithm)) for k in ks]
        lines += [f"| {name} | {value:.2f} |" for name, value in extra]
    text = "\n".join(lines) + "\n"
    print(text)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
