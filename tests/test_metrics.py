import itertools
import json

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score
from sklearn.metrics.cluster import contingency_matrix as sk_contingency

from kmeanslab import metrics as M

# The running hand example: clusters {0: [0, 0, 1], 1: [1, 1], 2: [2]}.
Y = np.array([0, 0, 1, 1, 1, 2])
L = np.array([0, 0, 0, 1, 1, 2])


def brute_force_matched(matrix):
    """Largest number of points matched by any one-to-one class/cluster pairing."""
    n_classes, k = matrix.shape
    if k <= n_classes:
        pairings = (
            sum(matrix[c, j] for j, c in enumerate(p))
            for p in itertools.permutations(range(n_classes), k)
        )
    else:
        pairings = (
            sum(matrix[c, j] for c, j in enumerate(p))
            for p in itertools.permutations(range(k), n_classes)
        )
    return max(pairings)


# --------------------------------------------------------------------------- hand examples


def test_contingency_hand_example():
    matrix, classes = M.contingency_matrix(Y, L)
    # rows = classes 0, 1, 2; columns = clusters 0, 1, 2
    np.testing.assert_array_equal(matrix, [[2, 0, 0], [1, 2, 0], [0, 0, 1]])
    np.testing.assert_array_equal(classes, [0, 1, 2])
    assert matrix.dtype == np.int64


def test_contingency_empty_clusters_are_zero_columns():
    result = M.contingency_matrix(Y, L, n_clusters=5)
    assert isinstance(result, M.Contingency)
    assert result.matrix.shape == (3, 5)
    np.testing.assert_array_equal(result.matrix[:, 3:], 0)


def test_contingency_given_classes_fix_row_order():
    matrix, classes = M.contingency_matrix(Y, L, classes=[2, 0, 1, 7])
    # rows: class 2, class 0, class 1, class 7 (absent: zero row)
    np.testing.assert_array_equal(matrix, [[0, 0, 1], [2, 0, 0], [1, 2, 0], [0, 0, 0]])
    np.testing.assert_array_equal(classes, [2, 0, 1, 7])
    with pytest.raises(ValueError, match="not in classes"):
        M.contingency_matrix(Y, L, classes=[0, 1])
    with pytest.raises(ValueError, match="repeated"):
        M.contingency_matrix(Y, L, classes=[0, 1, 1, 2])


def test_contingency_matches_sklearn():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 10, 2000) * 3 - 5  # arbitrary, non-contiguous class values
    labels = rng.integers(0, 13, 2000)
    matrix, classes = M.contingency_matrix(y, labels)
    np.testing.assert_array_equal(matrix, sk_contingency(y, labels))
    np.testing.assert_array_equal(classes, np.unique(y))


def test_purity_hand_example():
    # max per cluster: 2, 2, 1 -> 5 of 6 points
    assert M.purity(Y, L) == pytest.approx(5 / 6)
    np.testing.assert_allclose(M.purity(Y, L, per_cluster=True), [2 / 3, 1, 1])


def test_gini_hand_example():
    # cluster 0: 1 - ((2/3)^2 + (1/3)^2) = 1 - 5/9 = 4/9; clusters 1 and 2 are pure
    np.testing.assert_allclose(M.gini(Y, L, per_cluster=True), [4 / 9, 0, 0])
    # weighted by size: 3/6 * 4/9 + 2/6 * 0 + 1/6 * 0 = 2/9
    assert M.gini(Y, L) == pytest.approx(2 / 9)


def test_gini_of_an_even_two_class_cluster_is_one_half():
    # one cluster, classes 50/50: 1 - (1/4 + 1/4) = 1/2
    assert M.gini([0, 1, 0, 1], [0, 0, 0, 0]) == pytest.approx(0.5)


def test_majority_mapping_and_accuracy_hand_example():
    mapping = M.map_clusters(L, Y)
    np.testing.assert_array_equal(mapping.mapping_, [0, 1, 2])
    assert not mapping.unmapped_.any()
    np.testing.assert_array_equal(mapping.predict([2, 1, 0]), [2, 1, 0])
    np.testing.assert_array_equal(mapping([2, 1, 0]), [2, 1, 0])
    # predictions [0,0,0,1,1,2] vs y [0,0,1,1,1,2]: 5 of 6 right
    assert M.accuracy(Y, L) == pytest.approx(5 / 6)


def test_majority_ties_go_to_the_smallest_class():
    # cluster 0 holds one point each of classes 5 and 3 -> 3
    mapping = M.map_clusters([0, 0], [5, 3])
    assert mapping.mapping_[0] == 3


