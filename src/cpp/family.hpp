// Hot loops of the k-means family: row draws, L1 assignment, weighted medians, soft
// responsibilities. Determinism as in lloyd.hpp (fixed sub-blocks and slots); kernels
// that write one output per task (medians) need no slots.
#pragma once
#include "lloyd.hpp"

namespace KML_NS {
using kml::N_BUCKETS;

// out[i] = searchsorted(cdf, u[i], side="right"), exactly, for a non-decreasing cdf.
// Starts from the guess u * n (right for uniform weights up to rounding) and walks to
// the answer; a walk longer than a few steps falls back to binary search. Keys are
// random, so a binary search per key costs ~17 cache misses; this costs one or two.
inline void draw_rows(const double* cdf, i64 n, const double* u, i64 m, i64* out) {
    for (i64 i = 0; i < m; ++i) {
        const double x = u[i];
        double guess = x * double(n);
        i64 g = guess > 0 ? (guess < double(n) ? i64(guess) : n) : 0;
        int steps = 0;
        while (g > 0 && cdf[g - 1] > x && steps < 8) --g, ++steps;
        while (g < n && cdf[g] <= x && steps < 8) ++g, ++steps;
        if (steps == 8) {
            i64 lo = 0, hi = n;  // first index whose cdf is > x
            while (lo < hi) {
                i64 mid = lo + (hi - lo) / 2;
                if (cdf[mid] <= x) lo = mid + 1; else hi = mid;
            }
            g = lo;
        }
        out[i] = g;
    }
}

// -- Manhattan (L1) --------------------------------------------------------------------
template <class T> struct DenseL1 {
    kml::Dense<T> X;
    const T* C;
    // Eight partial sums whatever the vector width, added in a fixed order: the same
    // value at every CPU level, so labels do not depend on the level.
    double operator()(i64 i, i64 j) const {
        const T *x = X.x + i * X.d, *c = C + j * X.d;
        T s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        i64 t = 0;
        for (; t + 8 <= X.d; t += 8)
            for (int l = 0; l < 8; ++l) s[l] += std::fabs(x[t + l] - c[t + l]);
        for (; t < X.d; ++t) s[t % 8] += std::fabs(x[t] - c[t]);
        return double(((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7])));
    }
};
template <class T, class I> struct CsrL1 {  // ||x_i - c||_1 = ||c||_1 + sum over non-zeros of |x - c_j| - |c_j|
    kml::Csr<T, I> X;
    const T* C;
    const double* c_abs;
    double operator()(i64 i, i64 j) const {
        const T* c = C + j * X.d;
        double s = 0;
        for (i64 p = X.indptr[i]; p < X.indptr[i + 1]; ++p) {
            const T cj = c[X.indices[p]];
            s += double(std::fabs(X.data[p] - cj) - std::fabs(cj));
        }
        const double v = c_abs[j] + s;
        return v > 0 ? v : 0.0;
    }
};

// Nearest centre in L1 of each row: label, distance, weighted sum per slot; and, when
// asked, every distance (n, K).
template <class T, class Dist> void l1_pass(i64 n, i64 d, const Dist& dist, const kml::L1<T>& a) {
    const i64 n_sub = n_sub_blocks(n), k = a.k;
#pragma omp parallel for schedule(dynamic, 1) if (n * k * d >= PARALLEL_WORK)
    for (i64 s = 0; s < a.n_slot; ++s) {
        double acc = 0;
        for (i64 b = s; b < n_sub; b += a.n_slot)
            for (i64 i = b * SUB; i < (b * SUB + SUB < n ? b * SUB + SUB : n); ++i) {
                double best = INF;
                i64 bj = 0;
                for (i64 j = 0; j < k; ++j) {
                    const double v = dist(i, j);
                    if (a.dist) a.dist[i * k + j] = T(v);
                    if (v < best) best = v, bj = j;
                }
                a.labels[i] = i32(bj);
                a.mind[i] = T(best);
                acc += a.w[i] * best;
            }
        a.sse_part[s] = acc;
    }
}

template <class T> void l1_assign(const kml::Dense<T>& X, const kml::L1<T>& a) { l1_pass(X.n, X.d, DenseL1<T>{X, a.C}, a); }
template <class T, class I> void l1_assign_csr(const kml::Csr<T, I>& X, const kml::L1<T>& a) {
    l1_pass(X.n, X.d, CsrL1<T, I>{X, a.C, a.c_abs}, a);
}

