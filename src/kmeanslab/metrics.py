"""Clustering quality: objective, purity, Gini, contingency, cluster-to-class transfer.

Cluster labels are integers in ``[0, n_clusters)``. Functions taking ``n_clusters``
default to ``labels.max() + 1``; pass it so that empty clusters (no point assigned) are
represented. Per-cluster values of an empty cluster are NaN (undefined); totals never
are. Class values ``y`` may be integers, floats or strings. Label metrics count points
unweighted; ``sample_weight`` enters only the objective (``sse``, ``mean_sse``).
"""

from collections import namedtuple
from numbers import Integral

import numpy as np
import scipy.sparse as sp

__all__ = [
    "Contingency", "ClusterMapping", "sse", "mean_sse", "contingency_matrix", "purity",
    "gini", "map_clusters", "fit_mappings", "accuracy", "nmi", "ari", "evaluate",
    "cluster_summary", "per_sample",
]  # fmt: skip

# Elements (dense) or stored entries (sparse) per block in sse: ~4 MB of float64.
_BLOCK_ELEMENTS = 1 << 19
_METHODS = ("majority", "hungarian")

Contingency = namedtuple("Contingency", ["matrix", "classes"])
Contingency.__doc__ = """``(matrix, classes)`` from :func:`contingency_matrix`.

``matrix[c, k]`` (int64, shape (n_classes, n_clusters)) counts the points of class
``classes[c]`` in cluster ``k``.
"""


def _check_n_clusters(n_clusters, name="n_clusters"):
    if isinstance(n_clusters, (bool, np.bool_)) or not isinstance(n_clusters, Integral):
        raise TypeError(f"{name} must be an int, got {type(n_clusters).__name__}")
    if n_clusters < 1:
        raise ValueError(f"{name} must be >= 1, got {n_clusters}")
    return int(n_clusters)


def _check_labels(labels, n_clusters=None, name="labels"):
    """Return ``(labels as a 1-D intp array, n_clusters)``."""
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array, got shape {labels.shape}")
    if labels.dtype.kind not in "iu":
        raise TypeError(f"{name} must hold integer cluster ids, got dtype {labels.dtype}")
    lo, hi = int(labels.min()), int(labels.max())
    if lo < 0:
        raise ValueError(f"{name} must be >= 0, found {lo}")
    if n_clusters is None:
        n_clusters = hi + 1
    else:
        n_clusters = _check_n_clusters(n_clusters)
        if hi >= n_clusters:
            raise ValueError(f"{name} has cluster id {hi}, but n_clusters={n_clusters}")
    return labels.astype(np.intp, copy=False), n_clusters


def _check_y(y, n):
    y = np.asarray(y)
    if y.ndim != 1 or y.shape[0] != n:
        raise ValueError(f"y must be 1-D with {n} values (one per label), got {y.shape}")
    if y.dtype.kind not in "biufUSO":
        raise TypeError(f"y must hold int, float or string class values, got {y.dtype}")
    if y.dtype.kind == "f" and np.isnan(y).any():
        raise ValueError("y contains NaN")
    return y


def _encode(y, classes=None):
    """Return ``(classes, codes)`` with ``classes[codes] == y``."""
    if classes is None:
        classes, codes = np.unique(y, return_inverse=True)
        return classes, codes.reshape(-1)
    classes = np.asarray(classes)
    if classes.ndim != 1 or classes.size == 0:
        raise ValueError(f"classes must be a non-empty 1-D array, got shape {classes.shape}")
    order = np.argsort(classes, kind="stable")
    ordered = classes[order]
    if np.any(ordered[1:] == ordered[:-1]):
        raise ValueError("classes has repeated values")
    pos = np.clip(np.searchsorted(ordered, y), 0, classes.size - 1)
    missing = ordered[pos] != y
    if missing.any():
        raise ValueError(f"y has value {y[missing][0]!r} that is not in classes")
    return classes, order[pos]