def test_hungarian_differs_from_majority():
    y = np.array([0, 0, 0, 0, 0, 0, 1, 1])
    labels = np.array([0, 0, 0, 1, 1, 1, 1, 1])
    # cluster 0 = {0: 3}; cluster 1 = {0: 3, 1: 2}
    # majority: both -> class 0, 6 of 8 right
    assert M.accuracy(y, labels, "majority") == pytest.approx(6 / 8)
    # one-to-one: 0 -> 0 and 1 -> 1 matches 3 + 2 = 5 (the other pairing matches 0 + 3)
    mapping = M.map_clusters(labels, y, "hungarian")
    np.testing.assert_array_equal(mapping.mapping_, [0, 1])
    assert M.accuracy(y, labels, "hungarian") == pytest.approx(5 / 8)


@pytest.mark.parametrize("k, n_classes", [(3, 3), (3, 5), (5, 3), (4, 4), (2, 6)])
def test_hungarian_accuracy_matches_brute_force(k, n_classes):
    rng = np.random.default_rng(k * 10 + n_classes)
    for _ in range(5):
        labels = rng.integers(0, k, 60)
        y = rng.integers(0, n_classes, 60)
        matrix, _ = M.contingency_matrix(y, labels, k)
        expected = brute_force_matched(matrix) / 60
        assert M.accuracy(y, labels, "hungarian", n_clusters=k) == pytest.approx(expected)


def test_nmi_and_ari_are_sklearn():
    rng = np.random.default_rng(1)
    y, labels = rng.integers(0, 4, 300), rng.integers(0, 6, 300)
    assert M.nmi(y, labels) == pytest.approx(normalized_mutual_info_score(y, labels))
    assert M.ari(y, labels) == pytest.approx(adjusted_rand_score(y, labels))
    assert M.nmi(Y, Y) == pytest.approx(1.0)
    assert type(M.ari(Y, L)) is float


def test_cluster_summary_hand_example():
    s = M.cluster_summary(Y, L, n_clusters=4)
    np.testing.assert_array_equal(s["size"], [3, 2, 1, 0])
    np.testing.assert_array_equal(s["majority"], [0, 1, 2, -1])
    np.testing.assert_array_equal(s["majority_count"], [2, 2, 1, 0])
    np.testing.assert_allclose(s["purity"], [2 / 3, 1, 1, np.nan])
    np.testing.assert_allclose(s["gini"], [4 / 9, 0, 0, np.nan])
    np.testing.assert_array_equal(s["classes"], [0, 1, 2])


# --------------------------------------------------------------------------- objective


def _direct_sse(X, labels, centers, w=None):
    dense = X.toarray() if sp.issparse(X) else np.asarray(X)
    d = ((dense.astype(np.float64) - np.asarray(centers, np.float64)[labels]) ** 2).sum(1)
    return d.sum() if w is None else d @ w


@pytest.fixture(params=["float32", "float64", "csr"])
def blobs(request):
    rng = np.random.default_rng(2)
    X = rng.normal(size=(1000, 17))
    X[rng.random(X.shape) < 0.6] = 0.0
    X[5] = 0.0  # a row with no stored entries in the sparse case
    X = sp.csr_matrix(X) if request.param == "csr" else X.astype(request.param)
    centers = rng.normal(size=(6, 17))
    labels = rng.integers(0, 6, 1000)
    return X, labels, centers


@pytest.mark.parametrize("block", [1 << 19, 50])
def test_sse_matches_direct_computation(blobs, block, monkeypatch):
    # A tiny block forces many blocks (and, sparse, rows longer than a block).
    monkeypatch.setattr(M, "_BLOCK_ELEMENTS", block)
    X, labels, centers = blobs
    w = np.random.default_rng(3).random(X.shape[0])
    assert M.sse(X, labels, centers) == pytest.approx(_direct_sse(X, labels, centers), rel=1e-12)
    assert M.sse(X, labels, centers, w) == pytest.approx(
        _direct_sse(X, labels, centers, w), rel=1e-12
    )
    assert M.mean_sse(X, labels, centers) == pytest.approx(
        _direct_sse(X, labels, centers) / X.shape[0], rel=1e-12
    )
    assert M.mean_sse(X, labels, centers, w) == pytest.approx(
        _direct_sse(X, labels, centers, w) / w.sum(), rel=1e-12
    )