// -- weighted medians -----------------------------------------------------------------
// Fallback of weighted_median for a value range too narrow to bucket: sort and walk.
inline double median_by_sorting(const double* v, const double* wt, i64 m, double below, double half, double right_min) {
    Buf<i64> idx(m), tmp(m);
    for (i64 q = 0; q < m; ++q) idx[q] = q;
    for (i64 width = 1; width < m; width *= 2)  // stable bottom-up merge sort by value
        for (i64 lo = 0; lo < m; lo += 2 * width) {
            i64 mid = lo + width < m ? lo + width : m, hi = lo + 2 * width < m ? lo + 2 * width : m;
            i64 p = lo, q = mid, o = lo;
            while (p < mid && q < hi) tmp[o++] = v[idx[q]] < v[idx[p]] ? idx[q++] : idx[p++];
            while (p < mid) tmp[o++] = idx[p++];
            while (q < hi) tmp[o++] = idx[q++];
            for (i64 r = lo; r < hi; ++r) idx[r] = tmp[r];
        }
    double cum = below;
    for (i64 q = 0; q < m; ++q) {
        cum += wt[idx[q]];
        if (cum >= half) {
            if (cum == half) return 0.5 * (v[idx[q]] + (q + 1 < m ? v[idx[q + 1]] : right_min));
            return v[idx[q]];
        }
    }
    return v[idx[m - 1]];
}

// Move the entries with a <= v <= b to the front (branch-free); return their count.
inline i64 keep_range(double* v, double* wt, i64 m, double a, double b) {
    i64 k = 0;
    for (i64 i = 0; i < m; ++i) {
        const double x = v[i];
        v[k] = x;
        wt[k] = wt[i];
        k += (x >= a) & (x <= b);
    }
    return k;
}

// Minimiser of sum_i wt_i |v_i - x| over the first m entries (all wt > 0).
//
// guess (the previous median) is tried first: the pass that sums the weights also
// weighs the values below and at it, and when it still splits the weight in half that
// pass decides; otherwise only the side holding the median is kept. Then bucket
// selection: a pass histograms the weights into N_BUCKETS equal-width buckets of the
// current range (binning is monotone, so buckets never interleave), the bucket holding
// half the weight is kept and compacted to the front, and so on. Where a whole interval
// minimises (the weight below it exactly half) its midpoint is returned, so unit weights
// give np.median. Overwrites v and wt; hist is (3, N_BUCKETS) scratch.
inline double weighted_median(double* v, double* wt, i64 m, double* hist, double guess) {
    double half = 0, a = v[0], b = v[0], w_lt = 0, w_eq = 0;
    double lt_max = -1.7e308, gt_min = 1.7e308;  // largest value below guess, smallest above
    for (i64 i = 0; i < m; ++i) {  // branch-free, so that it vectorises
        const double x = v[i];
        half += wt[i];
        a = x < a ? x : a;
        b = x > b ? x : b;
        w_lt += x < guess ? wt[i] : 0.0;
        w_eq += x == guess ? wt[i] : 0.0;
        lt_max = x < guess && x > lt_max ? x : lt_max;
        gt_min = x > guess && x < gt_min ? x : gt_min;
    }
    half *= 0.5;
    double below, right_min;
    if (w_lt < half) {
        if (w_lt + w_eq > half) return guess;
        if (w_lt + w_eq == half) return 0.5 * (guess + gt_min);  // then some value lies above guess
        below = w_lt + w_eq;  // weight discarded below the range [a, b]
        right_min = b;        // smallest value discarded above it (read only once one is)
        a = gt_min;
    } else {
        const double nxt = w_eq > 0 ? guess : gt_min;
        if (w_lt == half) return 0.5 * (lt_max + nxt);
        below = 0.0;
        right_min = nxt;
        b = lt_max;
    }
    m = keep_range(v, wt, m, a, b);
    double *hw = hist, *hmin = hist + N_BUCKETS, *hmax = hist + 2 * N_BUCKETS;
    while (a < b) {
        const double scale = double(N_BUCKETS) / (b - a);
        if (!(scale < 1e300)) return median_by_sorting(v, wt, m, below, half, right_min);
        for (i64 j = 0; j < N_BUCKETS; ++j) hw[j] = 0.0, hmin[j] = b, hmax[j] = a;
        for (i64 i = 0; i < m; ++i) {
            i64 j = i64((v[i] - a) * scale);
            j = j < N_BUCKETS - 1 ? j : N_BUCKETS - 1;
            hw[j] += wt[i];
            hmin[j] = v[i] < hmin[j] ? v[i] : hmin[j];
            hmax[j] = v[i] > hmax[j] ? v[i] : hmax[j];
        }
        i64 j = 0;
        while (below + hw[j] < half && j < N_BUCKETS - 1) below += hw[j++];
        for (i64 q = j + 1; q < N_BUCKETS; ++q)
            if (hw[q] > 0) {
                right_min = hmin[q];
                break;
            }
        if (below + hw[j] == half) return 0.5 * (hmax[j] + right_min);
        a = hmin[j];
        b = hmax[j];
        m = keep_range(v, wt, m, a, b);
    }
    return a;
}

