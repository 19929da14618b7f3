"""The compiled engine against the numba engine it replaced, and scikit-learn, in one run.

The numba engine is kmeanslab as of an earlier commit (default: the parent of the commit
that brought the compiled kernels), extracted from git into a temporary folder and run in
its own processes with numba's JIT (its compilation is warmed up before the timed fits).
Each round runs one fresh process per engine, in turn; every process fits
``KMeans(k, n_init=1, random_state=s)`` on MNIST-70k (float32) for each seed. The table
gives the median fit time over seeds and rounds, and scikit-learn's time over each
engine's, so the two engines' ratios come from the same machine at the same load.
Needs numba (the ``test`` extra brings it through umap-learn).

    KMEANSLAB_DATA=../shared/data .venv/bin/python benchmarks/bench_engines.py [--ks 100]
"""

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
NUMBA_COMMIT = "ee082ed^"  # the last commit whose kernels were numba's

CHILD = r'''
import json, os, sys, time
engine, src, k, seeds = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
if engine == "numba":
    # the installed (editable) kmeanslab must not shadow the extracted one
    sys.meta_path[:] = [f for f in sys.meta_path
                        if "editable" not in (getattr(f, "__module__", "") + type(f).__name__).lower()]
    sys.path.insert(0, src)
    from kmeanslab.datasets import load_mnist
else:
    from kmeanslab.data import load_mnist
X = load_mnist("all", download=False)[0]
if engine == "sklearn":
    from sklearn.cluster import KMeans
else:
    from kmeanslab import KMeans
    import kmeanslab
    assert kmeanslab.__file__.startswith(src) == (engine == "numba"), kmeanslab.__file__
# warm-up: a whole fit for the engines (numba compiles kernels on their first call, some
# only late in a fit); scikit-learn's has nothing to compile
KMeans(k, n_init=1, random_state=99, max_iter=3 if engine == "sklearn" else 300).fit(X)
fits = []
for s in range(seeds):
    t = time.perf_counter()
    km = KMeans(k, n_init=1, random_state=s).fit(X)
    fits.append([time.perf_counter() - t, int(km.n_iter_), float(km.inertia_)])
print(json.dumps(fits))
'''


def extract(commit, into):
    """The src/ folder of ``commit`` (git archive), under ``into``."""
    root = Path(subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=HERE, check=True,
                               capture_output=True, text=True).stdout.strip())
    tar = Path(into) / "src.tar"
    subprocess.run(["git", "archive", "--format=tar", "-o", str(tar), commit, "src"], cwd=root, check=True)
    with tarfile.open(tar) as f:
        f.extractall(into, filter="data")
    return str(Path(into) / "src")


def run(engine, src, k, seeds):
    proc = subprocess.run([sys.executable, "-c", CHILD, engine, src, str(k), str(seeds)],
                          capture_output=True, text=True)
    if proc.returncode:
        raise RuntimeError(f"{engine}: {proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ks", default="100")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--numba-commit", default=NUMBA_COMMIT)
    ap.add_argument("--out", default=str(HERE / "results" / f"bench_engines_{time.strftime('%Y-%m-%d')}.md"))
    args = ap.parse_args(argv)
    if "KMEANSLAB_DATA" not in os.environ:
        sys.exit("set KMEANSLAB_DATA to the folder holding mnist/")
    engines = ("compiled", "numba", "sklearn")
    lines = ["# bench_engines: compiled engine, numba engine, scikit-learn", "",
             f"machine: {os.cpu_count()} cores (load average {os.getloadavg()[0]:.1f} at the start); "
             f"numba engine from commit {args.numba_commit}; seeds 0-{args.seeds - 1}, {args.rounds} rounds, "
             "one process per engine per round, in turn", "",
             "| K | compiled s | numba s | scikit-learn s | sklearn / compiled | sklearn / numba | "
             "numba / compiled | iterations (compiled / numba / sklearn) |", "|" + "---|" * 8]
    with tempfile.TemporaryDirectory() as tmp:
        src = extract(args.numba_commit, tmp)
        for k in (int(v) for v in args.ks.split(",")):
            fits = {e: [] for e in engines}
            for r in range(args.rounds):
                for e in engines:
                    fits[e].append(run(e, src, k, args.seeds))
                    print(f"K={k} round {r} {e}: " + " ".join(f"{f[0]:.2f}" for f in fits[e][-1]), file=sys.stderr)
            med = {e: float(np.median([f[0] for rnd in fits[e] for f in rnd])) for e in engines}
            its = {e: "/".join(str(f[1]) for f in fits[e][0]) for e in engines}
            lines.append(f"| {k} | {med['compiled']:.2f} | {med['numba']:.2f} | {med['sklearn']:.2f} | "
                         f"**{med['sklearn'] / med['compiled']:.2f}x** | {med['sklearn'] / med['numba']:.2f}x | "
                         f"{med['numba'] / med['compiled']:.2f}x | {its['compiled']} ; {its['numba']} ; {its['sklearn']} |")
            Path(args.out).parent.mkdir(parents=True, exist_ok=True)
            Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
