"""What each estimator contributes to the training loop: how a block of rows is assigned
and summarised (its metric), and how centres follow from the summaries (its update).
The loop (``_loop``) and the backends know nothing else about an estimator.

Block functions (``step``, ``farthest``, ``deviations``, ``final``) run where a block
lives, in-process or on a Dask worker: they take the block (``_engine.Data``), its
cache (a dict kept there for one run: bounds steppers, the last step's labels) and
plain arguments, and return small partial results that the ``combine_*`` functions
add in block order. A cache is only a cache: where it is empty (a lost worker, a
recomputed block) a function recomputes what it needs and returns the same result.
"""

import hashlib
from dataclasses import dataclass

import numpy as np

from . import _engine
from ._lloyd import make_step


@dataclass
class Partial:
    """One step's statistics of some blocks (added in block order by :func:`combine`)."""

    sums: np.ndarray  # (K, d) float64: weighted (or responsibility-weighted) sums, or None
    weights: np.ndarray  # (K,) float64: weight (or responsibility mass) per cluster
    objective: float  # the method's objective of the step, summed over the rows
    digests: tuple  # one digest of the labels per block (strict convergence)


def combine(*parts):
    if len(parts) == 1:  # nothing to add (one block in process): the part is a fresh result
        return parts[0]
    sums = None if parts[0].sums is None else parts[0].sums.copy()
    weights = parts[0].weights.copy()
    for p in parts[1:]:
        if sums is not None:
            sums += p.sums
        weights += p.weights
    return Partial(sums, weights, sum(p.objective for p in parts), tuple(h for p in parts for h in p.digests))


def digest(labels):
    """SHA-256 of the labels' bytes (the CPU's SHA instructions make it twice as fast as
    BLAKE2 here: 0.18 vs 0.42 ms a step on 70,000 labels)."""
    return hashlib.sha256(memoryview(np.ascontiguousarray(labels)).cast("B")).digest()


@dataclass
class Far:
    """Rows farthest from their centres: (cost, global index, label, weight, row values)."""

    cost: np.ndarray
    index: np.ndarray
    label: np.ndarray
    weight: np.ndarray
    rows: np.ndarray


def combine_far(*parts, m):
    """The ``m`` costliest rows of all parts, ties to the lowest index (a stable argsort)."""
    cost, index, label, weight, rows = (np.concatenate([getattr(p, f) for p in parts])
                                        for f in ("cost", "index", "label", "weight", "rows"))
    top = np.lexsort((index, -cost))[:m]
    return Far(cost[top], index[top], label[top], weight[top], rows[top])


def add(*parts):
    return sum(parts[1:], parts[0])


def concat(*parts):
    return np.concatenate(parts)


def largest(*parts):
    return max(parts)


