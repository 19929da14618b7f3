"""Write a large MNIST-like data set to Zarr: MNIST x N with small random shifts and noise.

Each copy of the 70,000 MNIST digits (train + test) has every image shifted by up to
``--max-shift`` pixels in each direction (zero fill) and Gaussian pixel noise added,
clipped to [0, 1]. Copy ``c`` draws from its own seed (``--seed``, ``c``), so the
store is the same whatever the order it is written in. The store is a Zarr group
with ``X`` (n x 784 float32, chunked by ``--chunk-rows`` whole rows) and ``y``
(int64 labels); ``kmeanslab run --dataset PATH.zarr`` and ``open_array`` read it
lazily.

    python scripts/make_big_mnist.py --out big_mnist.zarr --copies 10
"""

import argparse
import sys
import time

import numpy as np


def shift_images(images, dx, dy):
    """Each 28x28 image moved by (dx[i], dy[i]) pixels, zero-filled (images: n x 28 x 28)."""
    out = np.zeros_like(images)
    h, w = images.shape[1:]
    for sx in np.unique(dx):
        for sy in np.unique(dy):
            rows = np.flatnonzero((dx == sx) & (dy == sy))
            if rows.size == 0:
                continue
            src = images[rows][:, max(0, -sy):h - max(0, sy), max(0, -sx):w - max(0, sx)]
            out[rows, max(0, sy):h - max(0, -sy), max(0, sx):w - max(0, -sx)] = src
    return out


def augment(images, rs, max_shift, noise):
    """Shifted, noisy copies of ``images`` (n x 784 float32 in [0, 1])."""
    n = images.shape[0]
    dx = rs.randint(-max_shift, max_shift + 1, n)
    dy = rs.randint(-max_shift, max_shift + 1, n)
    out = shift_images(images.reshape(n, 28, 28), dx, dy).reshape(n, 784)
    if noise > 0:
        out += rs.normal(0.0, noise, out.shape).astype(np.float32)
        np.clip(out, 0.0, 1.0, out=out)
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True, help="the .zarr store to write (replaced)")
    p.add_argument("--copies", type=int, default=10, help="copies of MNIST's 70,000 rows")
    p.add_argument("--max-shift", type=int, default=2)
    p.add_argument("--noise", type=float, default=0.05, help="standard deviation of pixel noise")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--chunk-rows", type=int, default=10_000)
    p.add_argument("--data-home", default=None, help="folder holding mnist/ (default: KMEANSLAB_DATA)")
    args = p.parse_args(argv)
    import zarr

    from kmeanslab.data import load_mnist

    X_tr, y_tr = load_mnist("train", data_home=args.data_home, download=False)
    X_te, y_te = load_mnist("test", data_home=args.data_home, download=False)
    base = np.ascontiguousarray(np.concatenate([X_tr, X_te]), dtype=np.float32)
    labels = np.concatenate([y_tr, y_te]).astype(np.int64)
    m = base.shape[0]
    n = m * args.copies
    group = zarr.open_group(args.out, mode="w")
    X = group.create_array("X", shape=(n, 784), chunks=(args.chunk_rows, 784), dtype="float32")
    y = group.create_array("y", shape=(n,), chunks=(args.chunk_rows,), dtype="int64")
    group.attrs.update({"source": "MNIST train+test", "copies": args.copies, "max_shift": args.max_shift,
                        "noise": args.noise, "seed": args.seed, "image_shape": [28, 28]})
    t0 = time.perf_counter()
    for c in range(args.copies):
        rs = np.random.RandomState(np.random.SeedSequence([args.seed, c]).generate_state(4))
        block = augment(base, rs, args.max_shift, args.noise)
        # whole chunks per write where the copy boundary allows it
        for s in range(0, m, args.chunk_rows):
            e = min(s + args.chunk_rows, m)
            X[c * m + s:c * m + e] = block[s:e]
        y[c * m:(c + 1) * m] = labels
        print(f"copy {c + 1}/{args.copies} written ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    print(f"{args.out}: X {n} x 784 float32 ({n * 784 * 4 / 2**30:.2f} GiB in memory), y {n}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