def test_sse_hand_example():
    X = np.array([[0.0, 0.0], [2.0, 0.0], [5.0, 5.0]])
    centers = np.array([[1.0, 0.0], [5.0, 4.0]])
    # (1 + 0) + (1 + 0) + (0 + 1) = 3; weights 1, 2, 3 give 1 + 2 + 3 = 6
    assert M.sse(X, [0, 0, 1], centers) == pytest.approx(3.0)
    assert M.sse(X, [0, 0, 1], centers, [1, 2, 3]) == pytest.approx(6.0)
    assert M.mean_sse(X, [0, 0, 1], centers, [1, 2, 3]) == pytest.approx(1.0)
    assert M.sse(sp.csr_matrix(X), [0, 0, 1], centers) == pytest.approx(3.0)


def test_sse_of_points_on_their_centers_is_zero():
    X = sp.csr_matrix(np.array([[1e8, 0.0], [0.0, 3.0]]))
    assert M.sse(X, [0, 1], X.toarray()) >= 0.0
    assert M.sse(X.toarray(), [0, 1], X.toarray()) == 0.0


def test_sse_bad_input():
    X = np.zeros((4, 3))
    with pytest.raises(ValueError, match="features"):
        M.sse(X, [0, 0, 1, 1], np.zeros((2, 2)))
    with pytest.raises(ValueError, match="labels"):
        M.sse(X, [0, 0, 1], np.zeros((2, 3)))
    with pytest.raises(ValueError, match="n_clusters=2"):
        M.sse(X, [0, 0, 1, 2], np.zeros((2, 3)))
    with pytest.raises(ValueError, match="sample_weight"):
        M.sse(X, [0, 0, 1, 1], np.zeros((2, 3)), [1, 1, -1, 1])
    with pytest.raises(ValueError, match="sample_weight"):
        M.mean_sse(X, [0, 0, 1, 1], np.zeros((2, 3)), [0, 0, 0, 0])
    with pytest.raises(TypeError, match="X"):
        M.sse(np.array([["a"] * 3] * 4), [0, 0, 1, 1], np.zeros((2, 3)))


# --------------------------------------------------------------------------- K vs classes


@pytest.mark.parametrize("k, n_classes", [(3, 5), (7, 3)])
def test_k_differs_from_number_of_classes(k, n_classes):
    rng = np.random.default_rng(4)
    labels = np.arange(200) % k
    y = rng.integers(0, n_classes, 200)
    for total in (M.purity(y, labels), M.gini(y, labels), M.accuracy(y, labels)):
        assert np.isfinite(total) and 0 <= total <= 1
    assert not np.isnan(M.purity(y, labels, per_cluster=True)).any()
    hungarian = M.map_clusters(labels, y, "hungarian")
    mapped = hungarian.mapping_[~hungarian.unmapped_]
    # one-to-one: min(k, n_classes) clusters mapped, to distinct classes
    assert len(mapped) == min(k, n_classes) == len(set(mapped.tolist()))
    assert (hungarian.mapping_[hungarian.unmapped_] == -1).all()
    majority = M.map_clusters(labels, y, "majority")
    assert not majority.unmapped_.any()


def test_empty_clusters_nan_per_cluster_only():
    # clusters 3 and 4 get no point
    per = M.purity(Y, L, n_clusters=5, per_cluster=True)
    gin = M.gini(Y, L, n_clusters=5, per_cluster=True)
    np.testing.assert_array_equal(np.isnan(per), [False, False, False, True, True])
    np.testing.assert_array_equal(np.isnan(gin), [False, False, False, True, True])
    assert M.purity(Y, L, n_clusters=5) == pytest.approx(5 / 6)
    assert M.gini(Y, L, n_clusters=5) == pytest.approx(2 / 9)
    for method in ("majority", "hungarian"):
        mapping = M.map_clusters(L, Y, method, n_clusters=5)
        np.testing.assert_array_equal(mapping.unmapped_, [False, False, False, True, True])
        assert M.accuracy(Y, L, method, n_clusters=5) == pytest.approx(5 / 6)


def test_hungarian_does_not_spend_a_class_on_an_empty_cluster():
    # cluster 0 empty; clusters 1, 2 hold classes 0 and 1: both must still get their class
    mapping = M.map_clusters([1, 1, 2, 2], [0, 0, 1, 1], "hungarian")
    np.testing.assert_array_equal(mapping.mapping_, [-1, 0, 1])


# --------------------------------------------------------------------------- transfer


def test_train_mapping_applied_to_test():
    # train: cluster 0 = {1, 1, 0} -> 1; cluster 1 = {0, 0, 1} -> 0
    train = M.map_clusters([0, 0, 0, 1, 1, 1], [1, 1, 0, 0, 0, 1])
    np.testing.assert_array_equal(train.mapping_, [1, 0])
    y_test, l_test = np.array([0, 0, 1, 0]), np.array([0, 0, 0, 1])
    # with the train mapping: predictions [1, 1, 1, 0] -> right at positions 2, 3: 2/4
    assert M.accuracy(y_test, l_test, mapping=train) == pytest.approx(0.5)
    # the test split alone would map cluster 0 -> 0: predictions all 0, 3/4 right
    assert M.accuracy(y_test, l_test) == pytest.approx(0.75)