class Method:
    """A metric and a centre update (this base: squared Euclidean, means).

    Attributes the loop reads: ``relocates`` (empty clusters take the rows farthest
    from their centres), ``strict`` (stop when a step's labels equal the step
    before's), ``strict_after_relocation`` (scikit-learn's rule for k-means: the
    comparison holds even in a step that relocated), ``settles`` (centres that moved
    by rounding alone are recomputed exactly), ``degree`` (the objective of X * s is
    s ** degree times X's) and ``period`` (scikit-learn ends Lloyd's verbose lines
    with one, Elkan's without).
    """

    relocates = True
    strict = True
    strict_after_relocation = True
    settles = False
    degree = 2
    period = "."

    def __init__(self, n_clusters, algorithm="lloyd"):
        self.k = n_clusters
        self.algorithm = algorithm

    # -- block functions --------------------------------------------------------------------
    def _stepper(self, data, cache, it, moves):
        """The block's stepper for step ``it``: the one that ran step ``it - 1`` here (told of
        that step's relocations ``moves``), or a new one (its first step is a full pass)."""
        got = cache.get("stepper")
        if got is not None and got[1] == it - 1:
            stepper = got[0]
            if moves is not None:
                stepper.relocated(*moves)
        else:
            stepper = make_step(self.algorithm, data, self.k)
        if self.algorithm != "lloyd":  # bounds to keep; a Lloyd step keeps nothing (and the
            cache["stepper"] = (stepper, it)  # block it holds must not outlive a streamed pass)
        return stepper

    def step(self, data, cache, it, centers, moves=None):
        """Assign the block's rows to ``centers``; their per-cluster statistics."""
        st = self._stepper(data, cache, it, moves).step(centers)
        labels = self._fix_labels(data, st.labels)
        cache["labels"] = (it, labels)
        return Partial(st.sums, st.weights, self._step_objective(st.sse), (digest(labels),))

    def _fix_labels(self, data, labels):
        return labels

    def _step_objective(self, sse):
        return sse

    def labels_of(self, data, cache, it, centers):
        """The labels of step ``it`` (under ``centers``): cached, or computed again."""
        got = cache.get("labels")
        if got is not None and got[0] == it:
            return got[1]
        return self._fix_labels(data, self.assign(data, centers))

    def assign(self, data, centers):
        return _engine.assign(data, centers)[0]

    def _costs(self, data, cache, it, centers, labels):
        """Each row's cost under its label (what relocation ranks rows by)."""
        return _engine.exact_sq_dist(data, centers, labels)

    def farthest(self, data, cache, it, centers, m, offset):
        """The ``m`` rows of positive weight farthest from their centre (see :class:`Far`)."""
        labels = self.labels_of(data, cache, it, centers)
        cost = np.where(data.w > 0, self._costs(data, cache, it, centers, labels).astype(np.float64), -1.0)
        top = np.argsort(-cost, kind="stable")[:m]
        top = top[cost[top] > self._min_relocation_cost()]
        return Far(cost[top], offset + top, labels[top].astype(np.int64), data.w[top].astype(np.float64),
                   data.rows(top))

    def _min_relocation_cost(self):
        return -1.0  # any row of positive weight (its cost is >= 0)

    def deviations(self, data, cache, it, centers, near):
        """sum of w (x - c) per cluster, for clusters with ``near[k]`` (see ``_loop.settle``)."""
        labels = self.labels_of(data, cache, it, centers)
        out = np.zeros(centers.shape, dtype=np.float64)
        rows = np.flatnonzero(near[labels])
        if rows.size:
            lab = labels[rows]
            part = (data.rows(rows).astype(np.float64) - centers[lab].astype(np.float64))
            part *= data.w[rows, None].astype(np.float64)
            np.add.at(out, lab, part)
        return out

    def final_stats(self, data, cache, it, centers, strict):
        """The objective of the block's final labels under ``centers`` and the weight per
        cluster; the labels stay in the cache for :meth:`final_labels`. Final labels are
        the last step's after a strict stop (before its relocations), else those of
        ``centers`` (the bounds stepper not told of the last relocations: its bounds hold
        for its own labels, and ties go to the lowest index)."""
        labels, objective = self._final(data, cache, it, centers, strict)
        cache["final"] = labels
        return objective, np.bincount(labels, weights=data.w.astype(np.float64), minlength=self.k)

    def final_labels(self, data, cache, it, centers, strict):
        got = cache.get("final")
        return got if got is not None else self._final(data, cache, it, centers, strict)[0]

    def _final(self, data, cache, it, centers, strict):
        if strict:
            labels = self.labels_of(data, cache, it, centers).copy()
        else:
            stepper = self._stepper(data, cache, it + 1, None)
            # The bounds, carried over the centres' last move, make this cheap.
            labels = self._fix_labels(data, stepper.assign(centers)).copy()
        return labels, self._step_objective(_engine.exact_sse(data, centers, labels))

    # -- the update (in the loop) -----------------------------------------------------------
    def update(self, backend, stats, centers, it, moves):
        """New centres (float64) from the step's statistics (relocations already in ``stats``)."""
        new = np.array(centers, dtype=np.float64)
        ok = stats.weights > 0
        new[ok] = stats.sums[ok] / stats.weights[ok, None]
        return new

    def objective(self, value):
        """The objective as reported (a method may add a constant, see :class:`Cosine`)."""
        return value