def _check_objective_args(X, labels, centers, w):
    if sp.issparse(X):
        X = sp.csr_matrix(X)
        X.sum_duplicates()
    elif np.asarray(X).dtype.kind not in "biuf":
        raise TypeError(f"X must be numeric, got dtype {np.asarray(X).dtype}")
    X = X if sp.issparse(X) else np.asarray(X)
    centers = np.asarray(centers, dtype=np.float64)
    if X.ndim != 2 or centers.ndim != 2:
        raise ValueError(f"X and centers must be 2-D, got {X.shape} and {centers.shape}")
    if centers.shape[1] != X.shape[1]:
        raise ValueError(f"centers has {centers.shape[1]} features but X has {X.shape[1]}")
    labels, _ = _check_labels(labels, centers.shape[0])
    if labels.shape[0] != X.shape[0]:
        raise ValueError(f"labels has {labels.shape[0]} values but X has {X.shape[0]} rows")
    if w is not None:
        w = np.asarray(w, dtype=np.float64)
        if w.shape != (X.shape[0],):
            raise ValueError(f"sample_weight must have shape ({X.shape[0]},), got {w.shape}")
        if not np.all(np.isfinite(w)) or (w < 0).any():
            raise ValueError("sample_weight must be finite and >= 0")
    return X, labels, centers, w


