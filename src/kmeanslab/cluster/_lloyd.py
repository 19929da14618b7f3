"""Lloyd's algorithm: one loop, with interchangeable assignment steppers.

The loop (:func:`lloyd`) owns the stopping rules, empty-cluster handling and the
objective history; a stepper owns how labels and per-cluster statistics are
obtained: a full pass over X (``LloydStep``) or triangle-inequality bounds that
skip most distance computations once points settle (``BoundsStep``: Hamerly with
one lower bound per row, Elkan with one per row and centre). All steppers give
the labels a full Lloyd pass gives.
"""

import numpy as np

from . import _engine
from ._kernels import bounds as _bk
from ._progress import Progress

# "auto": Elkan from this many centres, Hamerly below (MNIST, 3 seeds: Hamerly 4 % faster
# at K=12, Elkan 20 % faster at K=16 and 8-18 % at K=20-32).
AUTO_ELKAN_MIN_K = 16
# Elkan keeps n x K lower bounds; above this many bytes, Hamerly's one per row is used instead.
ELKAN_MAX_BYTES = 256 * 2**20
# A step after one that computed more than this share of all distances (Elkan) or
# fully scanned more than this share of rows (Hamerly) is a full pass.
REFRESH_ELKAN = 0.1
REFRESH_HAMERLY = 0.5
# Hamerly's step is a full pass when its bounds leave more than this share of rows unsettled.
FULL_HAMERLY = 0.7


def choose_algorithm(algorithm, data, k):
    """The stepper an ``algorithm`` name resolves to for this data ("lloyd", "hamerly", "elkan")."""
    if algorithm == "lloyd" or data.sparse or k == 1:
        return "lloyd"
    if algorithm == "auto":
        algorithm = "hamerly" if k < AUTO_ELKAN_MIN_K else "elkan"
    if algorithm == "elkan" and data.n * k * data.dtype.itemsize > ELKAN_MAX_BYTES:
        algorithm = "hamerly"
    return algorithm


class LloydStep:
    """Full pass: assign every row and accumulate sums from scratch."""

    def __init__(self, data, k):
        self.data = data

    def step(self, centers):
        return _engine.lloyd_block(self.data, centers)

    def assign(self, centers):
        """Labels of the nearest centres (no per-cluster statistics)."""
        return _engine.assign(self.data, centers)[0]

    def relocated(self, rows, old, new):
        pass  # nothing carried between steps