class SquaredEuclidean(Method):
    """k-means: squared Euclidean distance, means; Lloyd, Hamerly or Elkan steps."""

    settles = True

    def __init__(self, n_clusters, algorithm="lloyd"):
        super().__init__(n_clusters, algorithm)
        self.period = "" if algorithm == "elkan" else "."


class Cosine(Method):
    """Spherical k-means on unit rows: the nearest centre is the most similar one, the
    centre is the direction of its rows' sum, the objective sum(1 - cos) = SSE / 2.

    All-zero rows (norm 0: no direction) have weight 0 in the data, so they move no
    centre; they are labelled 0 and each adds its weight (``zero_weight`` in all) to
    the objective, as at cosine distance 1 from every centre.
    """

    degree = 0

    def __init__(self, n_clusters, zero_weight=0.0, algorithm="lloyd"):
        super().__init__(n_clusters, algorithm)
        self.zero_weight = zero_weight

    def _fix_labels(self, data, labels):
        zero = data.x_sq == 0
        if zero.any():
            labels = labels.copy()
            labels[zero] = 0
        return labels

    def _step_objective(self, sse):
        return sse / 2

    def update(self, backend, stats, centers, it, moves):
        new = super().update(backend, stats, centers, it, moves)
        norms = np.sqrt(np.einsum("ij,ij->i", new, new))
        ok = norms > 0  # a sum of length 0 keeps the old centre
        new[ok] /= norms[ok, None]
        new[~ok] = np.asarray(centers, dtype=np.float64)[~ok]
        return new

    def objective(self, value):
        return value + self.zero_weight


class Soft(Method):
    """Soft k-means of stiffness ``beta``: responsibility-weighted means, the free energy."""

    relocates = False
    strict = False
    settles = False

    def __init__(self, n_clusters, beta):
        super().__init__(n_clusters)
        self.beta = beta

    def step(self, data, cache, it, centers, moves=None):
        st = _engine.soft_step(data, centers, self.beta)
        return Partial(st.sums, st.mass, st.objective, (digest(st.labels),))

    def _final(self, data, cache, it, centers, strict):
        st = _engine.soft_step(data, centers, self.beta, accumulate=False)
        return st.labels, st.objective


class Manhattan(Method):
    """k-medians: L1 distance, coordinate-wise weighted medians.

    An empty cluster takes the row farthest (in L1) from its centre, unless that row is
    on its centre already (it would gain nothing); the strict stop needs a step that
    relocated nothing. Final labels are those of the final centres.
    """

    strict_after_relocation = False
    degree = 1

    def step(self, data, cache, it, centers, moves=None):
        labels, mind, objective = _engine.l1_assign(data, centers)
        cache["labels"] = (it, labels)
        cache["mind"] = (it, mind)
        weights = np.bincount(labels, weights=data.w.astype(np.float64), minlength=self.k)
        return Partial(None, weights, objective, (digest(labels),))

    def assign(self, data, centers):
        return _engine.l1_assign(data, centers)[0]

    def _costs(self, data, cache, it, centers, labels):
        # ``labels`` are the nearest centres' here, so each row's cost is its L1 distance
        # to the nearest centre: the step's, or computed again.
        got = cache.get("mind")
        return got[1] if got is not None and got[0] == it else _engine.l1_assign(data, centers)[1]

    def _min_relocation_cost(self):
        return 0.0  # a row already on its centre gains nothing by moving

    def update(self, backend, stats, centers, it, moves):
        return backend.medians(self, centers, it, moves)

    def block_labels(self, data, cache, it, centers, moves):
        """The step's labels with the relocations ``moves`` applied (what medians need)."""
        labels = self.labels_of(data, cache, it, centers)
        if moves is not None:
            labels = labels.copy()
            labels[moves[0]] = moves[2]
        return labels

    def _final(self, data, cache, it, centers, strict):
        labels, _, objective = _engine.l1_assign(data, centers)
        return labels, objective