def _row_sq_dists(X, labels, centers):
    """(start, stop, ||x_i - c_{labels_i}||^2 in float64) over blocks of rows, by differences
    (no cancellation); a sparse X block by block made dense."""
    n, d = X.shape
    step = int(np.clip(_BLOCK_ELEMENTS // max(d, 1), 256, 1 << 16))
    # Buffers reused across blocks: a fresh multi-MB array per block costs more in page
    # faults than the arithmetic.
    diff_buf, near_buf = np.empty((min(step, n), d)), np.empty((min(step, n), d))
    for start in range(0, n, step):
        stop = min(start + step, n)
        diff, near = diff_buf[: stop - start], near_buf[: stop - start]
        rows = X[start:stop]
        np.copyto(diff, rows.toarray() if sp.issparse(rows) else rows)
        # mode="clip" avoids take's buffered bounds check; labels are already valid.
        np.take(centers, labels[start:stop], axis=0, out=near, mode="clip")
        diff -= near
        yield start, stop, np.einsum("ij,ij->i", diff, diff)


def _sse_dense(X, labels, centers, w):
    return sum(float(row.sum() if w is None else row @ w[start:stop])
               for start, stop, row in _row_sq_dists(X, labels, centers))


def _sse_csr(X, labels, centers, w):
    # ||x - c||^2 = ||c||^2 + sum over stored j of x_j (x_j - 2 c_j): touches only the
    # stored entries. Blocks hold about _BLOCK_ELEMENTS entries, in reused buffers.
    indptr, n, d = X.indptr, X.shape[0], X.shape[1]
    cuts = np.searchsorted(indptr, np.arange(0, X.nnz, _BLOCK_ELEMENTS), side="right") - 1
    bounds = np.unique(np.concatenate([cuts, [0, n]]))
    cap = int(np.max(np.diff(indptr[bounds]), initial=0))
    offset, term, x = np.empty(cap, np.intp), np.empty(cap), np.empty(cap)
    center_sq = np.einsum("ij,ij->i", centers, centers)[labels]
    total = float(center_sq.sum() if w is None else center_sq @ w)
    for r0, r1 in zip(bounds[:-1], bounds[1:]):
        p0, p1 = indptr[r0], indptr[r1]
        if p1 == p0:
            continue
        rows = np.flatnonzero(np.diff(indptr[r0 : r1 + 1])) + r0
        first = indptr[rows] - p0
        # Each row's offset into centers.ravel(), spread over its entries as a step at
        # the row's first entry and a running sum: no temporary as long as the block.
        off, t, xb = offset[: p1 - p0], term[: p1 - p0], x[: p1 - p0]
        off.fill(0)
        off[first] = np.diff(labels[rows] * d, prepend=0)
        np.cumsum(off, out=off)
        off += X.indices[p0:p1]
        np.take(centers.ravel(), off, out=t, mode="clip")
        np.copyto(xb, X.data[p0:p1])
        t *= -2.0
        t += xb
        t *= xb
        total += float(t.sum() if w is None else np.add.reduceat(t, first) @ w[rows])
    # The expansion can round a zero objective to a tiny negative number.
    return max(total, 0.0)


def sse(X, labels, centers, sample_weight=None):
    """``sum_i w_i ||x_i - c_{labels_i}||^2`` as a float, accumulated in float64.

    ``X`` is dense (any numeric dtype; a float32 X is never copied whole) or
    scipy.sparse, ``labels`` ints in ``[0, len(centers))``, ``sample_weight`` >= 0.
    """
    X, labels, centers, w = _check_objective_args(X, labels, centers, sample_weight)
    if sp.issparse(X):
        return _sse_csr(X, labels, centers, w)
    return _sse_dense(X, labels, centers, w)


def _total_weight(n, sample_weight):
    total = n if sample_weight is None else float(np.sum(sample_weight))
    if total <= 0:
        raise ValueError("sample_weight sums to 0; mean_sse is undefined")
    return total


def mean_sse(X, labels, centers, sample_weight=None):
    """Objective per unit weight, ``sse / sum(w)``: per point when unweighted."""
    total = sse(X, labels, centers, sample_weight)
    return total / _total_weight(np.shape(labels)[0], sample_weight)


def contingency_matrix(y, labels, n_clusters=None, classes=None):
    """Count the points of each class in each cluster.

    Returns the named tuple ``Contingency(matrix, classes)``: ``matrix`` is int64 of
    shape (n_classes, n_clusters), columns the clusters ``0..n_clusters-1`` (empty ones
    are zero columns), rows the ``classes``: by default the sorted unique values of
    ``y``; pass the training classes so that train and test matrices line up (a ``y``
    value outside them is an error).
    """
    labels, k = _check_labels(labels, n_clusters)
    y = _check_y(y, labels.shape[0])
    classes, codes = _encode(y, classes)
    flat = np.bincount(codes * k + labels, minlength=classes.size * k)
    return Contingency(flat.reshape(classes.size, k).astype(np.int64, copy=False), classes)


def _per_cluster(matrix):
    """Per-cluster ``(sizes, purity, gini)``; NaN purity and Gini for empty clusters."""
    sizes = matrix.sum(axis=0)
    nonempty = sizes > 0
    frac = matrix / np.where(nonempty, sizes, 1)
    pur = np.where(nonempty, frac.max(axis=0), np.nan)
    gin = np.where(nonempty, 1.0 - (frac * frac).sum(axis=0), np.nan)
    return sizes, pur, gin


def _totals(matrix):
    """Total ``(purity, gini)``; empty clusters weigh nothing, so never NaN."""
    sizes, _, gin = _per_cluster(matrix)
    n = sizes.sum()
    return float(matrix.max(axis=0).sum() / n), float(np.nansum(gin * sizes) / n)


def purity(y, labels, n_clusters=None, per_cluster=False):
    """Share of points in their cluster's most frequent class.

    Returns the total ``sum_k max_c n_ck / N`` (float) or, with ``per_cluster=True``,
    ``max_c n_ck / n_k`` per cluster (array (n_clusters,), NaN for empty clusters).
    """
    matrix, _ = contingency_matrix(y, labels, n_clusters)
    return _per_cluster(matrix)[1] if per_cluster else _totals(matrix)[0]


def gini(y, labels, n_clusters=None, per_cluster=False):
    """Gini impurity ``1 - sum_c p_ck^2`` of the classes in each cluster (0 = pure).

    Returns the cluster-size-weighted mean over non-empty clusters (float) or, with
    ``per_cluster=True``, the impurity per cluster (array, NaN for empty clusters).
    """
    matrix, _ = contingency_matrix(y, labels, n_clusters)
    return _per_cluster(matrix)[2] if per_cluster else _totals(matrix)[1]


def nmi(y, labels):
    """Normalized mutual information, ``sklearn.metrics.normalized_mutual_info_score``."""
    from sklearn.metrics import normalized_mutual_info_score

    return float(normalized_mutual_info_score(y, labels))


def ari(y, labels):
    """Adjusted Rand index, ``sklearn.metrics.adjusted_rand_score``."""
    from sklearn.metrics import adjusted_rand_score

    return float(adjusted_rand_score(y, labels))


def _sentinel(classes):
    """A value of the classes' kind equal to no class: the prediction of unmapped clusters."""
    kind = classes.dtype.kind
    if kind in "iu":
        return -1 if not np.any(classes == -1) else int(classes.min()) - 1
    if kind == "f":
        return np.nan
    if kind in "US":
        value, mark = ("", "?") if kind == "U" else (b"", b"?")
        while np.any(classes == value):
            value += mark
        return value
    return None


class ClusterMapping:
    """A learned cluster-to-class transfer, to apply to the labels of new data.

    Made by :func:`map_clusters` or :func:`fit_mappings`. Clusters given no class (empty
    when learned, or left unmatched by the Hungarian assignment when there are more
    clusters than classes) predict ``unmapped_value_``, which equals no class.

    Attributes
    ----------
    mapping_ : ndarray, shape (n_clusters,)
        Class predicted for each cluster; integer classes are held as int64.
    unmapped_ : ndarray of bool, shape (n_clusters,)
    classes_ : ndarray
        The sorted classes seen when learning.
    method : {"majority", "hungarian"}
    unmapped_value_ : scalar
        -1 for integer classes (``min - 1`` if -1 is a class), NaN for floats, a string
        that is not a class for strings, None for object classes.
    """

    def __init__(self, mapping, unmapped, classes, method):
        self.mapping_ = np.asarray(mapping)
        self.unmapped_ = np.asarray(unmapped, dtype=bool)
        self.classes_ = np.asarray(classes)
        self.method = method
        if self.mapping_.ndim != 1 or self.mapping_.shape != self.unmapped_.shape:
            raise ValueError("mapping and unmapped must be 1-D and of the same length")
        self.unmapped_value_ = _sentinel(self.classes_)

    @property
    def n_clusters(self):
        return self.mapping_.shape[0]

    def predict(self, labels):
        """Class of each cluster id in ``labels``; ids must be < ``n_clusters``."""
        labels, _ = _check_labels(labels, self.n_clusters)
        return self.mapping_[labels]

    __call__ = predict

    def __repr__(self):
        return (
            f"ClusterMapping(method={self.method!r}, n_clusters={self.n_clusters}, "
            f"n_unmapped={int(self.unmapped_.sum())})"
        )


def _build_mapping(matrix, classes, method):
    if method not in _METHODS:
        raise ValueError(f"method must be 'majority' or 'hungarian', got {method!r}")
    if classes.dtype.kind in "iub":
        # Unsigned or bool classes could not hold the -1 sentinel.
        classes = classes.astype(np.int64)
    sentinel = _sentinel(classes)
    if classes.dtype.kind in "US":
        # Widen the string dtype so that the sentinel is stored unclipped.
        width = classes.dtype.itemsize // (4 if classes.dtype.kind == "U" else 1)
        classes = classes.astype(f"{classes.dtype.kind}{max(width, len(sentinel), 1)}")
    k = matrix.shape[1]
    filled = np.flatnonzero(matrix.sum(axis=0) > 0)
    assigned = np.full(k, -1, dtype=np.intp)
    if method == "majority":
        # argmax takes the first maximum: ties go to the smallest class.
        assigned[filled] = matrix[:, filled].argmax(axis=0)
    else:
        from scipy.optimize import linear_sum_assignment

        # Empty clusters add nothing to the matched count; leaving them out keeps every
        # class free for a cluster that has points.
        rows, cols = linear_sum_assignment(matrix[:, filled], maximize=True)
        assigned[filled[cols]] = rows
    unmapped = assigned < 0
    mapping = np.empty(k, dtype=classes.dtype)
    mapping[~unmapped] = classes[assigned[~unmapped]]
    mapping[unmapped] = sentinel
    return ClusterMapping(mapping, unmapped, classes, method)


def map_clusters(labels, y, method="majority", n_clusters=None):
    """Learn which class each cluster stands for; returns a :class:`ClusterMapping`.

    ``method="majority"`` maps each cluster to its most frequent class (ties to the
    smallest); ``"hungarian"`` maps one-to-one, maximising the number of matched points
    (``scipy.optimize.linear_sum_assignment``), so clusters beyond the number of classes
    stay unmapped. Clusters empty here (ids < ``n_clusters``) stay unmapped too.
    """
    matrix, classes = contingency_matrix(y, labels, n_clusters)
    return _build_mapping(matrix, classes, method)


def fit_mappings(labels, y, n_clusters=None):
    """Both mappings learned on one split: ``{"majority": ..., "hungarian": ...}``."""
    matrix, classes = contingency_matrix(y, labels, n_clusters)
    return {m: _build_mapping(matrix, classes, m) for m in _METHODS}


def accuracy(y, labels, method="majority", mapping=None, n_clusters=None):
    """Fraction of points whose cluster maps to their own class (float).

    With ``mapping=None`` the mapping is learned from ``(labels, y)`` by ``method``
    (the usual "cluster accuracy"); a given ``mapping`` (e.g. learned on the training
    split) is used as is. Points in unmapped clusters, and of classes the mapping never
    saw, count as wrong.
    """
    if mapping is None:
        mapping = map_clusters(labels, y, method, n_clusters)
    elif not isinstance(mapping, ClusterMapping):
        raise TypeError(f"mapping must be a ClusterMapping, got {type(mapping).__name__}")
    elif n_clusters is not None and _check_n_clusters(n_clusters) != mapping.n_clusters:
        raise ValueError(f"n_clusters={n_clusters} but mapping has {mapping.n_clusters}")
    labels, _ = _check_labels(labels, mapping.n_clusters)
    y = _check_y(y, labels.shape[0])
    kinds = y.dtype.kind + mapping.classes_.dtype.kind
    if "O" not in kinds and (kinds[0] in "US") != (kinds[1] in "US"):
        raise TypeError(
            f"y has dtype {y.dtype} but mapping was learned on {mapping.classes_.dtype}"
        )
    correct = (mapping.predict(labels) == y) & ~mapping.unmapped_[labels]
    return float(np.count_nonzero(correct) / labels.shape[0])


def evaluate(X, y, labels, centers, *, sample_weight=None, mappings=None, n_clusters=None):
    """Every metric of one split, as plain (json-serialisable) Python numbers.

    Parameters
    ----------
    X, labels, centers, sample_weight
        As for :func:`sse`; ``n_clusters``, if given, must equal ``len(centers)``.
    y : array-like or None
        Class values; None gives only ``n_samples``, ``sse`` and ``mean_sse``.
    mappings : dict, optional
        ``{"majority": ClusterMapping, "hungarian": ClusterMapping}`` learned on another
        split (:func:`fit_mappings` on train), used for the two accuracies. Default:
        learned from this split. Purity, Gini, NMI and ARI always describe this split.

    Returns
    -------
    dict
        ``n_samples`` (int), ``sse``, ``mean_sse`` and, with ``y``, ``purity``, ``gini``,
        ``accuracy_majority``, ``accuracy_hungarian``, ``nmi``, ``ari`` (floats).
    """
    total = sse(X, labels, centers, sample_weight)
    k = np.shape(centers)[0]
    if n_clusters is not None and _check_n_clusters(n_clusters) != k:
        raise ValueError(f"n_clusters={n_clusters} but centers has {k} rows")
    n = int(np.shape(labels)[0])
    out = {"n_samples": n, "sse": total, "mean_sse": total / _total_weight(n, sample_weight)}
    if y is None:
        return out
    if mappings is None:
        mappings = fit_mappings(labels, y, k)
    elif not isinstance(mappings, dict) or not set(_METHODS) <= set(mappings):
        raise ValueError("mappings must be a dict with keys 'majority' and 'hungarian'")
    matrix, _ = contingency_matrix(y, labels, k)
    out["purity"], out["gini"] = _totals(matrix)
    for m in _METHODS:
        out[f"accuracy_{m}"] = accuracy(y, labels, mapping=mappings[m], n_clusters=k)
    out["nmi"] = nmi(y, labels)
    out["ari"] = ari(y, labels)
    return out


def cluster_summary(y, labels, n_clusters=None):
    """Per-cluster facts for figure titles and reports.

    Returns a dict of arrays of shape (n_clusters,): ``size`` (int64), ``majority``
    (most frequent class, ties to the smallest; the majority mapping's
    ``unmapped_value_`` for empty clusters), ``majority_count`` (int64), ``purity`` and
    ``gini`` (float, NaN for empty clusters); plus ``classes``, the sorted class values,
    and ``unrepresented``, the classes that are no cluster's majority.
    """
    matrix, classes = contingency_matrix(y, labels, n_clusters)
    sizes, pur, gin = _per_cluster(matrix)
    majority = _build_mapping(matrix, classes, "majority")
    return {
        "unrepresented": classes[~np.isin(classes, majority.mapping_[~majority.unmapped_])],
        "size": sizes.astype(np.int64),
        "majority": majority.mapping_,
        "majority_count": matrix.max(axis=0).astype(np.int64),
        "purity": pur,
        "gini": gin,
        "classes": classes,
    }


def per_sample(values, total_weight):
    """Objective values (e.g. ``history_``) per unit weight: J_clust = SSE / n."""
    if not total_weight > 0:
        raise ValueError(f"total_weight must be > 0, got {total_weight!r}")
    return np.asarray(values, dtype=np.float64) / float(total_weight)


def center_distances(X, labels, centers):
    """Euclidean distance of each row of ``X`` (dense or sparse) to its own centre (float64)."""
    X, labels, centers, _ = _check_objective_args(X, labels, centers, None)
    out = np.empty(X.shape[0])
    for start, stop, row in _row_sq_dists(X, labels, centers):
        out[start:stop] = np.sqrt(row)
    return out