// Weighted coordinate-wise median of each cluster into out (K, d). Cluster k holds rows
// order[starts[k]:starts[k+1]] (all of positive weight); a cluster without rows keeps
// its row of out, which holds the previous centres (the first guesses). Each cluster is
// first gathered transposed, 16 rows at a time, so that every feature is one run.
template <class T>
void medians_dense(const kml::Dense<T>& X, const double* w, const i64* order, const i64* starts, i64 K, double* out) {
    const i64 d = X.d;
    i64 m_max = 0;
    for (i64 k = 0; k < K; ++k) m_max = starts[k + 1] - starts[k] > m_max ? starts[k + 1] - starts[k] : m_max;
    Buf<T> flat(d * m_max);  // one buffer for every cluster in turn
    Buf<double> wk(m_max);
    for (i64 k = 0; k < K; ++k) {
        const i64 s = starts[k], m = starts[k + 1] - s;
        if (m == 0) continue;
        T* XT = flat.p;
#pragma omp parallel for schedule(static) if (m * d >= PARALLEL_WORK)
        for (i64 g = 0; g < (m + 15) / 16; ++g)
            for (i64 r = g * 16; r < (g * 16 + 16 < m ? g * 16 + 16 : m); ++r) {
                const T* row = X.x + order[s + r] * d;
                for (i64 t = 0; t < d; ++t) XT[t * m + r] = row[t];
            }
        for (i64 r = 0; r < m; ++r) wk[r] = w[order[s + r]];
#pragma omp parallel for schedule(dynamic, 4) if (m * d * 8 >= PARALLEL_WORK)
        for (i64 t = 0; t < d; ++t) {
            Buf<double> v(m), wt(m), hist(3 * N_BUCKETS);
            for (i64 r = 0; r < m; ++r) v[r] = double(XT[t * m + r]), wt[r] = wk[r];
            out[k * d + t] = weighted_median(v.p, wt.p, m, hist.p, out[k * d + t]);
        }
    }
}

template <class I> inline i64 lower_bound(const I* a, i64 n, i64 x) {
    i64 lo = 0, hi = n;
    while (lo < hi) {
        i64 mid = lo + (hi - lo) / 2;
        if (i64(a[mid]) < x) lo = mid + 1; else hi = mid;
    }
    return lo;
}

// medians_dense on X[order] in CSC form (sorted indices; X.n counts columns here):
// within column j the entries of cluster k are the run of row indices in
// [starts[k], starts[k+1]); the cluster's implicit zeros enter as one weighted 0.
template <class T, class I>
void medians_csc(const kml::Csr<T, I>& X, const double* w, const i64* starts, i64 K, double* out) {
    const i64 n_cols = X.n;
    Buf<double> wsum(K);
    for (i64 k = 0; k < K; ++k) {
        wsum[k] = 0;
        for (i64 i = starts[k]; i < starts[k + 1]; ++i) wsum[k] += w[i];
    }
#pragma omp parallel for schedule(dynamic, 4) if (i64(X.indptr[n_cols]) * 8 >= PARALLEL_WORK)
    for (i64 j = 0; j < n_cols; ++j) {
        Buf<double> hist(3 * N_BUCKETS);
        const I* col = X.indices + X.indptr[j];
        const i64 len = X.indptr[j + 1] - X.indptr[j];
        for (i64 k = 0; k < K; ++k) {
            if (wsum[k] <= 0) continue;
            const i64 a = X.indptr[j] + lower_bound(col, len, starts[k]);
            const i64 b = X.indptr[j] + lower_bound(col, len, starts[k + 1]);
            Buf<double> v(b - a + 1), wt(b - a + 1);
            i64 m = 0;
            double nz = 0;
            for (i64 p = a; p < b; ++p) {
                const double wi = w[X.indices[p]];
                if (wi > 0) v[m] = double(X.data[p]), wt[m] = wi, nz += wi, ++m;
            }
            const double zero_w = wsum[k] - nz;
            if (zero_w > 0) v[m] = 0.0, wt[m] = zero_w, ++m;
            out[k * n_cols + j] = weighted_median(v.p, wt.p, m, hist.p, out[k * n_cols + j]);
        }
    }
}

