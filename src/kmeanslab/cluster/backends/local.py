"""The in-process backend: all of X is one block in this process (see the package doc)."""

import numpy as np

from .. import _engine
from .._validation import scale_by


class LocalBackend:
    """All rows in one :class:`_engine.Data`; the kernels parallelise over them."""

    keeps_blocks = True
    n_blocks = 1

    def __init__(self, data):
        self.data = data
        self.n, self.d, self.dtype, self.sparse = data.n, data.d, data.dtype, data.sparse
        self.offsets = np.zeros(1, dtype=np.int64)
        self._cache = {}

    @property
    def local_data(self):
        return self.data

    def new_run(self):
        self._cache = {}

    end_run = new_run

    def map_reduce(self, fn, *args, combine=None, per_block=None):
        part = fn(self.data, self._cache, *args, *(per_block[0] if per_block else ()))
        return combine(part) if combine is not None else part

    def map_keep(self, fn, *args, per_block=None):
        return [self.map_reduce(fn, *args, per_block=per_block)]

    def labels(self, kept):
        return kept[0]

    def gather_rows(self, idx):
        return self.data.rows(idx)

    def weights(self):
        return self.data.w.astype(np.float64)

    def medians(self, method, centers, it, moves):
        labels = method.block_labels(self.data, self._cache, it, centers, moves[0] if moves else None)
        return _engine.weighted_medians(self.data, labels, centers).astype(np.float64)

    def scaled(self, e):
        """The same rows times 2**e (exact): a new backend, or this one for e = 0."""
        return self if e == 0 else LocalBackend(_engine.Data(scale_by(self.data.X, e), self.data.w))

    def blocks_in_order(self, random_state):
        """The blocks one at a time, in a random order (one block here: no draw is made)."""
        yield self.data

    def take(self, idx):
        """Rows ``idx`` (global indices) with their weights, as a Data in memory."""
        return _engine.Data(self.data.X[idx], self.data.w[idx])
