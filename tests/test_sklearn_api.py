"""scikit-learn's estimator API, side by side: attributes, set_output, pickling, clone,
parameters, Pipeline and GridSearchCV (KMeans and MiniBatchKMeans against scikit-learn's;
the family estimators where it applies)."""

import pickle
import warnings

import numpy as np
import pytest
import sklearn.cluster as skc
from sklearn.base import clone
from sklearn.datasets import make_blobs
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from kmeanslab.cluster import KMeans, KMedians, MiniBatchKMeans, SoftKMeans, SphericalKMeans


@pytest.fixture(scope="module")
def blobs():
    return make_blobs(n_samples=1200, n_features=6, centers=7, cluster_std=1.5, random_state=0)[0]


PAIRS = {  # ours and scikit-learn's, fitting the same centres
    "kmeans": (lambda X: KMeans(5, init=X[:5]), lambda X: skc.KMeans(5, init=X[:5], n_init=1)),
    "minibatch": (lambda X: MiniBatchKMeans(5, init=X[:5], batch_size=100, random_state=0),
                  lambda X: skc.MiniBatchKMeans(5, init=X[:5], batch_size=100, random_state=0)),
}
ALL = {
    "kmeans": lambda: KMeans(5, random_state=0),
    "minibatch": lambda: MiniBatchKMeans(5, batch_size=100, random_state=0),
    "soft": lambda: SoftKMeans(5, random_state=0),
    "kmedians": lambda: KMedians(5, random_state=0),
    "spherical": lambda: SphericalKMeans(5, random_state=0),
}


@pytest.mark.parametrize("name", list(PAIRS))
def test_feature_names_and_counts_as_sklearn(blobs, name):
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(blobs, columns=[f"f{i}" for i in range(blobs.shape[1])])
    ours, ref = (make(blobs).fit(df) for make in PAIRS[name])
    assert ours.n_features_in_ == ref.n_features_in_ == 6
    np.testing.assert_array_equal(ours.feature_names_in_, ref.feature_names_in_)
    np.testing.assert_array_equal(ours.get_feature_names_out(), ref.get_feature_names_out())
    np.testing.assert_array_equal(ours.predict(df), ref.predict(df))
    renamed = df.rename(columns={"f0": "g0"})
    for est in (ours, ref):
        with pytest.raises(ValueError, match="The feature names should match those that were "
                                             "passed during fit"):
            est.predict(renamed)
        with pytest.warns(UserWarning, match="X does not have valid feature names"):
            est.predict(blobs)
        with pytest.raises(ValueError, match="X has 5 features, but .* is expecting 6 features"), \
                warnings.catch_warnings():
            warnings.simplefilter("ignore")  # (and no feature names: warned above)
            est.predict(blobs[:, :5])
        est.fit(blobs)
        assert not hasattr(est, "feature_names_in_") and est.n_features_in_ == 6


@pytest.mark.parametrize("name", list(ALL))
def test_feature_names_of_the_family(blobs, name):
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(np.abs(blobs), columns=[f"f{i}" for i in range(blobs.shape[1])])
    est = ALL[name]().fit(df)
    assert est.n_features_in_ == 6 and list(est.feature_names_in_) == list(df.columns)
    assert list(est.get_feature_names_out()) == [f"{type(est).__name__.lower()}{i}" for i in range(5)]


@pytest.mark.parametrize("name", list(PAIRS))
def test_set_output_pandas_as_sklearn(blobs, name):
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(blobs, columns=[f"f{i}" for i in range(blobs.shape[1])],
                      index=np.arange(len(blobs)) * 3)
    ours, ref = (make(blobs).set_output(transform="pandas") for make in PAIRS[name])
    a, b = ours.fit_transform(df), ref.fit_transform(df)
    assert isinstance(a, pd.DataFrame) and isinstance(b, pd.DataFrame)
    assert list(a.columns) == list(b.columns) and a.index.equals(b.index)
    np.testing.assert_allclose(a.to_numpy(), b.to_numpy(), rtol=1e-10)
    assert isinstance(ours.transform(df[:10]), pd.DataFrame)


