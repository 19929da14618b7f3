"""Invariants at the kernel boundary, meant to survive any reimplementation of the kernels.

They call the kernels' Python entry points (``_kernels.bounds``, ``_kernels.dense``,
``_kernels.sparse``) and ``_lloyd.BoundsStep`` with today's signatures, and check what
must hold whatever the kernels are written in:

- after every bounds step, each row's upper bound is at least its exact distance to its
  centre and each lower bound at most the exact distance it bounds (near-ties, centre
  moves of 1e-6 included);
- keys within the near-tie window, 2 err (||x||^2 + max ||c||^2), are settled by exact
  float64 distances, keys outside it by the key;
- results do not depend on the number of threads, in float32 and float64.
"""

from contextlib import contextmanager

import numpy as np
import pytest
import scipy.sparse as sp

import reference as ref
from kmeanslab import KMeans
from kmeanslab.cluster import _engine, _lloyd
from kmeanslab.cluster._kernels import bounds as bk
from kmeanslab.cluster._kernels import dense as dk
from kmeanslab.cluster._kernels import sparse as sk

DTYPES = (np.float32, np.float64)


# -- bounds hold after every step ---------------------------------------------------------

def near_ties(dtype, n=900, d=16, k=10, seed=0):
    """A third of the rows on the bisector of two centres (which is nearer is decided by
    rounding), the rest near a centre."""
    rng = np.random.RandomState(seed)
    C = 3 * rng.normal(size=(k, d))
    a = rng.randint(k, size=n // 3)
    b = (a + 1 + rng.randint(k - 1, size=a.size)) % k
    along = C[b] - C[a]
    off = rng.normal(size=(a.size, d))
    off -= along * ((off * along).sum(1) / (along * along).sum(1))[:, None]
    ties = (C[a] + C[b]) / 2 + 0.5 * off
    plain = C[rng.randint(k, size=n - a.size)] + 0.5 * rng.normal(size=(n - a.size, d))
    return np.concatenate([ties, plain]).astype(dtype), C.astype(dtype)


def grid_rows(n=900, d=16, k=10, seed=1):
    """Rows on 256 levels in [0, 1] (MNIST's pixels / 255): Elkan reads them from a byte copy."""
    rng = np.random.RandomState(seed)
    C = rng.uniform(0.2, 0.8, size=(k, d))
    X = C[rng.randint(k, size=n)] + rng.normal(scale=0.05, size=(n, d))
    X = np.rint(np.clip(X, 0, 1) * 255) / 255
    return X.astype(np.float32), C.astype(np.float32)


def moves(C, seed=0):
    """A sequence of centres: tiny moves (1e-6, relative and absolute), a real move, back."""
    rng = np.random.RandomState(seed)
    C64 = C.astype(np.float64)
    scale = np.abs(C64).max()
    out = [C64]
    for size in (1e-6, 1e-6 * scale, 2e-6, 0.05 * scale, 1e-6):
        out.append(out[-1] + size * rng.normal(size=C.shape))
    out.append(C64)
    return out


def run_and_check(X, C, kind):
    data = _engine.Data(X, np.ones(len(X), X.dtype))
    step = _lloyd.BoundsStep(data, len(C), kind)
    bounded = 0
    for centers in moves(C):
        centers = centers.astype(X.dtype)
        stats = step.step(centers)
        bounded += bool(step.cum.any())  # a bounded step (full passes zero the drift)
        bad = ref.bounds_violations(step, X, centers)
        assert all(rows.size == 0 for rows in bad.values()), {k: v[:5] for k, v in bad.items()}
        ref.assert_nearest(stats.labels, X, centers)
    assert bounded >= 3


@pytest.mark.parametrize("kind", ["hamerly", "elkan"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_bounds_hold_after_every_step_on_near_ties(kind, dtype):
    X, C = near_ties(dtype)
    run_and_check(X, C, kind)


def test_elkan_bounds_from_a_byte_copy_bound_the_real_rows():
    X, C = grid_rows()
    assert _engine.Data(X, np.ones(len(X), X.dtype)).byte_copy is not None
    run_and_check(X, C, "elkan")


@pytest.mark.parametrize("kind", ["hamerly", "elkan"])
def test_bounds_hold_after_a_relocation(kind):
    X, C = near_ties(np.float64, seed=2)
    data = _engine.Data(X, np.ones(len(X)))
    step = _lloyd.BoundsStep(data, len(C), kind)
    step.step(C)
    rows = np.array([5, 17])
    old = step.labels[rows].astype(np.int64)
    new = (old + 1) % len(C)
    step.relocated(rows, old, new)
    moved = C + 1e-6
    step.step(moved)
    bad = ref.bounds_violations(step, X, moved)
    assert all(r.size == 0 for r in bad.values()), bad


@pytest.mark.parametrize("kind", ["hamerly", "elkan"])
def test_a_step_its_bounds_leave_mostly_open_is_a_full_pass(kind):
    """After the centres jump, the bounds settle almost nothing: the bounded step is refused
    before it changes anything (Hamerly: more than FULL_HAMERLY of the rows open; Elkan,
    right after a full pass: more than FULL_ELKAN of the pairs) and the step is a full pass."""
    X, C = near_ties(np.float32, seed=3)
    step = _lloyd.BoundsStep(_engine.Data(X, np.ones(len(X), X.dtype)), len(C), kind)
    step.step(C)
    before = {name: getattr(step, name).copy() for name in ("labels", "upper", "lower", "glow", "cum")}
    rng = np.random.RandomState(3)
    jumped = (C + 0.5 * np.abs(C).max() * rng.normal(size=C.shape)).astype(X.dtype)
    assert step._bounded(jumped, _engine.center_sq_norms(jumped), jumped.astype(np.float64)) is False
    for name, value in before.items():
        assert np.array_equal(getattr(step, name), value), name
    stats = step.step(jumped)
    assert not step.cum.any()  # a full pass zeroes the drift
    ref.assert_nearest(stats.labels, X, jumped)
    assert all(rows.size == 0 for rows in ref.bounds_violations(step, X, jumped).values())


# -- the near-tie window ------------------------------------------------------------------

def window_case(dtype, multiple, seed=0, d=5):
    """One row x and centres c0, c1 (c1 truly nearer, by a tenth of the window W), c2 far
    away (it sets max ||c||^2). ``c_sq`` is exact except c1's, raised so that c1's key
    ||c||^2 - 2 x.c exceeds c0's by ``multiple`` * W: the key says c0, the exact distance c1.
    """
    rng = np.random.RandomState(seed)
    x = rng.normal(size=d)
    c0 = x + rng.normal(size=d)
    c2 = x + 60.0
    err = _engine.ERR[np.dtype(dtype)]
    X = x[None].astype(dtype)
    x_sq = float((X.astype(np.float64) ** 2).sum())
    W = 2 * err * (x_sq + float((c2.astype(dtype).astype(np.float64) ** 2).sum()))
    d0 = float(((x - c0) ** 2).sum())
    c1 = c0 + (0.05 * W / d0) * (x - c0)  # squared distance smaller by about W / 10
    C = np.array([c0, c1, c2]).astype(dtype)
    dist = ref.sq_dists(X, C)[0]
    assert 0 < dist[0] - dist[1] < 0.2 * W and dist[2] > 100 * W
    keys = dist - x_sq
    c_sq = (C.astype(np.float64) ** 2).sum(1)
    c_sq[1] += multiple * W - (keys[1] - keys[0])
    assert c_sq.argmax() == 2
    return X, C, c_sq.astype(dtype), dk.row_sq_norms(X), err


def kernel_labels(kernel, X, C, c_sq, x_sq, err):
    """The label each assignment kernel gives the row (bounds set so it is examined)."""
    n, k, dtype = X.shape[0], C.shape[0], X.dtype
    rel = 2.5 * np.finfo(dtype).eps
    labels = np.full(n, 2, dtype=np.int32)  # the far centre: every other one is a candidate
    upper, glow = np.full(n, np.inf), np.zeros(n)
    zeros_k = np.zeros(k)
    if kernel == "init_bounds":
        for lower in (np.empty((n, 0), dtype), np.empty((n, k), dtype)):
            bk.init_bounds(X, np.ones(n, dtype), C, c_sq, x_sq, err, rel, labels, upper, lower,
                           glow, np.zeros((1, k, X.shape[1])))
            if lower.shape[1] == 0:
                hamerly = labels.copy()
        assert np.array_equal(hamerly, labels)  # Hamerly's and Elkan's full passes agree
    elif kernel == "hamerly_assign":
        bk.hamerly_assign(X, C, c_sq, x_sq, zeros_k, zeros_k, 0.0, err, rel, labels, upper, glow)
    elif kernel == "elkan_assign":
        half_cc = np.zeros((k, k))
        np.fill_diagonal(half_cc, np.inf)
        bk.elkan_assign(X, C, c_sq, x_sq, zeros_k, half_cc, zeros_k, err, rel, labels, upper,
                        np.zeros((n, k), dtype), np.zeros((0, 0), np.uint8), dtype.type(0),
                        np.zeros(0), np.zeros(0))
    else:
        mind = np.empty(n, dtype)
        sse, sums = np.zeros(1), np.zeros((1, k, X.shape[1]))
        if kernel == "lloyd_pass":
            dk.lloyd_pass(X, np.ones(n, dtype), C, c_sq, x_sq, err, labels, mind, sse, sums)
        else:
            Xs = sp.csr_matrix(X)
            sk.lloyd_csr(Xs.data, Xs.indices, Xs.indptr, np.ones(n, dtype), np.ascontiguousarray(C.T),
                         C, c_sq, x_sq, err, labels, mind, sse, sums)
    return int(labels[0])


@pytest.mark.parametrize("kernel", ["init_bounds", "hamerly_assign", "elkan_assign", "lloyd_pass",
                                    "lloyd_csr"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("multiple", [0.5, 0.75, 1.5, 2.5])
def test_near_tie_window(kernel, dtype, multiple):
    """Inside the window (keys within W of the lowest) the exact distance decides: c1;
    outside it the key does: c0. 0.75 W tells W from half of it."""
    X, C, c_sq, x_sq, err = window_case(dtype, multiple)
    assert kernel_labels(kernel, X, C, c_sq, x_sq, err) == (1 if multiple < 1 else 0)


# -- thread count -------------------------------------------------------------------------

@contextmanager
def engine_threads(n):
    """The engine's kernels on ``n`` OpenMP threads (threadpoolctl, as users limit them)."""
    from threadpoolctl import threadpool_limits

    from kmeanslab import _core

    with threadpool_limits(limits=n, user_api="openmp"):
        assert _core.max_threads() == n, "the OpenMP limit does not reach the kernels"
        yield


def max_threads():
    import os

    return min(4, os.cpu_count() or 1)


def engine_outputs(X, w, C):
    """Every engine result that threads could change: a Lloyd pass and bounds steps."""
    data = _engine.Data(X, w)
    out = {}
    stats = _engine.lloyd_block(data, C)
    out.update(labels=stats.labels, sse=np.float64(stats.sse), sums=stats.sums, weights=stats.weights)
    if not sp.issparse(X):
        for kind in ("hamerly", "elkan"):
            step = _lloyd.BoundsStep(data, len(C), kind)
            for i, centers in enumerate(moves(C)):
                st = step.step(centers.astype(X.dtype))
                out[f"{kind}{i}"] = np.concatenate([st.sums.ravel(), [st.sse]])
                out[f"{kind}{i}-labels"] = st.labels.copy()
    return out


@pytest.mark.skipif(max_threads() < 2, reason="one CPU: nothing to compare")
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_engine_bit_identical_on_any_thread_count(dtype, sparse):
    """Per-cluster sums, SSE and labels of Lloyd passes and bounds steps, bit for bit.
    1100 rows are five 256-row blocks, so more than one thread gets work."""
    rng = np.random.RandomState(0)
    X = rng.normal(size=(1100, 12)) * rng.uniform(0.1, 10, 12)
    X[rng.rand(*X.shape) < 0.3] = 0
    w = rng.uniform(0.5, 2, len(X)).astype(dtype)
    X = sp.csr_matrix(X.astype(dtype)) if sparse else X.astype(dtype)
    C = ref.dense64(X)[rng.choice(len(w), 7, replace=False)].astype(dtype)
    results = []
    for n in (1, max_threads()):
        with engine_threads(n):
            results.append(engine_outputs(X, w, C))
    a, b = results
    for key in a:
        assert a[key].dtype == b[key].dtype and a[key].tobytes() == b[key].tobytes(), key


@pytest.mark.skipif(max_threads() < 2, reason="one CPU: nothing to compare")
@pytest.mark.parametrize("algorithm", ["lloyd", "hamerly", "elkan"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_fit_bit_identical_on_any_thread_count(algorithm, dtype):
    rng = np.random.RandomState(1)
    X = (rng.normal(size=(1100, 8)) + rng.randint(0, 6, (1100, 1))).astype(dtype)
    fits = []
    for n in (1, max_threads()):
        with engine_threads(n):
            km = KMeans(9, init="random", n_init=2, random_state=0, algorithm=algorithm).fit(X)
        fits.append((km.cluster_centers_.tobytes(), km.labels_.tobytes(), km.inertia_, km.n_iter_))
    assert fits[0] == fits[1]
