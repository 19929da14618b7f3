"""A drop-in for sklearn.cluster.KMeans / MiniBatchKMeans: what users rely on, side by side.

verbose output, warnings and error messages, iteration counts, transform accuracy,
n_init="auto"; the family estimators where they apply (the estimator API itself:
test_sklearn_api.py).
"""

import contextlib
import io
import logging
import re
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import sklearn.cluster as skc
from sklearn.datasets import make_blobs
from sklearn.metrics.pairwise import euclidean_distances

from kmeanslab.cluster import (KMeans, KMedians, MiniBatchKMeans, SoftKMeans, SphericalKMeans,
                               k_means, kmeans_plusplus)

ALGORITHMS = ["lloyd", "hamerly", "elkan", "auto"]
SK_ALGORITHM = {"lloyd": "lloyd", "hamerly": "lloyd", "elkan": "elkan", "auto": "lloyd"}


@pytest.fixture(scope="module")
def blobs():
    return make_blobs(n_samples=1200, n_features=6, centers=7, cluster_std=1.5, random_state=0)[0]


def _printed(fit):
    """What ``fit()`` prints on stdout, as lines; it must print nothing on stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), \
            warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit()
    assert err.getvalue() == ""
    return out.getvalue().splitlines()


NUMBER = r"[-+]?(?:\d+\.?\d*(?:e[-+]?\d+)?|inf|nan)"


def _shape(lines):
    """(lines with their inertias, shifts and tolerances replaced by '#', the inertias)."""
    inertia = r"([Ii]nertia(?: for init \d+/\d+)?:?) "
    values = [float(m.group(2)) for line in lines for m in re.finditer(inertia + f"({NUMBER})", line)]
    shapes = [re.sub(r"(shift|change|tolerance) " + NUMBER, r"\1 #", re.sub(inertia + NUMBER, r"\1 #", line))
              for line in lines]
    return shapes, values


# -- 1. verbose ---------------------------------------------------------------------------
@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("tol", [1e-2, 0.0], ids=["tol", "strict"])
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_kmeans_verbose_prints_sklearns_lines(blobs, algorithm, tol, sparse):
    """Same lines as scikit-learn from the same centres: iteration numbers, how it stopped."""
    X = sp.csr_matrix(blobs) if sparse else blobs
    init = blobs[::150][:7]
    ours = KMeans(7, init=init, tol=tol, algorithm=algorithm, verbose=True)
    ref = skc.KMeans(7, init=init, tol=tol, algorithm=SK_ALGORITHM[algorithm], verbose=True)
    shape, values = _shape(_printed(lambda: ours.fit(X)))
    ref_shape, ref_values = _shape(_printed(lambda: ref.fit(X)))
    assert shape == ref_shape  # (Lloyd's iteration lines end with a period, Elkan's not)
    kind = "strict convergence" if tol == 0 else "center shift # within tolerance #"
    assert shape[0] == "Initialization complete" and len(shape) == ours.n_iter_ + 2
    assert shape[-1] == f"Converged at iteration {ours.n_iter_ - 1}: {kind}."
    np.testing.assert_allclose(values, ref_values, rtol=1e-9)
    np.testing.assert_allclose(values, ours.history_, rtol=1e-12)


def test_verbose_prints_in_the_callers_units():
    """Data of extreme magnitude are fitted scaled by a power of two; the lines are not."""
    X = make_blobs(300, 3, centers=3, random_state=1)[0]
    big = X * 2.0**400
    lines = _printed(lambda: KMeans(3, init=X[:3], tol=0.1, verbose=1).fit(X))
    big_lines = _printed(lambda: KMeans(3, init=big[:3], tol=0.1, verbose=1).fit(big))
    assert _shape(big_lines)[0] == _shape(lines)[0] and "within tolerance" in lines[-1]
    np.testing.assert_allclose(np.array(_shape(big_lines)[1]) / 2.0**800, _shape(lines)[1],
                               rtol=1e-12)
    last = rf"center shift ({NUMBER}) within tolerance ({NUMBER})\.$"
    np.testing.assert_allclose(np.array(re.search(last, big_lines[-1]).groups(), float) / 2.0**800,
                               np.array(re.search(last, lines[-1]).groups(), float), rtol=1e-12)


def test_verbose_zero_prints_and_logs_nothing(blobs, caplog):
    with caplog.at_level(logging.DEBUG, logger="kmeanslab"):
        lines = _printed(lambda: KMeans(3, n_init=2, random_state=0).fit(blobs))
        lines += _printed(lambda: MiniBatchKMeans(3, random_state=0, batch_size=100).fit(blobs))
    assert lines == []
    assert [r for r in caplog.records if r.name.startswith("kmeanslab")] == []


@pytest.mark.parametrize("verbose", [True, np.True_, 2])
def test_verbose_accepts_bools_as_sklearn(blobs, verbose):
    assert _printed(lambda: KMeans(3, n_init=2, verbose=verbose).fit(blobs))
    assert _printed(lambda: skc.KMeans(3, n_init=2, verbose=verbose).fit(blobs))
    assert _printed(lambda: k_means(blobs, 3, n_init=1, verbose=verbose))
    assert _printed(lambda: KMeans(3, n_init=2, verbose=False).fit(blobs)) == []


@pytest.mark.parametrize("verbose", [-1, 1.5, "yes"])
def test_bad_verbose_is_rejected(blobs, verbose):
    with pytest.raises((ValueError, TypeError), match="verbose"):
        KMeans(3, verbose=verbose).fit(blobs)


@pytest.mark.parametrize("case", ["no_improvement", "small_change", "reassign"])
def test_minibatch_verbose_prints_sklearns_lines(blobs, case):
    params = {"no_improvement": {}, "small_change": {"tol": 1e-3, "max_no_improvement": None},
              "reassign": {"reassignment_ratio": 0.6, "max_iter": 2}}[case]
    kw = dict(n_clusters=7, batch_size=100, random_state=0, verbose=1, n_init=2, init="random",
              **params)
    ours, ref = MiniBatchKMeans(**kw), skc.MiniBatchKMeans(**kw)
    shape, values = _shape(_printed(lambda: ours.fit(blobs)))
    ref_shape, ref_values = _shape(_printed(lambda: ref.fit(blobs)))
    assert shape == ref_shape
    assert shape[:2] == ["Init 1/2 with method random", "Inertia for init 1/2: #"]
    np.testing.assert_allclose(values, ref_values, rtol=1e-9)
    n_steps = ours.max_iter * len(blobs) // 100
    if case == "reassign":
        assert any(line.startswith("[MiniBatchKMeans] Reassigning") for line in shape)
    else:
        why = "small centers change" if case == "small_change" else "lack of improvement in inertia"
        assert shape[-1] == f"Converged ({why}) at step {ours.n_steps_}/{n_steps}"


FAMILY = {
    "soft": lambda **kw: SoftKMeans(4, beta=5.0, random_state=0, **kw),
    "kmedians": lambda **kw: KMedians(4, random_state=0, **kw),
    "spherical": lambda **kw: SphericalKMeans(4, random_state=0, **kw),
}


@pytest.mark.parametrize("name", list(FAMILY))
def test_family_verbose_lines_are_kmeans_lines(blobs, name):
    est = FAMILY[name](verbose=1, n_init=1)
    shape, values = _shape(_printed(lambda: est.fit(blobs + 30)))
    assert shape[:-1] == ["Initialization complete"] + [
        f"Iteration {i}, inertia #." for i in range(est.n_iter_)]
    assert re.fullmatch(rf"Converged at iteration {est.n_iter_ - 1}: (strict convergence|"
                        r"center shift # within tolerance #)\.", shape[-1])
    np.testing.assert_allclose(values, est.history_, rtol=1e-12)
    shape = _shape(_printed(lambda: FAMILY[name](verbose=1, n_init=3).fit(blobs)))[0]
    assert shape.count("Initialization complete") == 3


def test_soft_minibatch_verbose_lines(blobs):
    est = SoftKMeans(4, beta=5.0, batch_size=200, random_state=0, verbose=1, max_iter=50)
    shape, values = _shape(_printed(lambda: est.fit(blobs)))
    assert shape == ["Initialization complete"] + [
        f"Epoch {i}, inertia #." for i in range(est.n_iter_)] + [
        f"Converged at epoch {est.n_iter_ - 1}: relative change # within tolerance #."]
    np.testing.assert_allclose(values, est.history_, rtol=1e-12)


# -- 2. warnings and error messages -------------------------------------------------------
ELKAN_ONE = "algorithm='elkan' doesn't make sense for a single cluster. Using 'lloyd' instead."


def test_elkan_with_one_cluster_warns_and_runs_lloyd(blobs):
    with pytest.warns(RuntimeWarning, match=re.escape(ELKAN_ONE)):
        ref = skc.KMeans(1, algorithm="elkan", n_init=1, init=blobs[:1]).fit(blobs)
    with pytest.warns(RuntimeWarning, match=re.escape(ELKAN_ONE)):
        ours = KMeans(1, algorithm="elkan", init=blobs[:1]).fit(blobs)
    with pytest.warns(RuntimeWarning, match=re.escape(ELKAN_ONE)):
        k_means(blobs, 1, algorithm="elkan", init=blobs[:1])
    lloyd = KMeans(1, algorithm="lloyd", init=blobs[:1]).fit(blobs)
    assert ours.n_iter_ == lloyd.n_iter_ == ref.n_iter_
    np.testing.assert_allclose(ours.cluster_centers_, ref.cluster_centers_, rtol=1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        KMeans(1, algorithm="lloyd", init=blobs[:1]).fit(blobs)
        KMeans(2, algorithm="elkan", init=blobs[:2]).fit(blobs)


def _sklearn_init_error(n_clusters, X, init):
    with pytest.raises(ValueError) as ref:
        skc.KMeans(n_clusters, init=init, n_init=1).fit(X)
    return str(ref.value)


@pytest.mark.parametrize("shape, phrase", [
    ((8, 2), "The shape of the initial centers (8, 2) does not match the number of features of "
             "the data 5."),
    ((3, 5), "The shape of the initial centers (3, 5) does not match the number of clusters 8."),
])
def test_init_shape_errors_carry_sklearns_phrase(shape, phrase):
    X = np.random.RandomState(0).rand(100, 5)
    init = np.zeros(shape)
    assert _sklearn_init_error(8, X, init) == phrase
    for fit in (lambda: KMeans(8, init=init).fit(X),
                lambda: MiniBatchKMeans(8, init=init).fit(X),
                lambda: MiniBatchKMeans(8, init=init).partial_fit(X),
                lambda: k_means(X, 8, init=init),
                lambda: skc.MiniBatchKMeans(8, init=init).fit(X),
                lambda: skc.k_means(X, 8, init=init)):
        with pytest.raises(ValueError, match=re.escape(phrase)):
            fit()
    # and still in our own words first
    ours = re.escape(f"init has shape {shape}; expected (n_clusters, n_features) = (8, 5).")
    with pytest.raises(ValueError, match="^" + ours):
        KMeans(8, init=init).fit(X)


def test_callable_init_shape_error_carries_sklearns_phrase():
    X = np.random.RandomState(0).rand(100, 5)
    phrase = re.escape("The shape of the initial centers (8, 2) does not match the number of "
                       "features of the data 5.")

    def bad(X, n_clusters, random_state):
        return np.zeros((n_clusters, 2))

    for est in (KMeans(8, init=bad, n_init=1), skc.KMeans(8, init=bad, n_init=1)):
        with pytest.raises(ValueError, match=phrase):
            est.fit(X)


def test_x_squared_norms_error_carries_sklearns_phrase():
    X = np.random.RandomState(0).rand(100, 5)
    phrase = re.escape("The length of x_squared_norms 2 should be equal to the length of "
                       "n_samples 100.")
    for f in (kmeans_plusplus, skc.kmeans_plusplus):
        with pytest.raises(ValueError, match=phrase):
            f(X, 3, x_squared_norms=np.ones(2))
    with pytest.raises(ValueError, match=r"x_squared_norms has shape \(2,\); expected \(100,\)"):
        kmeans_plusplus(X, 3, x_squared_norms=np.ones(2))
    for f in (kmeans_plusplus, skc.kmeans_plusplus):
        with pytest.raises(ValueError, match=re.escape("n_samples=100 should be >= n_clusters=101.")):
            f(X, 101)


# -- 3. iteration count and stopping rule ---------------------------------------------------
DTYPES = [np.float32, np.float64]


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_a_fixed_point_stops_after_one_iteration_even_with_tol_zero(algorithm, dtype):
    """Rows repeated, the initial centres on them: no centre can move, so the shift is 0 <=
    tol = 0 at iteration 0 (in float64 the mean of 3, 5 or 7 copies of a row is not always
    the row: it is settled exactly)."""
    for seed in range(20):
        rng = np.random.RandomState(seed)
        for copies in (3, 5, 7):
            base = rng.rand(4, 3) * 10.0 ** rng.uniform(-3, 3)
            X = np.repeat(base, copies, axis=0).astype(dtype)
            km = KMeans(4, init=X[::copies], tol=0, algorithm=algorithm).fit(X)
            assert km.n_iter_ == 1, (seed, copies)
            np.testing.assert_array_equal(km.cluster_centers_, X[::copies])
            np.testing.assert_array_equal(km.labels_, np.repeat(np.arange(4), copies))
            assert km.inertia_ == 0


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("tol", [1e-4, 0.0])
def test_duplicates_with_centres_on_them_match_sklearn(algorithm, dtype, tol):
    base = np.array([[0, 0], [1, 0], [8, 0], [9, 0], [0, 8]], dtype=dtype)
    X = np.repeat(base, 4, axis=0)  # no ties; means of 4 or 8 rows: exact in both libraries
    for K, init in ((5, base), (3, base[[0, 2, 4]])):
        ours = KMeans(K, init=init, tol=tol, algorithm=algorithm).fit(X)
        ref = skc.KMeans(K, init=init, tol=tol, n_init=1, algorithm=SK_ALGORITHM[algorithm]).fit(X)
        assert ours.n_iter_ == ref.n_iter_
        np.testing.assert_array_equal(ours.labels_, ref.labels_)
        assert ours.inertia_ == pytest.approx(ref.inertia_, rel=1e-6, abs=1e-12)
    assert KMeans(5, init=base, tol=tol, algorithm=algorithm).fit(X).n_iter_ == 1


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("stop", ["tolerance", "strict", "max_iter"])
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_iterations_labels_inertia_match_sklearn(blobs, algorithm, stop, sparse):
    """From the same centres: the same iteration count, labels and inertia, whichever rule
    stops the run (the verbose lines say which)."""
    tol, max_iter = {"tolerance": (5e-2, 300), "strict": (0.0, 300), "max_iter": (0.0, 3)}[stop]
    X = sp.csr_matrix(blobs) if sparse else blobs
    rng = np.random.RandomState(3)
    for _ in range(2):
        init = blobs[rng.choice(len(blobs), 9, replace=False)]
        kw = dict(init=init, tol=tol, max_iter=max_iter, verbose=1)
        ours = KMeans(9, algorithm=algorithm, **kw)
        ref = skc.KMeans(9, n_init=1, algorithm=SK_ALGORITHM[algorithm], **kw)
        last = _printed(lambda: ours.fit(X))[-1]
        assert _shape([last])[0] == _shape(_printed(lambda: ref.fit(X))[-1:])[0]
        assert ours.n_iter_ == ref.n_iter_
        np.testing.assert_array_equal(ours.labels_, ref.labels_)
        assert ours.inertia_ == pytest.approx(ref.inertia_, rel=1e-10)
        if stop == "max_iter":
            assert ours.n_iter_ == 3 and last.startswith("Iteration 2,")
        else:
            assert ("strict" in last) == (stop == "strict")


# -- 4. transform accuracy ---------------------------------------------------------------------
EUCLIDEAN = {
    "kmeans": lambda: KMeans(6, random_state=0),
    "minibatch": lambda: MiniBatchKMeans(6, random_state=0, batch_size=200),
    "soft": lambda: SoftKMeans(6, beta=2.0, random_state=0),
}


@pytest.mark.parametrize("name", list(EUCLIDEAN))
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_transform_of_the_centres_has_an_exact_zero_diagonal(blobs, name, dtype, sparse):
    X = (blobs + 100).astype(dtype)  # far from the origin: ||x||^2 + ||c||^2 >> ||x - c||^2
    km = EUCLIDEAN[name]().fit(X)
    C = km.cluster_centers_
    D = km.transform(sp.csr_matrix(C) if sparse else C)
    assert D.dtype == dtype
    np.testing.assert_array_equal(np.diag(D), 0)
    ref = np.sqrt(((C[:, None, :].astype(np.float64) - C[None]) ** 2).sum(-1))
    np.testing.assert_allclose(D, ref, rtol=np.finfo(np.float32).eps if dtype == np.float32 else 1e-12)


def _rel_err(D, X, C):
    """Largest relative error of distances D against a long-double reference (D != 0)."""
    X, C = X.astype(np.longdouble), C.astype(np.longdouble)
    ref = np.sqrt(((X[:, None, :] - C[None]) ** 2).sum(-1))
    ok = ref > 0
    return float(np.max(np.abs(D.astype(np.longdouble)[ok] - ref[ok]) / ref[ok]))


@pytest.mark.skipif(np.finfo(np.longdouble).eps >= np.finfo(np.float64).eps,
                    reason="needs a long double wider than float64 for the reference")
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("data", ["uniform", "offset", "near_centres"])
def test_transform_is_as_accurate_as_sklearn(dtype, data):
    rng = np.random.RandomState(0)
    X = {"uniform": lambda: rng.rand(1500, 20),
         "offset": lambda: rng.randn(1500, 20) + 3,
         "near_centres": lambda: 100 + np.repeat(rng.randn(6, 20), 250, axis=0) * 1e-2
         + rng.randn(1500, 20) * 1e-5}[data]().astype(dtype)
    km = KMeans(6, random_state=0).fit(X)
    ours = _rel_err(km.transform(X), X, km.cluster_centers_)
    # what sklearn.cluster.KMeans.transform computes
    ref = _rel_err(euclidean_distances(X, km.cluster_centers_), X, km.cluster_centers_)
    assert ours <= ref
    if dtype == np.float32:  # the float64 value, rounded once
        assert ours <= np.finfo(np.float32).eps / 2 * (1 + 1e-6)
    else:
        assert ours <= 1e-9


# -- 5. n_init="auto" ---------------------------------------------------------------------------
@pytest.mark.parametrize("init, kmeans, minibatch", [
    ("k-means++", 1, 1), ("random", 10, 3), ("callable", 10, 3), ("array", 1, 1)])
def test_n_init_auto_resolves_as_sklearn(blobs, init, kmeans, minibatch):
    """Counted from the verbose lines of each init (KMeans: 10 runs for "random" and a
    callable, 1 otherwise; MiniBatchKMeans: 3 and 1)."""
    def callable_init(X, n_clusters, random_state):
        return X[random_state.choice(len(X), n_clusters, replace=False)]

    init = {"callable": callable_init, "array": blobs[:5]}.get(init, init)
    for ours, ref, marker, n in ((KMeans, skc.KMeans, "Initialization complete", kmeans),
                                 (MiniBatchKMeans, skc.MiniBatchKMeans, "Init ", minibatch)):
        for cls in (ours, ref):
            lines = _printed(lambda: cls(5, init=init, verbose=1, random_state=0).fit(blobs))
            assert sum(line.startswith(marker) for line in lines) == n, cls


@pytest.mark.parametrize("init, kmeans, minibatch", [("k-means||", 1, 1), ("random-uniform", 10, 3)])
def test_n_init_auto_for_our_own_inits(blobs, init, kmeans, minibatch):
    for cls, marker, n in ((KMeans, "Initialization complete", kmeans),
                           (MiniBatchKMeans, "Init ", minibatch)):
        lines = _printed(lambda: cls(5, init=init, verbose=1, random_state=0).fit(blobs))
        assert sum(line.startswith(marker) for line in lines) == n