@pytest.mark.parametrize("name", list(ALL))
def test_set_output_pandas_for_the_family(blobs, name):
    pd = pytest.importorskip("pandas")
    est = ALL[name]().set_output(transform="pandas")
    out = est.fit_transform(np.abs(blobs))
    assert isinstance(out, pd.DataFrame) and list(out.columns) == list(est.get_feature_names_out())


@pytest.mark.parametrize("name", list(ALL))
def test_pickled_model_predicts_the_same(blobs, name):
    X = np.abs(blobs)
    est = ALL[name]().fit(X)
    again = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(again.predict(X), est.predict(X))
    np.testing.assert_array_equal(again.transform(X), est.transform(X))
    assert again.score(X) == est.score(X)
    np.testing.assert_array_equal(again.cluster_centers_, est.cluster_centers_)


def test_pickled_minibatch_resumes_partial_fit(blobs):
    a = MiniBatchKMeans(5, random_state=0)
    for part in np.array_split(blobs, 4)[:2]:
        a.partial_fit(part)
    b = pickle.loads(pickle.dumps(a))
    for part in np.array_split(blobs, 4)[2:]:
        a.partial_fit(part)
        b.partial_fit(part)
    np.testing.assert_array_equal(a.cluster_centers_, b.cluster_centers_)


@pytest.mark.parametrize("name", list(ALL))
def test_clone_and_params_round_trip(blobs, name):
    est = ALL[name]()
    params = est.get_params()
    copy = clone(est)
    assert copy is not est and copy.get_params() == params
    assert est.set_params(**params) is est and est.get_params() == params
    est.set_params(n_clusters=3, max_iter=7).fit(np.abs(blobs))
    assert est.n_clusters == 3 and est.cluster_centers_.shape == (3, 6) and est.n_iter_ <= 7
    assert not hasattr(clone(est), "cluster_centers_") and clone(est).get_params()["n_clusters"] == 3


@pytest.mark.parametrize("ours, ref", [(KMeans, skc.KMeans), (MiniBatchKMeans, skc.MiniBatchKMeans)])
def test_sklearns_parameters_and_defaults(ours, ref):
    """Every parameter of scikit-learn's class, with its default (our algorithm defaults to
    "auto": Lloyd's labels, found faster)."""
    mine, theirs = ours().get_params(), ref().get_params()
    assert set(theirs) <= set(mine)
    differ = {k for k in theirs if mine[k] != theirs[k]}
    assert differ == ({"algorithm"} if ours is KMeans else set())


@pytest.mark.parametrize("name", list(PAIRS))
def test_in_a_pipeline_as_sklearn(blobs, name):
    ours, ref = (make_pipeline(StandardScaler(),
                               type(make(blobs))(5, init="random", n_init=1, random_state=0))
                 for make in PAIRS[name])
    ours.fit(blobs)
    ref.fit(blobs)
    np.testing.assert_array_equal(ours.predict(blobs), ref.predict(blobs))
    np.testing.assert_allclose(ours.transform(blobs), ref.transform(blobs), rtol=1e-9)
    assert ours.score(blobs) == pytest.approx(ref.score(blobs), rel=1e-9)


@pytest.mark.parametrize("name", list(PAIRS))
def test_grid_search_by_score_as_sklearn(blobs, name):
    grid = {"n_clusters": [2, 4, 7, 9]}
    searches = [GridSearchCV(type(make(blobs))(init="random", n_init=1, max_iter=20,
                                               random_state=0), grid, cv=3).fit(blobs)
                for make in PAIRS[name]]
    ours, ref = searches
    assert ours.best_params_ == ref.best_params_ == {"n_clusters": 9}
    np.testing.assert_allclose(ours.cv_results_["mean_test_score"],
                               ref.cv_results_["mean_test_score"], rtol=1e-9)