class BoundsStep:
    """Hamerly / Elkan assignment; per-cluster sums from full passes, updated by the rows that move."""

    def __init__(self, data, k, kind):
        self.data, self.k, self.kind = data, k, kind
        self.err = _engine.ERR[np.dtype(data.dtype)]
        # Elkan's n x K bounds are kept in X's dtype; stored values are rounded down by this.
        self.rel = 2.5 * np.finfo(data.dtype).eps
        self.prev = None
        n = data.n
        self.labels = np.empty(n, dtype=np.int32)
        self.upper = np.empty(n)
        self.lower = np.empty((n, k if kind == "elkan" else 0), dtype=data.dtype)
        self.glow = np.empty(n)  # Hamerly's bound on every centre but the row's own
        self.cum = np.zeros(k)  # summed moves of each centre
        self.cum_max = 0.0  # summed largest move (the bound of ``glow``)
        self.total_sq = float((data.w * data.x_sq.astype(np.float64)).sum())
        if kind == "elkan":
            # Elkan's single distances read a byte copy of X when there is one (a quarter
            # of the memory traffic: MNIST's steps are bound by it).
            copy = data.byte_copy()
            self.byte_copy = copy if copy is not None else (
                np.zeros((0, 0), dtype=np.uint8), data.dtype.type(0), np.zeros(0), np.zeros(0))

    def _full(self, centers, c_sq):
        """Every distance (tiled): exact labels, bounds and per-cluster sums; drift restarts from zero."""
        d = self.data
        sums_part = _engine.slot_sums(d, self.k)
        _bk.init_bounds(d.X, d.w, centers, c_sq, d.x_sq, self.err, self.rel, self.labels, self.upper,
                        self.lower, self.glow, sums_part)
        self.sums = _engine.reduce_slots(sums_part)
        self.cum[:] = 0
        self.cum_max = 0.0
        self.scanned = 0  # the step after a full pass uses the bounds

    def _refresh_due(self):
        """Whether the last step computed so many distances that a full pass is cheaper.

        Bounds of centres a row did not re-examine age with every move; early on, Elkan
        then recomputes a tenth of all distances step after step, one dot product at a
        time. A full pass (register tiles, 2-3x faster per distance) renews every bound.
        """
        if self.kind == "elkan":
            return self.scanned > REFRESH_ELKAN * self.data.n * self.k
        return self.scanned > REFRESH_HAMERLY * self.data.n

    def _bounded(self, centers, c_sq, c64):
        """One step on the bounds after the centres moved from ``self.prev`` to ``c64``.

        Returns False, having done nothing, when Hamerly's bounds would leave more than
        ``FULL_HAMERLY`` of the rows to scan (a full pass is then cheaper).
        """
        d = self.data
        delta = np.sqrt(((c64 - self.prev) ** 2).sum(axis=1)) * (1 + 1e-9)
        cum = self.cum + delta
        cum_max = self.cum_max + delta.max()
        half_cc = _bk.half_center_distances(c64)
        half_sep = half_cc.min(axis=1)
        if self.kind == "hamerly" and _bk.hamerly_share(self.labels, self.upper, self.glow, half_sep,
                                                        cum, cum_max) > FULL_HAMERLY:
            return False
        self.cum, self.cum_max = cum, cum_max
        if self.kind == "hamerly":
            self.scanned = _bk.hamerly_assign(d.X, centers, c_sq, d.x_sq, half_sep, cum, cum_max,
                                              self.err, self.rel, self.labels, self.upper, self.glow)
        else:
            self.scanned = _bk.elkan_assign(d.X, centers, c_sq, d.x_sq, half_sep, half_cc, cum,
                                            self.err, self.rel, self.labels, self.upper, self.lower,
                                            *self.byte_copy)
        return True

    def step(self, centers):
        d = self.data
        centers = np.ascontiguousarray(centers, dtype=d.dtype)
        c_sq = _engine.center_sq_norms(centers)
        c64 = centers.astype(np.float64)
        if self.prev is None or self._refresh_due():
            self._full(centers, c_sq)
        else:
            old = self.labels.copy()
            if self._bounded(centers, c_sq, c64):
                rows = np.flatnonzero(self.labels != old)
                if rows.size:
                    self._move(rows, old[rows], self.labels[rows])
            else:
                self._full(centers, c_sq)
        self.prev = c64
        # Weights are recounted rather than updated, so a cluster that empties has exactly 0.
        weights = np.bincount(self.labels, weights=d.w.astype(np.float64), minlength=self.k)
        return _engine.BlockStats(self.labels, None, self._objective(c64, weights), self.sums.copy(),
                                  weights)

    def assign(self, centers):
        """Labels of the nearest centres after the last step: the bounds still hold, so this
        costs what a late step costs, not a full pass."""
        return self.step(centers).labels.copy()

    def _move(self, rows, old, new):
        d = self.data
        _bk.move_rows(d.X, d.w, rows.astype(np.int64), old.astype(np.int64), new.astype(np.int64),
                      self.sums)

    def _objective(self, c64, weights):
        """Weighted SSE of the current labels under ``c64``, from per-cluster statistics."""
        return float(self.total_sq - 2 * np.einsum("ij,ij->", c64, self.sums)
                     + np.dot(weights, np.einsum("ij,ij->i", c64, c64)))

    def relocated(self, rows, old, new):
        """Rows re-seeded into empty clusters join them and are re-examined in the next step.

        Their upper bound no longer holds, and neither does ``glow``: it bounded the
        centres other than the old one, which is now an "other" centre.
        """
        self._move(rows, old, new)
        self.labels[rows] = new
        self.upper[rows] = np.inf
        self.lower[rows] = 0
        self.glow[rows] = 0


def make_step(algorithm, data, k):
    kind = choose_algorithm(algorithm, data, k)
    return LloydStep(data, k) if kind == "lloyd" else BoundsStep(data, k, kind)


def update_centers(data, stats, old_centers):
    """New centres from per-cluster sums (see :func:`relocate_and_update`)."""
    return relocate_and_update(data, stats, old_centers)[0]


def relocate_and_update(data, stats, old_centers):
    """New centres from per-cluster sums; an empty cluster takes the farthest point.

    As scikit-learn: each empty cluster is re-seeded with one of the points farthest
    from their assigned (old) centre, which leaves its own cluster. A cluster that
    would be left with no weight keeps its old centre, so no centre is ever NaN.

    Returns (centers, (rows, old, new)) with the relocations made.
    """
    sums, weights = stats.sums, stats.weights
    empty = np.flatnonzero(weights <= 0)
    rows = np.empty(0, dtype=np.int64)
    old = new = rows
    if empty.size:
        sums, weights = sums.copy(), weights.copy()
        dist = _engine.exact_sq_dist(data, old_centers, stats.labels)
        dist = np.where(data.w > 0, dist, -1)
        rows = np.argsort(-dist, kind="stable")[: empty.size]
        old = stats.labels[rows].astype(np.int64)
        new = empty.astype(np.int64)
        for i, a, b in zip(rows, old, new):
            x = data.rows([i])[0].astype(np.float64)
            sums[a] -= data.w[i] * x
            weights[a] -= data.w[i]
            sums[b] = data.w[i] * x
            weights[b] = data.w[i]
    centers = np.array(old_centers, dtype=np.float64)
    ok = weights > 0
    centers[ok] = sums[ok] / weights[ok, None]
    return centers.astype(data.dtype), (rows, old, new)


