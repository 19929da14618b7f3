"""CSR kernels, the same templates as :mod:`.dense` reading rows from (data, indices,
indptr): the same sub-block / slot partition keeps results independent of the number
of threads."""

import numpy as np

from ... import _core
from ._args import csr_index, f64, i32, like


def row_sq_norms(data, indptr):
    out = np.empty(indptr.shape[0] - 1, dtype=data.dtype)
    _core.row_sq_norms_csr(data, np.ascontiguousarray(indptr), out)
    return out


def lloyd_csr(data, indices, indptr, w, CT, C, c_sq, x_sq, err, labels, mind, sse_part, sums_part):
    """Sparse twin of ``dense.lloyd_pass`` (products through the centres transposed, ``CT``)."""
    indices, indptr = csr_index(indices, indptr)
    _core.lloyd_csr(data, indices, indptr, f64(w), like(CT, data), like(C, data), like(c_sq, data),
                    like(x_sq, data), float(err), labels, mind, sse_part, sums_part)


def exact_sq_dist(data, indices, indptr, C, c_sq, labels, out):
    """out[i] = ||x_i - c_{labels[i]}||^2 = ||c||^2 + sum over non-zeros of (x - c)^2 - c^2."""
    indices, indptr = csr_index(indices, indptr)
    _core.exact_sq_dist_csr(data, indices, indptr, like(C, data), f64(c_sq), i32(labels), out)


def candidate_sq_dist(data, indices, indptr, x_sq, candT, cand_sq, out):
    """Sparse twin of ``dense.candidate_sq_dist`` (candidates given transposed)."""
    indices, indptr = csr_index(indices, indptr)
    _core.candidate_sq_dist_csr(data, indices, indptr, like(x_sq, data), like(candT, data),
                                like(cand_sq, data), out)
