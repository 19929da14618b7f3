// The Lloyd pass (dense or CSR, one template), exact distances, seeding distances and
// one-pass scans of X.
//
// Determinism: rows are cut into sub-blocks of SUB rows; sub-block b always feeds
// partial slot b % n_slot, every slot runs its sub-blocks in order, and the caller adds
// the slots in order. Results depend on the data's shape only, not on the threads.
#pragma once
#include "simd.hpp"

namespace KML_NS {

// Lowest and second lowest key ||c||^2 - 2 x.c from products g, and the lowest's index.
template <class T> inline i64 best_two(const T* g, const T* c_sq, i64 k, double& best, double& second) {
    best = INF;
    second = INF;
    i64 bj = 0;
    for (i64 j = 0; j < k; ++j) {
        double key = double(c_sq[j]) - 2.0 * double(g[j]);
        if (key < best) {
            second = best;
            best = key;
            bj = j;
        } else if (key < second) {
            second = key;
        }
    }
    return bj;
}

// The nearest centre by exact distance among those whose key is <= limit (lowest index
// on exact ties): keys within the rounding of a dot product cannot tell.
template <class T, class R>
inline i64 nearest_exact(const R& rows, i64 i, const kml::Centres<T>& c, i64 d, const T* g, double limit) {
    double best = INF;
    i64 bj = 0;
    for (i64 j = 0; j < c.k; ++j) {
        if (double(c.c_sq[j]) - 2.0 * double(g[j]) <= limit) {
            double dist = rows.exact(i, c.C + j * d);
            if (dist < best) {
                best = dist;
                bj = j;
            }
        }
    }
    return bj;
}

// Key and index of the centre nearest row i; keys within tie of the lowest are settled exactly.
template <class T, class R>
inline i64 nearest(const R& rows, i64 i, const kml::Centres<T>& c, i64 d, const T* g, double tie, double& best) {
    double second;
    i64 bj = best_two(g, c.c_sq, c.k, best, second);
    if (second - best <= tie) {
        bj = nearest_exact(rows, i, c, d, g, best + tie);
        best = double(c.c_sq[bj]) - 2.0 * double(g[bj]);
    }
    return bj;
}

template <class T> inline double max_of(const T* v, i64 k) {
    double m = -INF;
    for (i64 j = 0; j < k; ++j) m = double(v[j]) > m ? double(v[j]) : m;
    return m;
}

// Assign each row to its nearest centre; one pass over X. Writes labels, mind (squared
// distance, clipped at 0), sse_part[slot] and, when asked, the weighted per-cluster sums.
template <class T, class R> void lloyd_pass(const R& rows, const kml::Lloyd<T>& a) {
    const i64 n = rows.n, d = rows.d, k = a.c.k, n_sub = n_sub_blocks(n), n_slot = a.n_slot;
    const double cmax = max_of(a.c.c_sq, k);
    const Packed<T> P(a.c, d);
#pragma omp parallel for schedule(dynamic, 1) if (n * k * d >= PARALLEL_WORK)
    for (i64 s = 0; s < n_slot; ++s) {
        Buf<T> G(SUB * k);
        Scratch<T> sc(d, a.with_sums);
        double acc = 0;
        double* sums = a.with_sums ? a.sums_part + s * k * d : nullptr;
        for (i64 b = s; b < n_sub; b += n_slot) {
            const i64 start = b * SUB, end = start + SUB < n ? start + SUB : n;
            rows.range_dots(start, end, P.c, G.p, sc);
            for (i64 i = start; i < end; ++i) {
                const double xs = double(a.x_sq[i]);
                double best;
                i64 bj = nearest(rows, i, a.c, d, G.p + (i - start) * k, 2 * a.err * (xs + cmax), best);
                a.labels[i] = i32(bj);
                double v = xs + best > 0 ? xs + best : 0.0;
                a.mind[i] = T(v);
                acc += a.w[i] * v;
                if (sums) rows.add(i, a.w[i], sums + bj * d, sc, i - start);
            }
        }
        a.sse_part[s] = acc;
    }
}

template <class T> void lloyd_dense(const kml::Dense<T>& X, const kml::Lloyd<T>& a) { lloyd_pass(DenseRows<T>(X), a); }
template <class T, class I> void lloyd_csr(const kml::Csr<T, I>& X, const kml::Lloyd<T>& a) {
    lloyd_pass(CsrRows<T, I>(X), a);
}

// Per row of V: sum(v - v) (0, or NaN where a value is not finite) and the largest
// magnitude, read as the unsigned integer of its bits with the sign cleared. The build
// allows no assumption about NaN or infinity, so v - v is never folded to 0.
template <class T, class U> void value_summary(const T* V, i64 n, i64 d, T* nonfinite, U* largest) {
    const U mask = U(~U(0)) >> 1;
#pragma omp parallel for schedule(static) if (n * d >= PARALLEL_WORK)
    for (i64 i = 0; i < n; ++i) {
        const T* v = V + i * d;
        T s = 0;
        U m = 0;
#pragma omp simd reduction(+ : s) reduction(max : m)
        for (i64 t = 0; t < d; ++t) {
            U bits;
            std::memcpy(&bits, v + t, sizeof bits);
            s += v[t] - v[t];
            m = (bits & mask) > m ? (bits & mask) : m;
        }
        nonfinite[i] = s;
        largest[i] = m;
    }
}

// Q[i] = round(X[i] / scale) clipped to 0..255; per row the squared norm of
// x' = scale * Q[i] and an upper bound on ||X[i] - x'|| (float64 sums, whose rounding
// the factor 1 + 1e-9 covers; X is finite).
template <class T> void byte_copy(const kml::Dense<T>& X, double scale, std::uint8_t* Q, double* q_sq, double* q_err) {
    const i64 n = X.n, d = X.d;
    const double sc = double(T(scale)), inv = 1.0 / sc;
#pragma omp parallel for schedule(static) if (n * d >= PARALLEL_WORK)
    for (i64 i = 0; i < n; ++i) {
        const T* x = X.x + i * d;
        double s2 = 0, e2 = 0;
        // Rounded half up (floor, which vectorises; nearbyint did not): the copy's error is
        // measured, so any rounding is safe.
#pragma omp simd reduction(+ : s2, e2)
        for (i64 t = 0; t < d; ++t) {
            double q = std::floor(double(x[t]) * inv + 0.5);
            q = q < 0 ? 0 : (q > 255 ? 255 : q);
            Q[i * d + t] = std::uint8_t(q);
            double v = q * sc;
            s2 += v * v;
            double diff = double(x[t]) - v;
            e2 += diff * diff;
        }
        q_sq[i] = s2;
        q_err[i] = std::sqrt(e2) * (1 + 1e-9);
    }
}

// Non-zeros per row, and X's copy of them in CSR form (ptr from the counts).
template <class T> void count_nonzeros(const kml::Dense<T>& X, i64* counts) {
#pragma omp parallel for schedule(static) if (X.n * X.d >= PARALLEL_WORK)
    for (i64 i = 0; i < X.n; ++i) {
        const T* x = X.x + i * X.d;
        i64 c = 0;
#pragma omp simd reduction(+ : c)
        for (i64 t = 0; t < X.d; ++t) c += x[t] != T(0);
        counts[i] = c;
    }
}

// Returns the rows whose count in ptr was not theirs (their copy is cut to its room).
template <class T> i64 copy_nonzeros(const kml::Dense<T>& X, const i64* ptr, i32* idx, T* val) {
    i64 wrong = 0;
#pragma omp parallel reduction(+ : wrong) if (X.n * X.d >= PARALLEL_WORK)
    {
        Buf<i32> ri(X.d + 16);
        Buf<T> rv(X.d + 16);
#pragma omp for schedule(static)
        for (i64 i = 0; i < X.n; ++i) {
            const i64 nnz = nonzeros(X.x + i * X.d, X.d, X.d, ri.p, rv.p), room = ptr[i + 1] - ptr[i];
            wrong += nnz != room;
            std::memcpy(idx + ptr[i], ri.p, sizeof(i32) * (nnz < room ? nnz : room));
            std::memcpy(val + ptr[i], rv.p, sizeof(T) * (nnz < room ? nnz : room));
        }
    }
    return wrong;
}

template <class T> void row_sq_norms(const kml::Dense<T>& X, T* out) {
#pragma omp parallel for schedule(static) if (X.n * X.d >= PARALLEL_WORK)
    for (i64 i = 0; i < X.n; ++i) out[i] = dot(X.x + i * X.d, X.x + i * X.d, X.d);
}

template <class T, class I> void row_sq_norms_csr(const kml::Csr<T, I>& X, T* out) {
#pragma omp parallel for schedule(static) if (i64(X.indptr[X.n]) >= PARALLEL_WORK)
    for (i64 i = 0; i < X.n; ++i) {
        T s = 0;
        for (i64 p = X.indptr[i]; p < X.indptr[i + 1]; ++p) s += X.data[p] * X.data[p];
        out[i] = s;
    }
}

// Per-slot float64 column sums of X - shift (part[s, 0]) and of its square (part[s, 1]).
template <class T> void column_sums(const kml::Dense<T>& X, const double* shift, double* part, i64 n_slot) {
    const i64 n = X.n, d = X.d, n_sub = n_sub_blocks(n);
#pragma omp parallel for schedule(dynamic, 1) if (n * d >= PARALLEL_WORK)
    for (i64 s = 0; s < n_slot; ++s) {
        double* first = part + s * 2 * d;
        double* second = first + d;
        for (i64 b = s; b < n_sub; b += n_slot)
            for (i64 i = b * SUB; i < (b * SUB + SUB < n ? b * SUB + SUB : n); ++i) {
                const T* x = X.x + i * d;
                for (i64 t = 0; t < d; ++t) {
                    double v = double(x[t]) - shift[t];
                    first[t] += v;
                    second[t] += v * v;
                }
            }
    }
}

// out[i] = ||x_i - c_{labels[i]}||^2 by differences (no cancellation).
template <class T> void exact_sq_dist(const kml::Dense<T>& X, const T* C, const i32* labels, T* out) {
    const i64 d = X.d;
#pragma omp parallel for schedule(static) if (X.n * X.d >= PARALLEL_WORK)
    for (i64 i = 0; i < X.n; ++i) {
        const T *x = X.x + i * d, *c = C + i64(labels[i]) * d;
        T s = 0;
#pragma omp simd reduction(+ : s)
        for (i64 t = 0; t < d; ++t) s += (x[t] - c[t]) * (x[t] - c[t]);
        out[i] = s;
    }
}

// ||x_i - c||^2 = ||c||^2 + sum over non-zeros of (x - c)^2 - c^2.
template <class T, class I>
void exact_sq_dist_csr(const kml::Csr<T, I>& X, const T* C, const double* c_sq, const i32* labels, double* out) {
#pragma omp parallel for schedule(static) if (i64(X.indptr[X.n]) >= PARALLEL_WORK)
    for (i64 i = 0; i < X.n; ++i) {
        const T* c = C + i64(labels[i]) * X.d;
        double s = 0;
        for (i64 p = X.indptr[i]; p < X.indptr[i + 1]; ++p) {
            T cj = c[X.indices[p]];
            T diff = X.data[p] - cj;
            s += double(diff * diff - cj * cj);
        }
        double v = c_sq[labels[i]] + s;
        out[i] = v > 0 ? v : 0.0;
    }
}

template <class T, class R> void candidates_from(const R& rows, const kml::Candidates<T>& a) {
    const i64 n = rows.n, m = a.cand.k;
    const Packed<T> P(a.cand, rows.d);
#pragma omp parallel for schedule(dynamic, 1) if (n * m * rows.d >= PARALLEL_WORK)
    for (i64 b = 0; b < n_sub_blocks(n); ++b) {
        const i64 start = b * SUB, end = start + SUB < n ? start + SUB : n;
        Buf<T> G(SUB * m);
        Scratch<T> sc(rows.d, false);
        rows.range_dots(start, end, P.c, G.p, sc);
        for (i64 q = 0; q < m; ++q)
            for (i64 i = start; i < end; ++i) {
                double v = double(a.x_sq[i]) + double(a.cand.c_sq[q]) - 2.0 * double(G[(i - start) * m + q]);
                a.out[q * n + i] = T(v > 0 ? v : 0.0);
            }
    }
}

template <class T> void candidate_sq_dist(const kml::Dense<T>& X, const kml::Candidates<T>& a) {
    candidates_from(DenseRows<T>(X), a);
}
template <class T, class I> void candidate_sq_dist_csr(const kml::Csr<T, I>& X, const kml::Candidates<T>& a) {
    candidates_from(CsrRows<T, I>(X), a);
}

// pot[q] = sum_i w_i min(closest_i, dist[cols[q], i]), each summed in row order.
template <class T>
void potentials(const T* dist, i64 n, const i64* cols, i64 m, const T* closest, const double* w, double* pot) {
#pragma omp parallel for schedule(dynamic, 1) if (m * n >= PARALLEL_WORK)
    for (i64 q = 0; q < m; ++q) {
        const T* row = dist + cols[q] * n;
        double s = 0;
        for (i64 i = 0; i < n; ++i) s += w[i] * double(closest[i] < row[i] ? closest[i] : row[i]);
        pot[q] = s;
    }
}

}  // namespace KML_NS
