// Triangle-inequality kernels (Hamerly, Elkan) for dense X.
//
// Bounds are Euclidean distances (not squared), widened by err * (||x||^2 + max ||c||^2)
// in squared units, an upper limit on the rounding of the expanded distance: rounding
// can only make a row be re-examined, never skipped wrongly. Candidates are compared by
// Lloyd's key (||c||^2 - 2 x.c); keys within the rounding of a dot product of the lowest
// are settled by exact float64 distances, so the labels are those of a full Lloyd pass.
//
// Bounds are stored relative to each centre's cumulative drift cum: a lower bound to
// centre j is lower[i, j] - cum[j], the upper bound upper[i] + cum[labels[i]]; Hamerly's
// single lower bound glow is relative to cum_max. Per-row work is independent (parallel
// over fixed blocks); counts are integers, so nothing depends on the threads.
#pragma once
#include "lloyd.hpp"

namespace KML_NS {

inline double upper_of(double xs, double key, double slack) {
    double v = xs + key + slack;
    return std::sqrt(v > 0 ? v : 0.0);
}
inline double lower_of(double xs, double key, double slack) {
    double v = xs + key - slack;
    return std::sqrt(v > 0 ? v : 0.0);
}
// A value to store in a lower-bound array that, once rounded, is still <= value.
inline double store_low(double value, double rel) { return value - std::fabs(value) * rel; }

// Nearest centre of row i from its products g with every centre: its key, the lowest
// key of the others, and its index; keys within 2 * slack are settled exactly.
template <class T>
inline i64 scan_row(const DenseRows<T>& X, i64 i, const kml::Centres<T>& c, const T* g, double slack,
                    double& best, double& second) {
    i64 bj = best_two(g, c.c_sq, c.k, best, second);
    if (second - best <= 2 * slack) {
        i64 j = nearest_exact(X, i, c, X.d, g, best + 2 * slack);
        if (j != bj) {
            second = best;  // the old lowest key is now the lowest of the others
            best = double(c.c_sq[j]) - 2.0 * double(g[j]);
            bj = j;
        }
    }
    return bj;
}

template <class T> inline kml::Centres<T> centres_of(const kml::Bounds<T>& a) {
    return {a.C, nullptr, a.c_sq, a.k, nullptr};
}

// Every distance of every row: label, upper bound, lower bounds (zero drift), glow (the
// second smallest distance), and the weighted per-cluster sums by slot.
template <class T> void init_bounds(const kml::Dense<T>& Xd, const kml::Bounds<T>& a) {
    const DenseRows<T> X(Xd);
    const i64 n = X.n, d = X.d, k = a.k, n_sub = n_sub_blocks(n), n_slot = a.n_slot;
    const Packed<T> P(centres_of(a), d);
    const kml::Centres<T>& c = P.c;
    const double cmax = max_of(a.c_sq, k);
#pragma omp parallel for schedule(dynamic, 1) if (n * k * d >= PARALLEL_WORK)
    for (i64 s = 0; s < n_slot; ++s) {
        Buf<T> G(SUB * k);
        Scratch<T> sc(d, a.with_sums);
        double* sums = a.with_sums ? a.sums_part + s * k * d : nullptr;
        for (i64 b = s; b < n_sub; b += n_slot) {
            const i64 start = b * SUB, end = start + SUB < n ? start + SUB : n;
            X.range_dots(start, end, c, G.p, sc);
            for (i64 i = start; i < end; ++i) {
                const T* g = G.p + (i - start) * k;
                const double xs = double(a.x_sq[i]), slack = a.err * (xs + cmax);
                if (a.all_lower)
                    for (i64 j = 0; j < k; ++j)
                        a.lower[i * k + j] = T(store_low(lower_of(xs, double(a.c_sq[j]) - 2.0 * double(g[j]), slack), a.rel));
                double best, second;
                i64 bj = scan_row(X, i, c, g, slack, best, second);
                a.labels[i] = i32(bj);
                a.upper[i] = upper_of(xs, best, slack);
                a.glow[i] = k > 1 ? store_low(lower_of(xs, second, slack), a.rel) : INF;
                if (sums) X.add(i, a.w[i], sums + bj * d, sc, i - start);
            }
        }
    }
}

template <class T> inline bool hamerly_open(const kml::Bounds<T>& a, i64 i, double& m) {
    const i32 l = a.labels[i];
    const double g = a.glow[i] - a.cum_max;
    m = a.half_sep[l] > g ? a.half_sep[l] : g;
    return a.upper[i] + a.cum[l] > m;
}

// Hamerly's open rows are first re-examined against their own centre alone, unless
// they are read through their non-zeros and the transposed centres are at most this
// many bytes wide: a row's product with every centre then costs about what its product
// with one costs (a scalar gather per non-zero), so the open rows are scanned at once.
// On MNIST this made Hamerly steps 30 % faster at K=10, 40 % at K=40, 10 % at K=100,
// and changed nothing at K=256.
constexpr i64 DIRECT_BYTES = 512;

// One Hamerly step: glow is the only lower bound. The bound test is one cheap pass on
// the calling thread (the step stops there when it leaves more than max_open of the rows
// open); the rows it leaves open are then visited block by block (their own
// centre first, prefetched two rows ahead, unless scanned at once as above; the rows
// still open scanned together with the tiles), on several threads only when they are
// many: late in a fit a handful of rows is cheaper than waking a team. Returns the rows
// scanned.
template <class T> i64 hamerly_assign(const kml::Dense<T>& Xd, const kml::Bounds<T>& a) {
    const DenseRows<T> X(Xd);
    const i64 n = X.n, d = X.d, k = a.k, n_sub = n_sub_blocks(n);
    const Packed<T> P(centres_of(a), d);
    const kml::Centres<T>& c = P.c;
    const double cmax = max_of(a.c_sq, k);
    Buf<i64> open(n > 0 ? n : 1), starts(n_sub + 1);
    i64 n_open = 0;
    for (i64 blk = 0; blk < n_sub; ++blk) {
        starts[blk] = n_open;
        const i64 end = blk * SUB + SUB < n ? blk * SUB + SUB : n;
        for (i64 i = blk * SUB; i < end; ++i) {
            double m;
            if (hamerly_open(a, i, m)) open[n_open++] = i;
        }
    }
    starts[n_sub] = n_open;
    if (a.max_open < 1 && double(n_open) > a.max_open * double(n)) return -1;  // a full pass is cheaper
    i64 examined = 0;
    const bool direct = c.ct_pad && c.k_pad * i64(sizeof(T)) <= DIRECT_BYTES;
#pragma omp parallel for schedule(dynamic, 1) reduction(+ : examined) if (n_open * d >= PARALLEL_WORK)
    for (i64 blk = 0; blk < n_sub; ++blk) {
        const i64* check = open.p + starts[blk];
        const i64 n_check = starts[blk + 1] - starts[blk];
        if (n_check == 0) continue;
        i64 todo[SUB];
        i64 count = 0;
        for (i64 q = 0; q < n_check; ++q) {
            const i64 i = check[q];
            if (direct && X.sparse(i)) {  // fetched when scanned (see dots)
                todo[count++] = i;
                continue;
            }
            X.prefetch_row(check[q + 2 < n_check ? q + 2 : n_check - 1]);
            const i32 l = a.labels[i];
            double m;
            hamerly_open(a, i, m);
            const double xs = double(a.x_sq[i]), slack = a.err * (xs + cmax);
            const double u = upper_of(xs, double(a.c_sq[l]) - 2.0 * double(X.dot_row(i, a.C + l * d)), slack);
            if (u <= m) {
                a.upper[i] = u - a.cum[l];
                continue;
            }
            todo[count++] = i;
        }
        if (count > 0) {
            Buf<T> G(count * k);
            Scratch<T> sc(d, false);
            X.block_dots(todo, count, c, G.p, sc);
            for (i64 r = 0; r < count; ++r) {
                const i64 i = todo[r];
                const double xs = double(a.x_sq[i]), slack = a.err * (xs + cmax);
                double best, second;
                i64 bj = scan_row(X, i, c, G.p + r * k, slack, best, second);
                a.labels[i] = i32(bj);
                a.upper[i] = upper_of(xs, best, slack) - a.cum[bj];
                a.glow[i] = store_low(lower_of(xs, second, slack) + a.cum_max, a.rel);
            }
        }
        examined += count;
    }
    return examined;
}

// Elkan's single distances read X, or its byte copy Q (x' = scale * Q[i], a quarter of
// the memory traffic), whose error q_err widens the bounds.
template <class T> struct FullRows {
    const DenseRows<T>& X;
    const kml::Bounds<T>& a;
    void prefetch_row(i64 i) const { X.prefetch_row(i); }
    double key(i64 i, i64 j) const { return double(a.c_sq[j]) - 2.0 * double(X.dot_row(i, a.C + j * X.d)); }
    double sq(i64 i) const { return double(a.x_sq[i]); }
    double err(i64) const { return 0.0; }
};
template <class T> struct ByteRows {
    const DenseRows<T>& X;
    const kml::Bounds<T>& a;
    void prefetch_row(i64 i) const { prefetch(a.Q + i * X.d, X.d); }
    double key(i64 i, i64 j) const {
        return double(a.c_sq[j]) - 2.0 * double(T(a.scale) * dot_bytes(a.Q + i * X.d, a.C + j * X.d, X.d));
    }
    double sq(i64 i) const { return a.q_sq[i]; }
    double err(i64 i) const { return a.q_err[i]; }
};

// Elkan's near-ties: the exactly nearest of the recorded candidates with keys <= limit.
template <class T>
inline i64 nearest_recorded(const DenseRows<T>& X, i64 i, const T* C, const i64* cand, const double* keys,
                            i64 count, double limit) {
    double best = INF;
    i64 best_j = -1, best_r = 0;
    for (i64 r = 0; r < count; ++r) {
        if (keys[r] <= limit) {
            double dist = X.exact(i, C + cand[r] * X.d);
            if (dist < best || (dist == best && cand[r] < best_j)) {
                best = dist;
                best_j = cand[r];
                best_r = r;
            }
        }
    }
    return best_r;
}

// Elkan's marks of row i: rm[j] = 1 for each centre j its bounds do not rule out (none
// when the upper bound is within half the separation of its centre). Returns their count.
template <class T> inline i64 elkan_marks(const kml::Bounds<T>& a, i64 i, std::uint8_t* rm) {
    const i64 k = a.k;
    const i32 l = a.labels[i];
    const double u = a.upper[i] + a.cum[l];
    if (u <= a.half_sep[l]) return 0;
    const T* lo = a.lower + i * k;
    const double* hc = a.half_cc + i64(l) * k;  // half_cc[l, l] is +inf: l is never marked
    int n_marked = 0;
#pragma omp simd reduction(+ : n_marked)
    for (i64 j = 0; j < k; ++j) {
        double z = double(lo[j]) - a.cum[j];
        z = z > hc[j] ? z : hc[j];
        std::uint8_t o = u > z;
        rm[j] = o;
        n_marked += o;
    }
    return n_marked;
}

// One Elkan step; lower (n, K) relative to cum. Returns the distances computed.
//
// A branch-free (vectorised) pass marks, a byte per centre, the centres the bounds do
// not rule out; the lazy loop then visits only the rows with a mark, and in them only
// the marked centres (read 8 bytes at a time), so a row costs O(K) simple instructions
// plus its few distances. The rows' data are prefetched two rows ahead.
template <class T, class Rows> i64 elkan_with(const DenseRows<T>& X, const Rows& R, const kml::Bounds<T>& a) {
    const i64 n = X.n, k = a.k, n_sub = n_sub_blocks(n), n_words = (k + 7) / 8;
    const double cmax = max_of(a.c_sq, k), root_cmax = std::sqrt(cmax);
    i64 computed = 0;
#pragma omp parallel for schedule(dynamic, 1) reduction(+ : computed) if (n * k >= PARALLEL_WORK)
    for (i64 blk = 0; blk < n_sub; ++blk) {
        const i64 start = blk * SUB, end = start + SUB < n ? start + SUB : n;
        Buf<std::uint8_t> marks(SUB * 8 * n_words);
        Buf<i64> cand(k);
        Buf<double> keys(k);
        i64 open_rows[SUB + 2];
        i64 n_open = 0;
        for (i64 i = start; i < end; ++i) {
            std::uint8_t* rm = marks.p + (i - start) * 8 * n_words;
            if (elkan_marks(a, i, rm) > 0) open_rows[n_open++] = i;
            for (i64 j = k; j < 8 * n_words; ++j) rm[j] = 0;
        }
        if (n_open == 0) continue;
        open_rows[n_open] = open_rows[n_open + 1] = open_rows[n_open - 1];
        for (i64 q = 0; q < n_open; ++q) {
            R.prefetch_row(open_rows[q + 2]);
            const i64 i = open_rows[q];
            i64 l = a.labels[i];
            double u = a.upper[i] + a.cum[l];
            const std::uint8_t* rm = marks.p + (i - start) * 8 * n_words;
            const double xs = R.sq(i), e = R.err(i), slack = a.err * (xs + cmax);
            const double tie = 2 * slack + 4 * e * root_cmax;
            T* lo = a.lower + i * k;
            double key_a = 0;
            bool tight = false, near = false;
            i64 count = 0;
            for (i64 wd = 0; wd < n_words; ++wd) {
                std::uint64_t word;
                std::memcpy(&word, rm + 8 * wd, 8);
                while (word) {
                    const i64 j = 8 * wd + __builtin_ctzll(word) / 8;
                    word &= word - 1;
                    // The upper bound only falls during the loop: re-check.
                    double z = double(lo[j]) - a.cum[j];
                    z = z > a.half_cc[l * k + j] ? z : a.half_cc[l * k + j];
                    if (u <= z) continue;
                    if (!tight) {
                        key_a = R.key(i, l);
                        u = upper_of(xs, key_a, slack) + e;
                        lo[l] = T(store_low(lower_of(xs, key_a, slack) - e + a.cum[l], a.rel));
                        tight = true;
                        computed += 1;
                        cand[0] = l;
                        keys[0] = key_a;
                        count = 1;
                        if (u <= z) continue;
                    }
                    const double key_j = R.key(i, j);
                    lo[j] = T(store_low(lower_of(xs, key_j, slack) - e + a.cum[j], a.rel));
                    computed += 1;
                    cand[count] = j;
                    keys[count] = key_j;
                    count += 1;
                    near = near || std::fabs(key_j - key_a) <= tie;
                    if (key_j < key_a || (key_j == key_a && j < l)) {
                        l = j;
                        key_a = key_j;
                        u = upper_of(xs, key_j, slack) + e;
                    }
                }
            }
            if (near) {  // keys within rounding of the lowest: exact distances decide
                const i64 r = nearest_recorded(X, i, a.C, cand.p, keys.p, count, key_a + tie);
                l = cand[r];
                key_a = keys[r];
                u = upper_of(xs, key_a, slack) + e;
            }
            a.labels[i] = i32(l);
            a.upper[i] = u - a.cum[l];
        }
    }
    return computed;
}

// Pairs (row, centre) Elkan's bounds leave open, counted on every SAMPLE_STRIDE-th row.
constexpr i64 SAMPLE_STRIDE = 16;
template <class T> double elkan_open_share(const kml::Bounds<T>& a, i64 n) {
    Buf<std::uint8_t> rm(a.k);
    i64 open = 0, rows = 0;
    for (i64 i = 0; i < n; i += SAMPLE_STRIDE, ++rows) open += elkan_marks(a, i, rm.p);
    return rows ? double(open) / double(rows * a.k) : 0.0;
}

template <class T> i64 elkan_assign(const kml::Dense<T>& Xd, const kml::Bounds<T>& a) {
    const DenseRows<T> X(Xd);
    if (a.max_open < 1 && elkan_open_share(a, X.n) > a.max_open) return -1;  // a full pass is cheaper
    if (a.Q) return elkan_with(X, ByteRows<T>{X, a}, a);
    return elkan_with(X, FullRows<T>{X, a}, a);
}

// Rows start:start+8 of the half distances against centres from start on, both triangles.
inline void half_distances_from(const double* C, i64 k, i64 d, const double* sq, i64 start, double allowance,
                                double* out) {
    const i64 end = start + 8 < k ? start + 8 : k;
    const double* ptrs[8];
    for (i64 a = start; a < end; ++a) ptrs[a - start] = C + a * d;
    Buf<double> G((end - start) * (k - start));
    tile_dots(ptrs, end - start, C + start * d, k - start, d, G.p);
    for (i64 a = start; a < end; ++a)
        for (i64 b = start; b < k; ++b) {
            const double s = sq[a] + sq[b];
            double v = s - 2 * G[(a - start) * (k - start) + (b - start)] - allowance * s;
            const double h = std::sqrt(v > 0 ? v : 0.0) / 2;
            out[a * k + b] = h;
            out[b * k + a] = h;
        }
    for (i64 a = start; a < end; ++a) out[a * k + a] = INF;
}

// Half the pairwise distances of float64 centres, rounded down; diagonal +inf. From
// their products (tiles; blocks of 8 centres against the centres from the block on,
// mirrored): ||a||^2 + ||b||^2 - 2 a.b, less 4 d eps (||a||^2 + ||b||^2), more than its
// rounding can be. Blocks p and n - 1 - p go to the same task, so tasks have equal work.
inline void half_center_distances(const double* C, i64 k, i64 d, double* out) {
    const double allowance = 4 * d * std::numeric_limits<double>::epsilon();
    Buf<double> sq(k);
    for (i64 a = 0; a < k; ++a) sq[a] = dot(C + a * d, C + a * d, d);
    const i64 n_blk = (k + 7) / 8;
#pragma omp parallel for schedule(dynamic, 1) if (k * k * d >= PARALLEL_WORK)
    for (i64 p = 0; p < (n_blk + 1) / 2; ++p) {
        half_distances_from(C, k, d, sq.p, 8 * p, allowance, out);
        if (n_blk - 1 - p != p) half_distances_from(C, k, d, sq.p, 8 * (n_blk - 1 - p), allowance, out);
    }
}

// Move rows between clusters in the per-cluster sums, in row order.
template <class T>
void move_rows(const kml::Dense<T>& X, const double* w, const i64* rows, const i64* old, const i64* new_, i64 m,
               double* sums) {
    const DenseRows<T> R(X);
    for (i64 r = 0; r < m; ++r) {
        const double wi = w[rows[r]];
        R.add_row(rows[r], -wi, sums + old[r] * X.d);
        R.add_row(rows[r], wi, sums + new_[r] * X.d);
    }
}

}  // namespace KML_NS