# A centre that moved by at most this share of its size may be a fixed point hidden by
# the rounding of sums / weights (in float64 the mean of five copies of a row is not
# always the row): see settle_fixed_points.
FIXED_POINT_REL = 2.0**-30
# Values (rows x features) read at a time by settle_fixed_points: 32 MB of float64.
SETTLE_VALUES = 2**22


def settle_fixed_points(data, labels, weights, old_centers, new_centers, skip=()):
    """New centres, with each that moved by rounding alone recomputed as old + mean(x - old).

    Rows equal to their centre then leave it exactly where it is, as the mean of
    identical rows should be. Only centres that moved by at most ``FIXED_POINT_REL`` of
    their size are recomputed (a pass over their rows); ``skip``: clusters whose
    members changed after ``labels`` (relocations).
    """
    old = np.asarray(old_centers, dtype=np.float64)
    moved = np.abs(new_centers.astype(np.float64) - old).max(axis=1)
    near = (moved > 0) & (moved <= FIXED_POINT_REL * np.abs(old).max(axis=1)) & (weights > 0)
    near[np.asarray(skip, dtype=np.int64)] = False
    if not near.any():
        return new_centers
    rows = np.flatnonzero(near[labels])
    rows = rows[np.argsort(labels[rows], kind="stable")]
    dev = np.zeros_like(old)
    block = max(1, SETTLE_VALUES // old.shape[1])
    for s in range(0, rows.size, block):
        r = rows[s:s + block]
        lab = labels[r]
        part = (data.rows(r).astype(np.float64) - old[lab]) * data.w[r, None].astype(np.float64)
        first = np.flatnonzero(np.r_[True, lab[1:] != lab[:-1]])
        dev[lab[first]] += np.add.reduceat(part, first, axis=0)
    new_centers = new_centers.copy()
    new_centers[near] = old[near] + dev[near] / weights[near, None]
    return new_centers


def center_shift(new_centers, centers):
    """Total squared move of the centres (scikit-learn's ``center_shift_tot``)."""
    return float(((new_centers.astype(np.float64) - centers) ** 2).sum())


def lloyd(data, centers, max_iter, tol, verbose=0, algorithm="lloyd"):
    """Lloyd's algorithm from ``centers`` with scikit-learn's stopping rules.

    As ``sklearn.cluster._kmeans._kmeans_single_lloyd``: step ``it`` (from 0) assigns
    the rows and moves the centres; it stops with strict convergence when the labels
    equal those of the step before, else when the total squared centre shift is at
    most ``tol`` (absolute), after which the labels of the final centres are computed.
    ``history`` holds the objective of each assignment step.
    """
    stepper = make_step(algorithm, data, centers.shape[0])
    say = Progress(verbose, getattr(data, "scale_exp", 0), period="" if algorithm == "elkan" else ".")
    labels_old = None
    history = []
    strict = False
    for it in range(max_iter):
        stats = stepper.step(centers)
        history.append(stats.sse)
        new_centers, moves = relocate_and_update(data, stats, centers)
        shift = center_shift(new_centers, centers)
        if shift > tol:
            new_centers = settle_fixed_points(data, stats.labels, stats.weights, centers,
                                              new_centers, np.r_[moves[1], moves[2]])
            shift = center_shift(new_centers, centers)
        centers = new_centers
        say.iteration(it, stats.sse)
        if labels_old is not None and np.array_equal(stats.labels, labels_old):
            say.strict(it)
            strict = True
            break
        if shift <= tol:
            say.within_tol(it, shift, tol)
            break
        labels_old = stats.labels.copy()
        if moves[0].size:
            stepper.relocated(*moves)
    # After a stop on the tolerance, the labels of the final centres (the bounds, carried
    # over the centres' last move, make this cheap).
    labels = stats.labels if strict else stepper.assign(centers)
    inertia = _engine.exact_sse(data, centers, labels)
    return {"labels": labels.copy(), "inertia": inertia, "centers": centers, "n_iter": it + 1,
            "history": history}
