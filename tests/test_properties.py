"""Property-based tests (hypothesis) of the estimators (issue 7, part 2).

- the objective never increases from one iteration to the next;
- labels are the argmin of the estimator's distance;
- permuting the rows does not change the clustering (from the same initial centres);
- translating / uniformly scaling the data moves / scales the centres the same way;
- ``predict(cluster_centers_)`` is ``arange(K)``.

KMeans is checked with each algorithm (lloyd, hamerly, elkan); the family estimators on
the invariants that hold for them (MiniBatchKMeans's history is a noisy batch estimate,
SphericalKMeans is not translation-equivariant). Data come either straight from
hypothesis (duplicates, zeros, constant columns: the awkward cases) or, where the
property needs clusters that rounding cannot reorder, as well-separated blobs whose
layout hypothesis draws and whose offsets come from a seeded generator.
"""

import os
import warnings

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, note, settings
from hypothesis import strategies as st
from sklearn.exceptions import ConvergenceWarning

from kmeanslab.cluster import KMeans
from kmeanslab.cluster.registry import ESTIMATORS

ALGORITHMS = ("lloyd", "hamerly", "elkan")
FAMILY = [n for n in ESTIMATORS if n != "kmeans"]
# How objective and centres respond to X -> a X (soft: with beta -> beta / a**2).
OBJECTIVE_DEGREE = {"kmeans": 2, "minibatch": 2, "soft": 2, "kmedians": 1, "spherical": 0}