def test_unmapped_predictions_never_count_as_correct():
    # trained with 3 clusters, cluster 2 empty -> unmapped, predicts -1
    train = M.map_clusters([0, 0, 1, 1], [0, 0, 1, 1], n_clusters=3)
    assert train.unmapped_value_ == -1
    np.testing.assert_array_equal(train.predict([2, 0]), [-1, 0])
    # a test point in cluster 2 whose class happens to equal the sentinel is still wrong
    assert M.accuracy([-1, 0, 1], [2, 0, 1], mapping=train) == pytest.approx(2 / 3)
    # K=4 > 2 classes, Hungarian leaves two clusters unmapped
    hung = M.map_clusters([0, 1, 2, 3], [0, 1, 0, 1], "hungarian")
    assert hung.unmapped_.sum() == 2
    assert M.accuracy([0, 1, 0, 1], [0, 1, 2, 3], mapping=hung) == pytest.approx(0.5)


def test_sentinel_avoids_a_real_class():
    mapping = M.map_clusters([0, 0, 1], [-1, -1, 4], n_clusters=3)
    assert mapping.unmapped_value_ == -2
    assert mapping.mapping_[2] == -2
    # unsigned classes are held as int64 so that the sentinel fits
    mapping = M.map_clusters([0, 1], np.array([3, 4], dtype=np.uint8), n_clusters=3)
    assert mapping.mapping_.dtype == np.int64 and mapping.mapping_[2] == -1


def test_mapping_rejects_unknown_clusters():
    mapping = M.map_clusters(L, Y)
    with pytest.raises(ValueError, match="n_clusters=3"):
        mapping.predict([0, 3])
    with pytest.raises(ValueError, match="n_clusters=3"):
        M.accuracy([0, 1], [0, 3], mapping=mapping)
    with pytest.raises(ValueError, match="n_clusters"):
        M.accuracy(Y, L, mapping=mapping, n_clusters=4)
    with pytest.raises(TypeError, match="mapping"):
        M.accuracy(Y, L, mapping={"majority": mapping})


def test_string_classes():
    y = np.array(["cat", "cat", "dog", "dog", "dog", "emu"])
    # same structure as the hand example: purity 5/6
    assert M.purity(y, L) == pytest.approx(5 / 6)
    mapping = M.map_clusters(L, y, n_clusters=4)
    np.testing.assert_array_equal(mapping.mapping_[:3], ["cat", "dog", "emu"])
    assert mapping.unmapped_[3] and mapping.mapping_[3] not in set(y)
    assert M.accuracy(y, L, mapping=mapping) == pytest.approx(5 / 6)
    with pytest.raises(TypeError, match="dtype"):
        M.accuracy(Y, L, mapping=mapping)


def test_string_sentinel_when_empty_string_is_a_class():
    mapping = M.map_clusters([0, 1], ["", "a"], n_clusters=3, method="hungarian")
    assert mapping.mapping_[2] not in ("", "a")
    assert mapping.mapping_[2] == mapping.unmapped_value_


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.integers(0, 6)), min_size=1, max_size=40))
def test_majority_accuracy_is_purity_and_bounds_hungarian(pairs):
    y, labels = (np.array(v) for v in zip(*pairs))
    assert M.accuracy(y, labels, "majority") == pytest.approx(M.purity(y, labels))
    assert M.accuracy(y, labels, "hungarian") <= M.purity(y, labels) + 1e-12
    assert 0.0 <= M.gini(y, labels) < 1.0


# --------------------------------------------------------------------------- evaluate


def test_evaluate_keys_json_and_consistency():
    rng = np.random.default_rng(5)
    X = rng.random((300, 8)).astype(np.float32)
    y = rng.integers(0, 4, 300)
    labels = rng.integers(0, 5, 300)
    centers = rng.random((6, 8))  # cluster 5 empty
    out = M.evaluate(X, y, labels, centers)
    assert set(out) == {
        "n_samples", "sse", "mean_sse", "purity", "gini",
        "accuracy_majority", "accuracy_hungarian", "nmi", "ari",
    }  # fmt: skip
    json.dumps(out)
    assert all(type(v) is float for k, v in out.items() if k != "n_samples")
    assert out["n_samples"] == 300
    assert out["sse"] == pytest.approx(M.sse(X, labels, centers))
    assert out["mean_sse"] == pytest.approx(M.sse(X, labels, centers) / 300)
    assert out["purity"] == pytest.approx(M.purity(y, labels, 6))
    assert out["gini"] == pytest.approx(M.gini(y, labels, 6))
    assert out["accuracy_majority"] == pytest.approx(M.accuracy(y, labels, "majority"))
    assert out["accuracy_hungarian"] == pytest.approx(M.accuracy(y, labels, "hungarian"))
    assert out["nmi"] == pytest.approx(M.nmi(y, labels))
    assert out["ari"] == pytest.approx(M.ari(y, labels))