// -- soft responsibilities ------------------------------------------------------------
// Row i from its squared distances dd: label = argmin dd, resp[i] = softmax(-beta dd) (if
// asked) and r = w_i resp[i]; returns w_i F_i. F_i = -(1/beta) log((1/K) sum_k
// exp(-beta dd_k)) is computed around the nearest centre with expm1 / log1p, so no beta
// and no scale of dd underflows to log(0).
template <class T> inline double soft_row(i64 i, const double* dd, i64 K, const kml::Soft<T>& a, double* r) {
    double dmin = dd[0];
    i64 jmin = 0;
    for (i64 j = 1; j < K; ++j)
        if (dd[j] < dmin) dmin = dd[j], jmin = j;
    a.labels[i] = i32(jmin);
    double tot_m1 = 0, tot = 0;
    for (i64 j = 0; j < K; ++j) {
        const double gap = dd[j] - dmin;
        if (gap > a.cap) {  // beta * gap > 745: exp underflows to exactly 0
            r[j] = 0.0;
            tot_m1 -= 1.0;
        } else {
            r[j] = std::exp(-a.beta * gap);
            tot_m1 += std::expm1(-a.beta * gap);
        }
        tot += r[j];
    }
    for (i64 j = 0; j < K; ++j) r[j] /= tot;
    if (a.resp)
        for (i64 j = 0; j < K; ++j) a.resp[i * K + j] = r[j];
    for (i64 j = 0; j < K; ++j) r[j] *= a.w[i];
    return a.w[i] * (dmin - std::log1p(tot_m1 / double(K)) / a.beta);
}

// The label of row i from its squared distances dd: the nearest centre, distances within
// the rounding of a dot product of the lowest settled exactly (as a Lloyd pass does), so
// labels do not depend on the order in which products were summed.
template <class T, class R>
inline i64 soft_label(const R& rows, i64 i, const double* dd, const kml::Soft<T>& a, double tie) {
    double best = INF, second = INF;
    i64 bj = 0;
    for (i64 j = 0; j < a.c.k; ++j) {
        if (dd[j] < best) second = best, best = dd[j], bj = j;
        else if (dd[j] < second) second = dd[j];
    }
    if (second - best > tie) return bj;
    double exact = INF;
    for (i64 j = 0; j < a.c.k; ++j)
        if (dd[j] <= best + tie) {
            const double v = rows.exact(i, a.c.C + j * rows.d);
            if (v < exact) exact = v, bj = j;
        }
    return bj;
}

// E-step over all rows: weighted soft objective per slot, nearest-centre labels,
// optional responsibilities and responsibility-weighted sums.
template <class T, class R> void soft_pass(const R& rows, const kml::Soft<T>& a) {
    const i64 n = rows.n, d = rows.d, K = a.c.k, n_sub = n_sub_blocks(n);
    const double cmax = max_of(a.c.c_sq, K);
    const Packed<T> P(a.c, d);
#pragma omp parallel for schedule(dynamic, 1) if (n * K * d >= PARALLEL_WORK)
    for (i64 s = 0; s < a.n_slot; ++s) {
        double acc = 0;
        double* sums = a.with_sums ? a.sums_part + s * K * d : nullptr;
        double* mass = a.with_sums ? a.mass_part + s * K : nullptr;
        Buf<double> dd(K), wr(K);
        Buf<T> G(SUB * K);
        Scratch<T> sc(d, a.with_sums);
        for (i64 b = s; b < n_sub; b += a.n_slot) {
            const i64 start = b * SUB, end = start + SUB < n ? start + SUB : n;
            rows.range_dots(start, end, P.c, G.p, sc);
            for (i64 i = start; i < end; ++i) {
                for (i64 j = 0; j < K; ++j) {
                    const double v = double(a.x_sq[i]) + double(a.c.c_sq[j]) - 2.0 * double(G[(i - start) * K + j]);
                    dd[j] = v > 0 ? v : 0.0;
                }
                acc += soft_row(i, dd.p, K, a, wr.p);
                a.labels[i] = i32(soft_label(rows, i, dd.p, a, 2 * a.err * (double(a.x_sq[i]) + cmax)));
                if (sums)
                    for (i64 j = 0; j < K; ++j)
                        if (wr[j] > 0) {  // hard-ish rows touch one centre only
                            mass[j] += wr[j];
                            rows.add(i, wr[j], sums + j * d, sc, i - start);
                        }
            }
        }
        a.obj_part[s] = acc;
    }
}

template <class T> void soft_dense(const kml::Dense<T>& X, const kml::Soft<T>& a) { soft_pass(DenseRows<T>(X), a); }
template <class T, class I> void soft_csr(const kml::Csr<T, I>& X, const kml::Soft<T>& a) {
    soft_pass(CsrRows<T, I>(X), a);
}

}  // namespace KML_NS
