"""A drop-in for sklearn.cluster.KMeans / MiniBatchKMeans: what users rely on, side by side.

verbose output, warnings and error messages, iteration counts, transform accuracy.
(Attributes and meta-estimators: test_sklearn_api.py.)
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
