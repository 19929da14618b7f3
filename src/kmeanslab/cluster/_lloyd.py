"""The assignment steppers of Lloyd's algorithm, on one block of rows.

The loop (``_loop``) owns the stopping rules, empty-cluster handling and the objective
history; a stepper owns how labels and per-cluster statistics of its rows are obtained:
a full pass (``LloydStep``) or triangle-inequality bounds that skip most distance
computations once points settle (``BoundsStep``: Hamerly with one lower bound per
row, Elkan with one per row and centre). All steppers give the labels a full Lloyd
pass gives. A backend keeps one stepper per block, where the block lives.
"""

import numpy as np

from . import _engine
from ._kernels import bounds as _bk

# "auto": Elkan from this many centres, Hamerly below (MNIST, 3 seeds, before the copy of
# non-zeros: Hamerly 4 % faster at K=12, Elkan 20 % faster at K=16 and 8-18 % at K=20-32).
AUTO_ELKAN_MIN_K = 16
# The same when the rows are read from X's copy of their non-zeros, where Hamerly scans
# its open rows at once (bounds.hpp, DIRECT_BYTES). MNIST-70k fits, seeds 0-2, Hamerly /
# Elkan: K=16 0.55 / 0.81-0.93 s, K=24 0.94-0.99 / 1.7-1.9 s, K=40 1.4-1.7 / 2.5 s,
# K=50 2.6 / 3.8 s, K=64 2.1-2.3 / 2.0 s, K=100 3.2-3.7 / 2.5-2.7 s.
AUTO_ELKAN_MIN_K_NONZEROS = 64
# Elkan keeps n x K lower bounds; above this many bytes, Hamerly's one per row is used instead.
ELKAN_MAX_BYTES = 256 * 2**20
# Elkan with a byte copy of X reads the copy of non-zeros (when made, for the seeding) in its
# full passes and moves only while the bounds and both copies take at most this share of
# X's memory (MNIST: kept at K=100, 167 MB; dropped at K=256, 211 MB beside X's 220 MB).
ELKAN_COPIES_SHARE = 0.8
# A step after one that computed more than this share of all distances (Elkan) or
# fully scanned more than this share of rows (Hamerly) is a full pass.
REFRESH_ELKAN = 0.1
REFRESH_HAMERLY = 0.5
# A step is a full pass when its bounds leave more than this share of rows (Hamerly) or of
# (row, centre) pairs (Elkan, tested in the step after a full pass) unsettled. Elkan's
# first step after the opening full pass leaves nearly all pairs open (MNIST, K=100: 94 of
# 99 per row, of which it computed 24 at the cost of a full pass, then refreshed anyway).
FULL_HAMERLY = 0.7
FULL_ELKAN = 0.5


def choose_algorithm(algorithm, data, k):
    """The stepper an ``algorithm`` name resolves to for this data ("lloyd", "hamerly", "elkan")."""
    if algorithm == "lloyd" or data.sparse or k == 1:
        return "lloyd"
    if algorithm == "auto":
        few = k < AUTO_ELKAN_MIN_K or (k < AUTO_ELKAN_MIN_K_NONZEROS and data.nonzeros is not None)
        algorithm = "hamerly" if few else "elkan"
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
        # The kernels read mostly-zero rows (MNIST's) from X's copy of their non-zeros.
        # Elkan's single distances read a byte copy of X when there is one instead (a
        # quarter of the memory traffic, and faster than the copy's gathers: measured on
        # MNIST), so Elkan makes the copy of non-zeros only when there is none, and
        # keeps one already made while memory allows.
        copy = data.byte_copy if kind == "elkan" else None
        self.nz = data.built_nonzeros() if copy is not None else data.nonzeros
        if copy is not None and self.nz is not None:
            held = sum(a.nbytes for a in self.nz) + copy[0].nbytes + self.lower.nbytes
            if held > ELKAN_COPIES_SHARE * data.X.nbytes:
                data.drop_nonzeros()
                self.nz = None
        if kind == "elkan":
            self.byte_copy = copy if copy is not None else (
                np.zeros((0, 0), dtype=np.uint8), data.dtype.type(0), np.zeros(0), np.zeros(0))

    def _full(self, centers, c_sq):
        """Every distance (tiled): exact labels, bounds and per-cluster sums; drift restarts from zero."""
        d = self.data
        sums_part = _engine.slot_sums(d, self.k)
        _bk.init_bounds(d.X, d.w, centers, c_sq, d.x_sq, self.err, self.rel, self.labels, self.upper,
                        self.lower, self.glow, sums_part, self.nz)
        self.sums = _engine.reduce_slots(sums_part)
        self.cum[:] = 0
        self.cum_max = 0.0
        self.scanned = 0  # the step after a full pass uses the bounds
        self.after_full = True  # (Elkan's next step first counts the pairs they leave open)

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

        Returns False, having done nothing, when the bounds would leave more than
        ``FULL_HAMERLY`` / ``FULL_ELKAN`` unsettled (a full pass is then cheaper).
        """
        d = self.data
        delta = np.sqrt(((c64 - self.prev) ** 2).sum(axis=1)) * (1 + 1e-9)
        cum = self.cum + delta
        cum_max = self.cum_max + delta.max()
        half_cc = _bk.half_center_distances(c64)
        half_sep = half_cc.min(axis=1)
        if self.kind == "hamerly":
            scanned = _bk.hamerly_assign(d.X, centers, c_sq, d.x_sq, half_sep, cum, cum_max, self.err,
                                         self.rel, self.labels, self.upper, self.glow, self.nz,
                                         max_open=FULL_HAMERLY)
        else:
            scanned = _bk.elkan_assign(d.X, centers, c_sq, d.x_sq, half_sep, half_cc, cum, self.err,
                                       self.rel, self.labels, self.upper, self.lower, *self.byte_copy,
                                       self.nz, max_open=FULL_ELKAN if self.after_full else 1.0)
        if scanned < 0:
            return False
        self.cum, self.cum_max, self.scanned, self.after_full = cum, cum_max, scanned, False
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
                      self.sums, self.nz)

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
