"""The classic MNIST k-means notebook as a whole process: kmeanslab against scikit-learn.

Each run is a fresh Python process that does what the notebooks do: load MNIST train and
test (the same plain IDX reader for both libraries), ``KMeans(10, n_init=N,
random_state=0).fit`` on the 60,000 training images, predict the test images, map each
cluster to its majority digit (learned on train), report test accuracy and NMI, and save
two figures (centroids, contingency). Runs alternate between the libraries; the table
gives the median wall time of whole processes (start to exit) and their ratio. A third
process runs the same script with a k-means that takes no time and imports no k-means
library: scikit-learn's time over it is the most any library's fit could gain on the
whole process (its ceiling).

    KMEANSLAB_DATA=../shared/data .venv/bin/python benchmarks/bench_notebook.py [--repeat 3]
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent

SCRIPT = r'''
import gzip, os, sys
import numpy as np
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
from sklearn.metrics import normalized_mutual_info_score
lib, n_init, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
if lib == "kmeanslab":
    from kmeanslab import KMeans
elif lib == "sklearn":
    from sklearn.cluster import KMeans
else:  # "no fit": the rest of the script, with a k-means that takes no time
    class KMeans:
        def __init__(self, n_clusters, **kw):
            self.n_clusters = n_clusters
        def fit(self, X):
            self.cluster_centers_ = X[:self.n_clusters]
            self.labels_ = np.arange(X.shape[0]) % self.n_clusters
            self.inertia_ = 0.0
            return self
        def predict(self, X):
            return np.arange(X.shape[0]) % self.n_clusters

def idx(name):
    with gzip.open(os.path.join(os.environ["KMEANSLAB_DATA"], "mnist", name)) as f:
        raw = f.read()
    dims = raw[3]
    shape = np.frombuffer(raw, ">u4", dims, 4)
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * dims).reshape(shape)

X = idx("train-images-idx3-ubyte.gz").reshape(60000, -1).astype(np.float32) / 255
y = idx("train-labels-idx1-ubyte.gz")
Xt = idx("t10k-images-idx3-ubyte.gz").reshape(10000, -1).astype(np.float32) / 255
yt = idx("t10k-labels-idx1-ubyte.gz")
km = KMeans(n_clusters=10, n_init=n_init, random_state=0).fit(X)
pred = km.predict(Xt)
digit = np.array([np.bincount(y[km.labels_ == c], minlength=10).argmax() for c in range(10)])
acc = float((digit[pred] == yt).mean())
nmi = normalized_mutual_info_score(yt, pred)
fig, axes = plt.subplots(1, 10, figsize=(12, 1.6))
for c, ax in enumerate(axes):
    ax.imshow(km.cluster_centers_[c].reshape(28, 28), cmap="gray")
    ax.set_title(str(digit[c]))
    ax.axis("off")
fig.savefig(os.path.join(out, "centroids.png"))
table = np.zeros((10, 10), int)
np.add.at(table, (yt, pred), 1)
fig, ax = plt.subplots(figsize=(5, 5))
ax.imshow(table, cmap="viridis")
ax.set_xlabel("cluster")
ax.set_ylabel("digit")
fig.savefig(os.path.join(out, "contingency.png"))
print(acc, nmi, km.inertia_)
'''


def run(lib, n_init):
    with tempfile.TemporaryDirectory() as out:
        t = time.perf_counter()
        proc = subprocess.run([sys.executable, "-c", SCRIPT, lib, str(n_init), out], capture_output=True, text=True)
        wall = time.perf_counter() - t
    if proc.returncode:
        raise RuntimeError(proc.stderr)
    acc, nmi, inertia = (float(v) for v in proc.stdout.split()[-3:])
    return wall, acc, nmi, inertia


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--n-init", default="1,10")
    ap.add_argument("--out", default=str(HERE / "results" / "bench_notebook.md"))
    args = ap.parse_args(argv)
    if "KMEANSLAB_DATA" not in os.environ:
        sys.exit("set KMEANSLAB_DATA to the folder holding mnist/")
    lines = ["# bench_notebook: the MNIST k-means notebook as a whole process", "",
             f"machine: {os.cpu_count()} cores (load average {os.getloadavg()[0]:.1f} at the start); "
             f"median of {args.repeat} fresh processes each, runs alternating between the libraries", "",
             "| n_init | kmeanslab s | scikit-learn s | speed-up | no fit s | ceiling | first kmeanslab run s | "
             "test accuracy (ours / sklearn) | test NMI (ours / sklearn) |", "|" + "---|" * 9]
    for n_init in (int(v) for v in args.n_init.split(",")):
        runs = {"kmeanslab": [], "sklearn": [], "nofit": []}
        for _ in range(args.repeat):
            for lib in runs:
                runs[lib].append(run(lib, n_init))
                print(f"n_init={n_init} {lib}: {runs[lib][-1][0]:.2f} s", file=sys.stderr)
        ours, theirs, bare = (np.median(np.array(runs[lib]), axis=0) for lib in runs)
        lines.append(f"| {n_init} | {ours[0]:.2f} | {theirs[0]:.2f} | **{theirs[0] / ours[0]:.2f}x** | "
                     f"{bare[0]:.2f} | {theirs[0] / bare[0]:.2f}x | "
                     f"{runs['kmeanslab'][0][0]:.2f} | {ours[1]:.3f} / {theirs[1]:.3f} | "
                     f"{ours[2]:.3f} / {theirs[2]:.3f} |")
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
