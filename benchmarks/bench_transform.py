"""KMeans.transform on MNIST-70k (float32): kmeanslab against scikit-learn, time and accuracy.

The same centres in both (rows of X, moved a little), runs interleaved in one process,
medians of ``--repeat`` runs. Also the formula kmeanslab used before (the expanded form in
float32, one GEMM), for its speed. Accuracy: largest relative error against long-double
distances on a sample of rows, and the diagonal of transform(cluster_centers_).

    KMEANSLAB_DATA=../shared/data .venv/bin/python benchmarks/bench_transform.py [--repeat 5]
"""

import argparse
import time

import numpy as np
import sklearn.cluster as skc

from kmeanslab.cluster import KMeans
from kmeanslab.cluster import _engine
from kmeanslab.datasets import load_mnist


def expanded_float32(X, C):
    """kmeanslab's transform before: ||x||^2 - 2 x.c + ||c||^2 in X's dtype."""
    x_sq = np.einsum("ij,ij->i", X, X)
    with _engine.single_threaded_blas():
        d2 = (X @ C.T) * -2
    d2 += x_sq[:, None]
    d2 += np.einsum("ij,ij->i", C, C)[None, :]
    np.maximum(d2, 0, out=d2)
    return np.sqrt(d2, out=d2)


def max_rel_err(D, X, C):
    X, C = X.astype(np.longdouble), C.astype(np.longdouble)
    ref = np.sqrt(((X[:, None, :] - C[None]) ** 2).sum(-1))
    ok = ref > 0
    return float(np.max(np.abs(D.astype(np.longdouble)[ok] - ref[ok]) / ref[ok]))


def fitted(K, C, X):
    """A kmeanslab and a scikit-learn KMeans whose centres are exactly C."""
    ours = KMeans(K, init=C, max_iter=1).fit(X[:5000])
    ref = skc.KMeans(K, init=C, n_init=1, max_iter=1).fit(X[:5000])
    ours.cluster_centers_ = C.copy()
    ref.cluster_centers_ = C.copy()
    return ours, ref


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    X = np.concatenate([load_mnist("train", download=False)[0], load_mnist("test", download=False)[0]])
    rng = np.random.RandomState(0)
    sample = rng.choice(len(X), 300, replace=False)
    print(f"MNIST {X.shape} {X.dtype}; medians of {args.repeat} runs, interleaved; wall "
          f"(CPU time of all threads)\n")
    print("| K | kmeanslab | scikit-learn | expanded float32 (before) | max rel. error kmeanslab "
          "/ scikit-learn / before | diagonal of transform(centres): kmeanslab / scikit-learn / before |")
    print("| --- | --- | --- | --- | --- | --- |")
    for K in (10, 100, 256):
        C = (X[rng.choice(len(X), K, replace=False)] + rng.uniform(0, 0.01, (K, X.shape[1]))).astype(X.dtype)
        ours, ref = fitted(K, C, X)
        runs = {"ours": lambda: ours.transform(X), "sklearn": lambda: ref.transform(X),
                "before": lambda: expanded_float32(X, C)}
        times = {name: [] for name in runs}
        cpu = {name: [] for name in runs}
        for fn in runs.values():
            fn()  # warm-up
        for _ in range(args.repeat):
            for name, fn in runs.items():
                t, c = time.perf_counter(), time.process_time()
                fn()
                times[name].append(time.perf_counter() - t)
                cpu[name].append(time.process_time() - c)
        ms = {name: f"{1e3 * np.median(times[name]):.0f} ms ({1e3 * np.median(cpu[name]):.0f} ms CPU)"
              for name in runs}
        Xs = X[sample]
        err = [max_rel_err(D, Xs, C) for D in (ours.transform(Xs), ref.transform(Xs),
                                                  expanded_float32(Xs, C))]
        diag = [float(np.abs(np.diag(D)).max()) for D in (ours.transform(C), ref.transform(C),
                                                          expanded_float32(C, C))]
        print(f"| {K} | {ms['ours']} | {ms['sklearn']} | {ms['before']} | "
              f"{err[0]:.2e} / {err[1]:.2e} / {err[2]:.2e} | {diag[0]:.3g} / {diag[1]:.3g} / "
              f"{diag[2]:.3g} |")


if __name__ == "__main__":
    main()