def test_evaluate_without_classes():
    X = np.eye(3)
    out = M.evaluate(X, None, [0, 1, 1], np.eye(3)[:2])
    assert set(out) == {"n_samples", "sse", "mean_sse"}
    # row 2 to center 1: (0-0)^2 + (0-1)^2 + (1-0)^2 = 2
    assert out["sse"] == pytest.approx(2.0) and out["mean_sse"] == pytest.approx(2 / 3)


def test_evaluate_with_train_mappings():
    X_train, X_test = np.zeros((6, 2)), np.zeros((4, 2))
    centers = np.zeros((2, 2))
    mappings = M.fit_mappings([0, 0, 0, 1, 1, 1], [1, 1, 0, 0, 0, 1], n_clusters=2)
    assert set(mappings) == {"majority", "hungarian"}
    out = M.evaluate(X_test, [0, 0, 1, 0], [0, 0, 0, 1], centers, mappings=mappings)
    # as in test_train_mapping_applied_to_test: 2 of 4 with the train mapping
    assert out["accuracy_majority"] == pytest.approx(0.5)
    assert out["accuracy_hungarian"] == pytest.approx(0.5)
    # purity always describes the split itself: clusters {0,0,1} and {0} -> 3/4
    assert out["purity"] == pytest.approx(0.75)
    assert M.evaluate(X_train, [1, 1, 0, 0, 0, 1], [0] * 3 + [1] * 3, centers)["n_samples"] == 6
    with pytest.raises(ValueError, match="mappings"):
        M.evaluate(X_test, [0, 0, 1, 0], [0, 0, 0, 1], centers, mappings={"majority": 1})
    with pytest.raises(ValueError, match="n_clusters"):
        M.evaluate(X_test, [0, 0, 1, 0], [0, 0, 0, 1], centers, n_clusters=3)


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "labels, n_clusters, error, match",
    [
        (np.array([0, -1, 1, 0, 1, 2]), None, ValueError, ">= 0"),
        (np.array([0.0, 1, 1, 0, 1, 2]), None, TypeError, "integer"),
        (np.array([0, 1, 1]), None, ValueError, "y must be 1-D"),
        (np.array([0, 0, 0, 1, 1, 2]), 2, ValueError, "n_clusters=2"),
        (np.array([0, 0, 0, 1, 1, 2]), 0, ValueError, "n_clusters"),
        (np.array([0, 0, 0, 1, 1, 2]), 2.5, TypeError, "n_clusters"),
        (np.array([], dtype=int), None, ValueError, "labels"),
    ],
)
def test_label_validation(labels, n_clusters, error, match):
    with pytest.raises(error, match=match):
        M.purity(Y, labels, n_clusters)


def test_bad_method_and_nan_classes():
    with pytest.raises(ValueError, match="method"):
        M.map_clusters(L, Y, method="greedy")
    with pytest.raises(ValueError, match="NaN"):
        M.purity([0.0, np.nan, 1.0, 1.0, 1.0, 2.0], L)


def test_one_sse_fit_evaluation_and_distances_agree():
    """The objective a fit reports, metrics.sse and the per-row distances are the same sum."""
    import scipy.sparse as sp

    from kmeanslab.cluster import KMeans
    from kmeanslab.metrics import center_distances, sse

    rng = np.random.RandomState(0)
    X = rng.rand(700, 9)
    X[X < 0.6] = 0
    w = rng.uniform(0, 2, 700)
    km = KMeans(4, n_init=1, random_state=0).fit(X, sample_weight=w)
    ref = ((X - km.cluster_centers_[km.labels_]) ** 2).sum(1)
    for data in (X, sp.csr_matrix(X), X.astype(np.float32)):
        dist = center_distances(data, km.labels_, km.cluster_centers_)
        np.testing.assert_allclose(dist, np.sqrt(ref), rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(sse(data, km.labels_, km.cluster_centers_, w), ref @ w, rtol=1e-6)
    np.testing.assert_allclose(km.inertia_, ref @ w, rtol=1e-12)
