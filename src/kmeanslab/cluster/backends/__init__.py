"""Where a fit's rows live and its steps run: the backends of the training loop.

A backend holds the rows of one fit as blocks (``_engine.Data``) and offers the loop a
small interface; everything else (stopping rules, relocation, seeding, the estimators'
metrics and updates) is written once above it:

- ``n, d, dtype, sparse, n_blocks, offsets``: the rows, and each block's first row;
- ``keeps_blocks``: whether blocks (and their caches) stay where they are between
  steps (bounds steppers need it);
- ``map_reduce(fn, *args, combine, per_block)``: ``fn(block, cache, *args, *per_block[b])``
  on every block where it lives, the results added in block order by ``combine``;
  ``cache`` is a dict per block kept there for the run (see ``new_run``);
- ``map_keep(fn, *args, per_block)``: the same, the results kept where the blocks are
  (per-block state, passed on through ``per_block``; ``labels`` joins kept labels);
- ``gather_rows(idx)``, ``weights()``: rows by global index, all weights in memory;
- ``medians(method, centers, it, moves)``: coordinate-wise weighted medians per cluster;
- ``new_run()`` / ``end_run()``: fresh caches for a run, dropped after it;
- ``local_data``: the one in-memory block, or None (in-memory-only seeding).

:class:`LocalBackend` keeps all of X in this process as one block, and the kernels
parallelise inside it; :class:`DaskBackend` keeps row blocks on Dask workers.
"""

from ..._blocks import is_dask_array
from .local import LocalBackend

__all__ = ["LocalBackend", "is_dask_array"]