# Few examples per test (each is a fit or two): KMEANSLAB_MAX_EXAMPLES=300 for a longer hunt.
SETTINGS = settings(max_examples=int(os.environ.get("KMEANSLAB_MAX_EXAMPLES", 10)), deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


def make(name, **params):
    if name.startswith("kmeans-"):  # kmeans-<algorithm>
        return KMeans(algorithm=name.split("-", 1)[1], **params)
    if name == "minibatch":  # every step run: no early stop on nearly equal batch inertias
        params = {"batch_size": 16, "max_iter": 20, "max_no_improvement": None, **params}
    return ESTIMATORS[name](**params)


def fit(est, X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(X)


ALL = [f"kmeans-{a}" for a in ALGORITHMS] + FAMILY


# -- strategies ---------------------------------------------------------------------------
@st.composite
def raw_data(draw, dtype=np.float64, positive=False):
    """(X, K): arbitrary finite data from hypothesis (repeats, zeros and all)."""
    n = draw(st.integers(2, 40))
    d = draw(st.integers(1, 5))
    lo = 1.0 if positive else -1e3  # positive: no zero rows (SphericalKMeans refuses them)
    width = 32 if dtype == np.float32 else 64
    X = draw(hnp.arrays(dtype, (n, d), elements=st.floats(lo, 1e3, width=width, allow_subnormal=False)))
    K = draw(st.integers(1, min(n, 6)))
    note(f"X = np.array({X.tolist()!r}, dtype=np.{np.dtype(dtype).name}); K = {K}")
    return X, K


@st.composite
def blobs(draw, positive=False):
    """(X, init, labels): K well-separated blobs; init holds one row of each blob.

    Blob centres sit on a grid 100 apart, points within 1 of theirs, so every clustering
    step meets gaps far beyond rounding and the invariances hold exactly. ``positive``:
    blobs far from the origin and apart in angle (for SphericalKMeans), d >= 2.
    """
    K = draw(st.integers(1, 5))
    d = draw(st.integers(2 if positive else 1, 4))
    sizes = draw(st.lists(st.integers(1, 12), min_size=K, max_size=K))
    rng = np.random.RandomState(draw(st.integers(0, 2**32 - 1)))
    if positive:
        centres = 1000.0 * (np.eye(d)[np.arange(K) % d] + 0.2 * np.arange(K)[:, None])
    else:
        cells = rng.choice(5 ** d, size=K, replace=False) if 5 ** d >= K else np.arange(K)
        centres = np.array(np.unravel_index(cells, (5,) * d), dtype=float).T * 100.0
    labels = np.repeat(np.arange(K), sizes)
    X = centres[labels] + rng.uniform(-1, 1, size=(len(labels), d))
    order = rng.permutation(len(X))
    X, labels = X[order], labels[order]
    init = np.array([X[np.flatnonzero(labels == k)[0]] for k in range(K)])
    note(f"X = np.array({X.tolist()!r}); init = np.array({init.tolist()!r})")
    return X, init, labels


def _sq_dists(X, C):
    X, C = np.asarray(X, dtype=np.float64), np.asarray(C, dtype=np.float64)
    return ((X[:, None, :] - C[None, :, :]) ** 2).sum(-1)


def _dists(name, X, C):
    """The estimator's own distance, brute force in float64, and a rounding allowance."""
    X64, C64 = np.asarray(X, dtype=np.float64), np.asarray(C, dtype=np.float64)
    eps = np.finfo(np.asarray(X).dtype).eps
    floor = 16 * np.finfo(np.asarray(X).dtype).tiny  # squares below it round to 0: ties
    if name == "kmedians":
        D = np.abs(X64[:, None, :] - C64[None, :, :]).sum(-1)
        return D, 8 * eps * (np.abs(X64).sum(1, keepdims=True) + np.abs(C64).sum(1)[None, :]) + floor
    if name == "spherical":
        U = X64 / np.linalg.norm(X64, axis=1, keepdims=True)
        return _sq_dists(U, C64), np.full((len(X), len(C)), 64 * eps)
    scale = (X64 ** 2).sum(1, keepdims=True) + (C64 ** 2).sum(1)[None, :]
    return _sq_dists(X64, C64), 16 * eps * scale + floor


def _same_partition(a, b):
    """Labels equal up to renaming the clusters."""
    pairs = set(zip(a.tolist(), b.tolist()))
    return len(pairs) == len(set(a.tolist())) == len(set(b.tolist()))


# -- the objective never increases --------------------------------------------------------
@pytest.mark.parametrize("name", [f"kmeans-{a}" for a in ALGORITHMS] + ["soft", "kmedians", "spherical"])
@SETTINGS
@given(data=st.data(), dtype=st.sampled_from([np.float64, np.float32]))
def test_objective_never_increases(name, dtype, data):
    X, K = data.draw(raw_data(dtype, positive=name == "spherical"))
    init = data.draw(st.sampled_from(["k-means++", "random"]))
    est = fit(make(name, n_clusters=K, init=init, n_init=1, tol=0, max_iter=30,
                   random_state=data.draw(st.integers(0, 1000))), X)
    h = est.history_
    assert np.all(np.isfinite(h)) and len(h) == est.n_iter_
    # The objective is computed in X's dtype from expanded squared distances: allow
    # their rounding, relative to the squared norms involved, not to the objective.
    X64 = X.astype(np.float64)
    if name == "kmedians":
        slack = 64 * np.finfo(dtype).eps * np.abs(X64).sum()
    elif name == "spherical":
        slack = 64 * np.finfo(dtype).eps * len(X)
    else:
        slack = 64 * np.finfo(dtype).eps * (X64 ** 2).sum() * 4
    assert np.all(np.diff(h) <= slack), h
    assert est.inertia_ <= h[-1] + slack


# -- labels are the argmin of the distances -----------------------------------------------
@pytest.mark.parametrize("name", ALL)
@SETTINGS
@given(data=st.data(), dtype=st.sampled_from([np.float64, np.float32]))
def test_labels_are_the_argmin_of_the_distances(name, dtype, data):
    X, K = data.draw(raw_data(dtype, positive=name == "spherical"))
    est = fit(make(name, n_clusters=K, n_init=1, max_iter=20,
                   random_state=data.draw(st.integers(0, 1000))), X)
    base = name.split("-")[0]
    D, slack = _dists(base, X, est.cluster_centers_)
    rows = np.arange(len(X))
    for labels in (est.labels_, est.predict(X)):
        assert labels.shape == (len(X),) and labels.min() >= 0 and labels.max() < K
        assert np.all(D[rows, labels] <= D.min(axis=1) + slack[rows, labels]), (D, labels)
    # predict agrees with labels_ wherever the nearest centre is not a tie (coinciding
    # centres, e.g. from duplicated points, may split their rows either way).
    part = np.sort(D, axis=1)
    clear = part[:, 1] - part[:, 0] > 2 * slack.max(axis=1) if K > 1 else np.ones(len(X), bool)
    np.testing.assert_array_equal(est.predict(X)[clear], est.labels_[clear])
    # transform() holds the same distances (squared for the Euclidean ones).
    T = est.transform(X).astype(np.float64)
    got = T if base in ("kmedians",) else T ** 2 if base != "spherical" else 2 * T
    np.testing.assert_allclose(got, D, rtol=1e-4 if dtype == np.float32 else 1e-7,
                               atol=float(slack.max()) * 8)


# -- predict(cluster_centers_) == arange(K) -----------------------------------------------
@pytest.mark.parametrize("name", ALL)
@SETTINGS
@given(data=st.data())
def test_each_centre_is_its_own_cluster(name, data):
    X, K = data.draw(raw_data(np.float64, positive=name == "spherical"))
    est = fit(make(name, n_clusters=K, n_init=1, max_iter=20,
                   random_state=data.draw(st.integers(0, 1000))), X)
    C = est.cluster_centers_
    D, slack = _dists(name.split("-")[0], C, C)
    off = ~np.eye(K, dtype=bool)
    assume(K == 1 or np.all(D[off] > 4 * slack[off]))  # distinct centres (duplicates may tie)
    np.testing.assert_array_equal(est.predict(C), np.arange(K))


# -- permuting the rows -------------------------------------------------------------------
@pytest.mark.parametrize("name", [f"kmeans-{a}" for a in ALGORITHMS] + ["soft", "kmedians", "spherical"])
@SETTINGS
@given(data=st.data())
def test_permuting_rows_keeps_the_clustering(name, data):
    X, init, truth = data.draw(blobs(positive=name == "spherical"))
    perm = np.random.RandomState(data.draw(st.integers(0, 1000))).permutation(len(X))
    K = len(init)
    a = fit(make(name, n_clusters=K, init=init, n_init=1), X)
    b = fit(make(name, n_clusters=K, init=init, n_init=1), X[perm])
    np.testing.assert_array_equal(b.labels_, a.labels_[perm])
    assert _same_partition(a.labels_, truth)
    np.testing.assert_allclose(b.cluster_centers_, a.cluster_centers_, rtol=1e-12, atol=1e-9)
    assert b.inertia_ == pytest.approx(a.inertia_, rel=1e-9, abs=1e-9)


# -- translating and scaling --------------------------------------------------------------
@pytest.mark.parametrize("name", [f"kmeans-{a}" for a in ALGORITHMS] + ["minibatch", "soft", "kmedians"])
@SETTINGS
@given(data=st.data())
def test_translation_moves_the_centres(name, data):
    X, init, truth = data.draw(blobs())
    t = np.array(data.draw(st.lists(st.floats(-1e4, 1e4), min_size=X.shape[1], max_size=X.shape[1])))
    K = len(init)
    seed = data.draw(st.integers(0, 1000))
    # (no random reassignment: see test_uniform_scaling_scales_the_centres)
    extra = {"reassignment_ratio": 0.0} if name == "minibatch" else {}
    a = fit(make(name, n_clusters=K, init=init, n_init=1, random_state=seed, **extra), X)
    b = fit(make(name, n_clusters=K, init=init + t, n_init=1, random_state=seed, **extra), X + t)
    span = float(np.abs(X).max() + np.abs(t).max())
    np.testing.assert_allclose(b.cluster_centers_, a.cluster_centers_ + t, rtol=0, atol=1e-9 * span)
    np.testing.assert_array_equal(b.labels_, a.labels_)
    assert _same_partition(a.labels_, truth)
    assert b.inertia_ == pytest.approx(a.inertia_, rel=1e-6, abs=1e-9 * span ** 2)


@pytest.mark.parametrize("name", [f"kmeans-{a}" for a in ALGORITHMS] + FAMILY)
@SETTINGS
@given(data=st.data())
def test_uniform_scaling_scales_the_centres(name, data):
    X, init, truth = data.draw(blobs(positive=name == "spherical"))
    s = data.draw(st.floats(1e-3, 1e3))
    K = len(init)
    seed = data.draw(st.integers(0, 1000))
    base = name.split("-")[0]
    # MiniBatchKMeans's random reassignment can put a centre on a row another centre sits
    # on; which of the two then takes that row is a tie that rounding decides, after which
    # the runs part ways: compare runs without it.
    both = {"reassignment_ratio": 0.0} if base == "minibatch" else {}
    extra = {"beta": 1.0 / s ** 2} if base == "soft" else {}
    a = fit(make(name, n_clusters=K, init=init, n_init=1, random_state=seed, **both), X)
    b = fit(make(name, n_clusters=K, init=init * s, n_init=1, random_state=seed, **both, **extra), X * s)
    s_c = 1.0 if base == "spherical" else s
    atol = 1e-12 * s_c * float(np.abs(X).max())
    np.testing.assert_allclose(b.cluster_centers_, a.cluster_centers_ * s_c, rtol=1e-9, atol=atol)
    np.testing.assert_array_equal(b.labels_, a.labels_)
    assert _same_partition(a.labels_, truth)
    p = OBJECTIVE_DEGREE[base]
    # Rounding of expanded squared distances: relative to the squared norms, not the objective.
    floor = 1e-12 * len(X) * (s_c * float(np.abs(X).max())) ** p
    assert b.inertia_ == pytest.approx(a.inertia_ * s ** p, rel=1e-6, abs=floor)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@SETTINGS
@given(data=st.data(), dtype=st.sampled_from([np.float32, np.float64]))
def test_power_of_two_scaling_commutes_exactly_with_kmeans(algorithm, dtype, data):
    """X -> 2**e X gives exactly 2**e times the centres and 4**e times the objective, seeding
    included, for any e the dtype can hold: extreme magnitudes are handled by exact scaling."""
    X, K = data.draw(raw_data(dtype))
    X[np.abs(X) < 1e-6] = 0  # (scaled, these would fall into the subnormal range)
    emax = 90 if dtype == np.float32 else 900
    e = data.draw(st.integers(-emax, emax))
    seed = data.draw(st.integers(0, 1000))
    a = fit(KMeans(K, algorithm=algorithm, random_state=seed), X)
    b = fit(KMeans(K, algorithm=algorithm, random_state=seed), np.ldexp(X, e))
    np.testing.assert_array_equal(b.labels_, a.labels_)
    np.testing.assert_array_equal(b.cluster_centers_, np.ldexp(a.cluster_centers_, e))
    with np.errstate(over="ignore", under="ignore"):
        expected = np.ldexp(np.float64(a.inertia_), 2 * e)
    assert b.inertia_ == expected
    np.testing.assert_array_equal(b.predict(np.ldexp(X, e)), a.labels_)
