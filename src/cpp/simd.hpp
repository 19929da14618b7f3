// Vector helpers, register-tiled dot products and row access, for one CPU level.
//
// Everything here lives in the namespace KML_NS, which the build sets per level (the
// kernel file is compiled once per instruction set): inline code compiled for AVX-512
// must never be what the baseline copy links to, so no standard-library template with
// an out-of-line body is used in the kernels (only libm / libc functions).
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <utility>

#include "api.hpp"

#if defined(__AVX512F__) || defined(__AVX2__)
#include <immintrin.h>
#endif

#ifndef KML_NS
#error "KML_NS (the namespace of this CPU level) must be defined by the build"
#endif

namespace KML_NS {
using kml::i32;
using kml::i64;
using kml::SUB;

#if defined(__AVX512F__)
constexpr int VBYTES = 64;
#elif defined(__AVX2__)
constexpr int VBYTES = 32;
#else
constexpr int VBYTES = 16;
#endif

template <class T> struct Vt;
template <> struct Vt<float> { typedef float type __attribute__((vector_size(VBYTES))); };
template <> struct Vt<double> { typedef double type __attribute__((vector_size(VBYTES))); };
template <class T> using Vec = typename Vt<T>::type;
template <class T> constexpr i64 lanes() { return VBYTES / sizeof(T); }

template <class T> inline Vec<T> load(const T* p) {
    Vec<T> v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

// a * b + c; fused where the level has FMA (the build keeps the compiler from fusing
// anything else: -ffp-contract=off).
inline Vec<float> fmadd(Vec<float> a, Vec<float> b, Vec<float> c) {
#if defined(__AVX512F__)
    return (Vec<float>)_mm512_fmadd_ps((__m512)a, (__m512)b, (__m512)c);
#elif defined(__AVX2__) && defined(__FMA__)
    return (Vec<float>)_mm256_fmadd_ps((__m256)a, (__m256)b, (__m256)c);
#else
    return a * b + c;
#endif
}
inline Vec<double> fmadd(Vec<double> a, Vec<double> b, Vec<double> c) {
#if defined(__AVX512F__)
    return (Vec<double>)_mm512_fmadd_pd((__m512d)a, (__m512d)b, (__m512d)c);
#elif defined(__AVX2__) && defined(__FMA__)
    return (Vec<double>)_mm256_fmadd_pd((__m256d)a, (__m256d)b, (__m256d)c);
#else
    return a * b + c;
#endif
}

template <class T> inline T hsum(Vec<T> v) {  // halves added in a fixed order
    T a[lanes<T>()];
    std::memcpy(a, &v, sizeof v);
    for (i64 h = lanes<T>() / 2; h >= 1; h /= 2)
        for (i64 l = 0; l < h; ++l) a[l] += a[l + h];
    return a[0];
}

template <class T> inline T dot(const T* a, const T* b, i64 d) {
    constexpr i64 L = lanes<T>();
    Vec<T> s0 = {}, s1 = {};
    i64 t = 0;
    for (; t + 2 * L <= d; t += 2 * L) {
        s0 = fmadd(load(a + t), load(b + t), s0);
        s1 = fmadd(load(a + t + L), load(b + t + L), s1);
    }
    for (; t + L <= d; t += L) s0 = fmadd(load(a + t), load(b + t), s0);
    T s = hsum<T>(s0 + s1);
    for (; t < d; ++t) s += a[t] * b[t];
    return s;
}

// L bytes at q as a vector of T (x86 levels; none on the baseline).
#if defined(__AVX512F__) || defined(__AVX2__)
template <class T> inline Vec<T> widen_bytes(const std::uint8_t* q) {
#if defined(__AVX512F__)
    if constexpr (sizeof(T) == 4)
        return (Vec<T>)_mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i*)q)));
    else
        return (Vec<T>)_mm512_cvtepi32_pd(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i*)q)));
#else
    if constexpr (sizeof(T) == 4)
        return (Vec<T>)_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i*)q)));
    else {
        std::int32_t four;
        std::memcpy(&four, q, 4);
        return (Vec<T>)_mm256_cvtepi32_pd(_mm_cvtepu8_epi32(_mm_cvtsi32_si128(four)));
    }
#endif
}
#endif

// sum_t T(q[t]) * c[t]: a row of the byte copy against a centre; on x86 levels in four
// vector sums (independent chains of fused multiply-adds) added in a fixed order.
template <class T> inline T dot_bytes(const std::uint8_t* q, const T* c, i64 d) {
    T s = 0;
    i64 t = 0;
#if defined(__AVX512F__) || defined(__AVX2__)
    constexpr i64 L = lanes<T>();
    Vec<T> s0 = {}, s1 = {}, s2 = {}, s3 = {};
    for (; t + 4 * L <= d; t += 4 * L) {
        s0 = fmadd(widen_bytes<T>(q + t), load(c + t), s0);
        s1 = fmadd(widen_bytes<T>(q + t + L), load(c + t + L), s1);
        s2 = fmadd(widen_bytes<T>(q + t + 2 * L), load(c + t + 2 * L), s2);
        s3 = fmadd(widen_bytes<T>(q + t + 3 * L), load(c + t + 3 * L), s3);
    }
    for (; t + L <= d; t += L) s0 = fmadd(widen_bytes<T>(q + t), load(c + t), s0);
    s = hsum<T>((s0 + s1) + (s2 + s3));
#endif
    for (; t < d; ++t) s += T(q[t]) * c[t];
    return s;
}

// ||a - b||^2 in float64 by differences, summed in a fixed order (never vectorised
// across terms, never fused): the same value in every kernel and at every level, so
// near-ties are broken alike by all of them.
template <class T> inline double exact_sq(const T* a, const T* b, i64 d) {
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    i64 t = 0;
    for (; t + 4 <= d; t += 4) {
        double v0 = double(a[t]) - double(b[t]), v1 = double(a[t + 1]) - double(b[t + 1]);
        double v2 = double(a[t + 2]) - double(b[t + 2]), v3 = double(a[t + 3]) - double(b[t + 3]);
        s0 += v0 * v0;
        s1 += v1 * v1;
        s2 += v2 * v2;
        s3 += v3 * v3;
    }
    for (; t < d; ++t) {
        double v0 = double(a[t]) - double(b[t]);
        s0 += v0 * v0;
    }
    return (s0 + s1) + (s2 + s3);
}

inline void prefetch(const void* p, i64 bytes) {
    const char* c = static_cast<const char*>(p);
    for (i64 off = 0; off < bytes; off += 64) __builtin_prefetch(c + off, 0, 3);
}

template <class T> struct Buf {  // scratch memory of one task
    T* p;
    explicit Buf(i64 n) : p(static_cast<T*>(::operator new(sizeof(T) * (n > 0 ? n : 1)))) {}
    ~Buf() { ::operator delete(p); }
    Buf(const Buf&) = delete;
    Buf& operator=(const Buf&) = delete;
    T& operator[](i64 i) { return p[i]; }
    const T& operator[](i64 i) const { return p[i]; }
};

// Features per pass of the tiles: the centres' share of them stays in L2 (~192 KB).
template <class T> inline i64 feature_chunk(i64 k, i64 d) {
    constexpr i64 L = lanes<T>();
    const i64 budget = (192 * 1024) / i64(sizeof(T));
    if (k * d <= budget) return d;
    i64 dc = budget / k / L * L;
    return dc < 8 * L ? 8 * L : dc;
}

// G[r, j] (+)= rows[r][t0:t0+len] . C[j, t0:t0+len] (G is (m, k)).
template <class T>
inline void tile_chunk(const T* const* rows, i64 m, const T* C, i64 k, i64 d, i64 t0, i64 len, T* G,
                       bool first) {
    constexpr i64 L = lanes<T>();
    auto put = [&](i64 r, i64 j, T v) { G[r * k + j] = first ? v : G[r * k + j] + v; };
    i64 r = 0;
    for (; r + 4 <= m; r += 4) {
        const T *x0 = rows[r] + t0, *x1 = rows[r + 1] + t0, *x2 = rows[r + 2] + t0, *x3 = rows[r + 3] + t0;
        i64 j = 0;
        for (; j + 2 <= k; j += 2) {
            const T* a = C + j * d + t0;
            const T* b = a + d;
            Vec<T> s0 = {}, s1 = {}, s2 = {}, s3 = {}, s4 = {}, s5 = {}, s6 = {}, s7 = {};
            i64 t = 0;
            for (; t + L <= len; t += L) {
                Vec<T> va = load(a + t), vb = load(b + t), x;
                x = load(x0 + t); s0 = fmadd(x, va, s0); s1 = fmadd(x, vb, s1);
                x = load(x1 + t); s2 = fmadd(x, va, s2); s3 = fmadd(x, vb, s3);
                x = load(x2 + t); s4 = fmadd(x, va, s4); s5 = fmadd(x, vb, s5);
                x = load(x3 + t); s6 = fmadd(x, va, s6); s7 = fmadd(x, vb, s7);
            }
            T h0 = hsum<T>(s0), h1 = hsum<T>(s1), h2 = hsum<T>(s2), h3 = hsum<T>(s3);
            T h4 = hsum<T>(s4), h5 = hsum<T>(s5), h6 = hsum<T>(s6), h7 = hsum<T>(s7);
            for (; t < len; ++t) {
                h0 += x0[t] * a[t]; h1 += x0[t] * b[t]; h2 += x1[t] * a[t]; h3 += x1[t] * b[t];
                h4 += x2[t] * a[t]; h5 += x2[t] * b[t]; h6 += x3[t] * a[t]; h7 += x3[t] * b[t];
            }
            put(r, j, h0); put(r, j + 1, h1); put(r + 1, j, h2); put(r + 1, j + 1, h3);
            put(r + 2, j, h4); put(r + 2, j + 1, h5); put(r + 3, j, h6); put(r + 3, j + 1, h7);
        }
        if (j < k) {
            const T* a = C + j * d + t0;
            put(r, j, dot(x0, a, len)); put(r + 1, j, dot(x1, a, len));
            put(r + 2, j, dot(x2, a, len)); put(r + 3, j, dot(x3, a, len));
        }
    }
    for (; r < m; ++r)
        for (i64 j = 0; j < k; ++j) put(r, j, dot(rows[r] + t0, C + j * d + t0, len));
}

// G[r, j] = rows[r] . C[j] for m listed rows and k centres: register tiles of 4 rows x
// 2 centres (each loaded vector feeds several FMAs). Rows left over after the 4-row
// tiles and an odd last centre take simpler loops, whose rounding may differ in the
// last bit; which loop a product takes depends on the listed rows only, not on threads.
template <class T> inline void tile_dots(const T* const* rows, i64 m, const T* C, i64 k, i64 d, T* G) {
    const i64 dc = feature_chunk<T>(k, d);
    for (i64 t0 = 0; t0 < d; t0 += dc)
        tile_chunk(rows, m, C, k, d, t0, d - t0 < dc ? d - t0 : dc, G, t0 == 0);
}

template <class T, std::size_t... I> inline Vec<T> splat_lanes(T x, std::index_sequence<I...>) {
    return Vec<T>{((void)I, x)...};
}
template <class T> inline Vec<T> splat(T x) {  // one broadcast instruction
    return splat_lanes<T>(x, std::make_index_sequence<std::size_t(lanes<T>())>{});
}

// Outer-product tiles for many centres: centres packed in panels of NR = 2 vectors,
// feature-major (panel p holds C[p*NR + q, t] at [t, q], zero past the last centre), so
// that MR rows x NR centres accumulate in 2 * MR registers with no horizontal sums. Each
// product is summed feature by feature in chunks of KC features, the chunks added in
// order: its value does not depend on which rows share a tile.
constexpr i64 MR = 6, KC = 256;
template <class T> constexpr i64 panel_width() { return 2 * lanes<T>(); }

// Mostly-zero dense rows (kml::SPARSE_DEN) are multiplied through their non-zeros and
// the transposed centres: fewer products than the tiles.
using kml::SPARSE_DEN;
using kml::SPARSE_MIN_D;
constexpr i64 SPARSE_MAX_VEC = 12;  // centre vectors accumulated in registers at once

template <class T> struct Packed {
    kml::Centres<T> c;
    T* mem = nullptr;
    T* ct_mem = nullptr;
    // Centres of dense rows (CT null): the panels for many centres, and the padded
    // transpose for the sparse rows.
    Packed(const kml::Centres<T>& centres, i64 d) : c(centres) {
        constexpr i64 NR = panel_width<T>(), L = lanes<T>();
        if (!c.C || c.CT) return;
        if (d >= SPARSE_MIN_D) {
            const i64 kp = (c.k + L - 1) / L * L;
            ct_mem = new T[d * kp];
            for (i64 t = 0; t < d; ++t)
                for (i64 j = 0; j < kp; ++j) ct_mem[t * kp + j] = j < c.k ? c.C[j * d + t] : T(0);
            c.ct_pad = ct_mem;
            c.k_pad = kp;
        }
        if (c.k < NR) return;  // few centres: the inner-product tiles
        const i64 n_panels = (c.k + NR - 1) / NR;
        mem = new T[n_panels * d * NR];
        for (i64 p = 0; p < n_panels; ++p)
            for (i64 q = 0; q < NR; ++q) {
                const i64 j = p * NR + q;
                for (i64 t = 0; t < d; ++t) mem[(p * d + t) * NR + q] = j < c.k ? c.C[j * d + t] : T(0);
            }
        c.panels = mem;
    }
    ~Packed() {
        delete[] mem;
        delete[] ct_mem;
    }
    Packed(const Packed&) = delete;
    Packed& operator=(const Packed&) = delete;
};

// R rows x NV vectors of centres (NV = 1 for a last panel of at most one vector).
template <class T, int R, int NV>
inline void outer_tile(const T* const* rows, i64 t0, i64 t1, const T* panel, T* G, i64 ldg, i64 jc, bool first) {
    constexpr i64 L = lanes<T>(), NR = panel_width<T>();
    Vec<T> acc[R][NV];
    for (int r = 0; r < R; ++r)
        for (int v = 0; v < NV; ++v) acc[r][v] = Vec<T>{};
    for (i64 t = t0; t < t1; ++t) {
        Vec<T> b[NV];
        for (int v = 0; v < NV; ++v) b[v] = load(panel + t * NR + v * L);
        for (int r = 0; r < R; ++r) {
            const Vec<T> x = splat(rows[r][t]);
            for (int v = 0; v < NV; ++v) acc[r][v] = fmadd(x, b[v], acc[r][v]);
        }
    }
    for (int r = 0; r < R; ++r) {
        T out[NV * L];
        std::memcpy(out, &acc[r][0], sizeof acc[r]);
        T* g = G + r * ldg;
        for (i64 q = 0; q < jc; ++q) g[q] = first ? out[q] : g[q] + out[q];
    }
}

template <class T, int NV>
inline void outer_panel(const T* const* rows, i64 m, i64 t0, i64 t1, const T* panel, T* Gp, i64 k, i64 jc) {
    const bool first = t0 == 0;
    i64 r = 0;
    for (; r + MR <= m; r += MR) outer_tile<T, MR, NV>(rows + r, t0, t1, panel, Gp + r * k, k, jc, first);
    switch (m - r) {
        case 5: outer_tile<T, 5, NV>(rows + r, t0, t1, panel, Gp + r * k, k, jc, first); break;
        case 4: outer_tile<T, 4, NV>(rows + r, t0, t1, panel, Gp + r * k, k, jc, first); break;
        case 3: outer_tile<T, 3, NV>(rows + r, t0, t1, panel, Gp + r * k, k, jc, first); break;
        case 2: outer_tile<T, 2, NV>(rows + r, t0, t1, panel, Gp + r * k, k, jc, first); break;
        case 1: outer_tile<T, 1, NV>(rows + r, t0, t1, panel, Gp + r * k, k, jc, first); break;
        default: break;
    }
}

template <class T>
inline void outer_dots(const T* const* rows, i64 m, const kml::Centres<T>& c, i64 d, T* G) {
    constexpr i64 NR = panel_width<T>();
    const i64 k = c.k, n_panels = (k + NR - 1) / NR;
    for (i64 t0 = 0; t0 < d; t0 += KC) {
        const i64 t1 = t0 + KC < d ? t0 + KC : d;
        for (i64 p = 0; p < n_panels; ++p) {
            const T* panel = c.panels + p * d * NR;
            const i64 jc = k - p * NR < NR ? k - p * NR : NR;
            if (jc > lanes<T>()) outer_panel<T, 2>(rows, m, t0, t1, panel, G + p * NR, k, jc);
            else outer_panel<T, 1>(rows, m, t0, t1, panel, G + p * NR, k, jc);
        }
    }
}

#if defined(__AVX2__) && !defined(__AVX512F__)
// For each 8-bit mask, the lanes it selects, packed to the front (left-packing with one
// permutation), as 8 byte indices.
struct PackTable {
    std::uint64_t lanes[256];
    constexpr PackTable() : lanes() {
        for (int m = 0; m < 256; ++m) {
            std::uint64_t v = 0;
            int n = 0;
            for (int l = 0; l < 8; ++l)
                if (m >> l & 1) v |= std::uint64_t(l) << (8 * n++);
            lanes[m] = v;
        }
    }
};
inline constexpr PackTable PACK{};
#endif

// The non-zeros of row x (indices and values, stored in order) when there are at most
// `limit`, else -1. Branch-free: idx and val have room for d + 16 entries.
template <class T> inline i64 nonzeros(const T* x, i64 d, i64 limit, kml::i32* idx, T* val) {
    i64 n = 0, t = 0;
#if defined(__AVX512F__)
    constexpr i64 L = lanes<T>();
    for (; t + L <= d; t += L) {
        if constexpr (sizeof(T) == 4) {
            const __m512 v = _mm512_loadu_ps((const float*)(x + t));
            const __mmask16 m = _mm512_cmpneq_ps_mask(v, _mm512_setzero_ps());
            _mm512_mask_compressstoreu_ps(val + n, m, v);
            const __m512i ix = _mm512_add_epi32(_mm512_set1_epi32(int(t)),
                                                _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
            _mm512_mask_compressstoreu_epi32(idx + n, m, ix);
            n += __builtin_popcount(m);
        } else {
            const __m512d v = _mm512_loadu_pd((const double*)(x + t));
            const __mmask8 m = _mm512_cmpneq_pd_mask(v, _mm512_setzero_pd());
            _mm512_mask_compressstoreu_pd(val + n, m, v);
            const __m256i ix = _mm256_add_epi32(_mm256_set1_epi32(int(t)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
            _mm256_mask_compressstoreu_epi32(idx + n, m, ix);
            n += __builtin_popcount(m);
        }
        if (n > limit) return -1;
    }
#elif defined(__AVX2__)
    if constexpr (sizeof(T) == 4) {
        const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        for (; t + 8 <= d; t += 8) {
            const __m256 v = _mm256_loadu_ps((const float*)(x + t));
            const int m = _mm256_movemask_ps(_mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_NEQ_UQ));
            const __m256i perm = _mm256_cvtepu8_epi32(_mm_cvtsi64_si128((long long)PACK.lanes[m]));
            _mm256_storeu_ps((float*)(val + n), _mm256_permutevar8x32_ps(v, perm));
            const __m256i ix = _mm256_add_epi32(_mm256_set1_epi32(int(t)), iota);
            _mm256_storeu_si256((__m256i*)(idx + n), _mm256_permutevar8x32_epi32(ix, perm));
            n += __builtin_popcount(unsigned(m));
            if (n > limit) return -1;
        }
    }
#endif
    for (; t < d; ++t) {  // branch-free: always stored, kept when non-zero
        idx[n] = kml::i32(t);
        val[n] = x[t];
        n += x[t] != T(0);
        if (n > limit) return -1;
    }
    return n;
}

// g[0:jc] = the products of one sparse row with NV vectors of padded transposed centres
// (ct: rows of stride kp). The non-zeros are dealt round-robin to S accumulator sets
// (enough independent sums to hide the FMA latency), added in a fixed order.
template <class T, int NV>
inline void sparse_chunk(const kml::i32* idx, const T* val, i64 nnz, const T* ct, i64 kp, T* g, i64 jc) {
    constexpr i64 L = lanes<T>();
    constexpr int S = NV >= 8 ? 1 : (NV >= 4 ? 2 : (NV == 3 ? 3 : 4));
    Vec<T> acc[S][NV];
    for (int s = 0; s < S; ++s)
        for (int v = 0; v < NV; ++v) acc[s][v] = Vec<T>{};
    i64 p = 0;
    for (; p + S <= nnz; p += S)
        for (int s = 0; s < S; ++s) {
            const Vec<T> x = splat(val[p + s]);
            const T* row = ct + i64(idx[p + s]) * kp;
            for (int v = 0; v < NV; ++v) acc[s][v] = fmadd(x, load(row + v * L), acc[s][v]);
        }
    for (int s = 0; p < nnz; ++p, ++s) {
        const Vec<T> x = splat(val[p]);
        const T* row = ct + i64(idx[p]) * kp;
        for (int v = 0; v < NV; ++v) acc[s][v] = fmadd(x, load(row + v * L), acc[s][v]);
    }
    for (int h = 1; h < S; h *= 2)
        for (int s = 0; s + h < S; s += 2 * h)
            for (int v = 0; v < NV; ++v) acc[s][v] += acc[s + h][v];
    T out[NV * L];
    std::memcpy(out, &acc[0][0], sizeof out);
    for (i64 q = 0; q < jc; ++q) g[q] = out[q];
}

template <class T>
inline void sparse_row(const kml::i32* idx, const T* val, i64 nnz, const kml::Centres<T>& c, T* g) {
    constexpr i64 L = lanes<T>();
    const i64 n_vec = c.k_pad / L, n_chunks = (n_vec + SPARSE_MAX_VEC - 1) / SPARSE_MAX_VEC;
    const i64 per = (n_vec + n_chunks - 1) / n_chunks;
    for (i64 v0 = 0; v0 < n_vec; v0 += per) {
        const i64 nv = n_vec - v0 < per ? n_vec - v0 : per, j0 = v0 * L;
        const i64 jc = c.k - j0 < nv * L ? c.k - j0 : nv * L;
        const T* ct = c.ct_pad + j0;
        T* out = g + j0;
        switch (nv) {
#define KML_SPARSE_CASE(N) case N: sparse_chunk<T, N>(idx, val, nnz, ct, c.k_pad, out, jc); break;
            KML_SPARSE_CASE(1) KML_SPARSE_CASE(2) KML_SPARSE_CASE(3) KML_SPARSE_CASE(4)
            KML_SPARSE_CASE(5) KML_SPARSE_CASE(6) KML_SPARSE_CASE(7) KML_SPARSE_CASE(8)
            KML_SPARSE_CASE(9) KML_SPARSE_CASE(10) KML_SPARSE_CASE(11) KML_SPARSE_CASE(12)
#undef KML_SPARSE_CASE
            default: break;
        }
    }
}

template <class T> inline void dense_dots(const T* const* rows, i64 m, const kml::Centres<T>& c, i64 d, T* G) {
    if (c.panels) outer_dots(rows, m, c, d, G);
    else tile_dots(rows, m, c.C, c.k, d, G);
}

constexpr i64 LIST_AHEAD = 2;

// One thread's scratch for the products of a block of at most SUB rows: row pointers,
// and each row's non-zeros for the sums: nnz[r] of them (-1: a full row, multiplied in
// tiles) at lidx[r] / lval[r] (null when not kept). Lists found in X are kept when asked
// and all SUB rows' lists fit in KEEP_BYTES (else one row's room, reused); lists read
// from X's copy of its non-zeros are always at hand.
constexpr i64 KEEP_BYTES = i64(1) << 20;
template <class T> struct Scratch {
    i64 cap;
    bool kept;
    Buf<const T*> ptrs;
    Buf<kml::i32> idx;
    Buf<T> val;
    Buf<i64> nnz;
    Buf<const kml::i32*> lidx;
    Buf<const T*> lval;
    Buf<const T*> dense;  // the full rows of a block, and where they are in it
    Buf<i64> where;
    Scratch(i64 d, bool keep)
        : cap(d / SPARSE_DEN + 16), kept(keep && SUB * cap * i64(sizeof(kml::i32) + sizeof(T)) <= KEEP_BYTES),
          ptrs(SUB), idx(kept ? SUB * cap : cap), val(kept ? SUB * cap : cap), nnz(SUB), lidx(SUB), lval(SUB),
          dense(SUB), where(SUB) {}
    i64 at(i64 r) const { return kept ? r * cap : 0; }
};

// Products of listed rows with the centres: each mostly-zero row through its non-zeros
// (when the centres come with their padded transpose), the others in tiles (outer
// products when the centres are packed, inner products otherwise). A product's path
// depends on its row only; the tiles' rounding, on which rows share them (see above).
// listed: the caller has set every row's nnz / lidx / lval (from X's copy of its
// non-zeros); else the non-zeros are found here. Listed rows may lie anywhere in the copy
// (Hamerly's open rows): their lists are fetched LIST_AHEAD rows ahead (MNIST, K=10:
// Hamerly steps 20-28 % faster).
template <class T>
inline void dots(const T* const* rows, i64 m, const kml::Centres<T>& c, i64 d, T* G, Scratch<T>& sc,
                 bool listed = false) {
    if (!c.ct_pad) {
        for (i64 r = 0; r < m; ++r) sc.nnz[r] = -1;
        return dense_dots(rows, m, c, d, G);
    }
    i64 n_dense = 0;
    for (i64 r = 0; r < m; ++r) {
        const i64 ahead = r + LIST_AHEAD;
        if (listed && ahead < m && sc.nnz[ahead] > 0) {
            prefetch(sc.lidx[ahead], sc.nnz[ahead] * i64(sizeof(kml::i32)));
            prefetch(sc.lval[ahead], sc.nnz[ahead] * i64(sizeof(T)));
        }
        if (!listed) {
            sc.lidx[r] = sc.idx.p + sc.at(r);
            sc.lval[r] = sc.val.p + sc.at(r);
            sc.nnz[r] = nonzeros(rows[r], d, d / SPARSE_DEN, const_cast<kml::i32*>(sc.lidx[r]),
                                 const_cast<T*>(sc.lval[r]));
        }
        if (sc.nnz[r] < 0) {
            sc.dense[n_dense] = rows[r];
            sc.where[n_dense++] = r;
        } else {
            sparse_row(sc.lidx[r], sc.lval[r], sc.nnz[r], c, G + r * c.k);
        }
        if (!listed && !sc.kept) sc.lidx[r] = nullptr;  // the room is reused by the next row
    }
    if (n_dense == m) return dense_dots(rows, m, c, d, G);
    if (n_dense == 0) return;
    Buf<T> Gd(n_dense * c.k);
    dense_dots(sc.dense.p, n_dense, c, d, Gd.p);
    for (i64 q = 0; q < n_dense; ++q) std::memcpy(G + sc.where[q] * c.k, Gd.p + q * c.k, sizeof(T) * c.k);
}

// sum_p val[p] * c[idx[p]] in four interleaved sums, added in a fixed order.
template <class T> inline T sparse_dot(const kml::i32* idx, const T* val, i64 nnz, const T* c) {
    T s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    i64 p = 0;
    for (; p + 4 <= nnz; p += 4) {
        s0 += val[p] * c[idx[p]];
        s1 += val[p + 1] * c[idx[p + 1]];
        s2 += val[p + 2] * c[idx[p + 2]];
        s3 += val[p + 3] * c[idx[p + 3]];
    }
    for (; p < nnz; ++p) s0 += val[p] * c[idx[p]];
    return (s0 + s1) + (s2 + s3);
}

// Row access of dense X: products of a block of rows with the centres (tiles, or through
// the non-zeros of mostly-zero rows, read from X's copy of them when it has one), exact
// distances, sums.
template <class T> struct DenseRows {
    const T* x;
    i64 n, d;
    const i64* nz_ptr;
    const kml::i32* nz_idx;
    const T* nz_val;
    explicit DenseRows(const kml::Dense<T>& X)
        : x(X.x), n(X.n), d(X.d), nz_ptr(X.nz_ptr), nz_idx(X.nz_idx), nz_val(X.nz_val) {}
    const T* row(i64 i) const { return x + i * d; }
    // Row i's non-zeros in the copy, when it has one and the row is mostly zero.
    bool sparse(i64 i) const { return nz_ptr && (nz_ptr[i + 1] - nz_ptr[i]) * SPARSE_DEN <= d; }
    void listed_dots(const kml::Centres<T>& c, i64 m, T* G, Scratch<T>& sc, const i64* rows_i) const {
        for (i64 r = 0; r < m; ++r) {
            const i64 i = rows_i[r];
            const bool sp = c.ct_pad && sparse(i);
            sc.nnz[r] = sp ? nz_ptr[i + 1] - nz_ptr[i] : -1;
            sc.lidx[r] = sp ? nz_idx + nz_ptr[i] : nullptr;
            sc.lval[r] = sp ? nz_val + nz_ptr[i] : nullptr;
        }
        dots(sc.ptrs.p, m, c, d, G, sc, true);
    }
    void block_dots(const i64* idx, i64 m, const kml::Centres<T>& c, T* G, Scratch<T>& sc) const {
        for (i64 r = 0; r < m; ++r) sc.ptrs[r] = row(idx[r]);
        if (nz_ptr) return listed_dots(c, m, G, sc, idx);
        dots(sc.ptrs.p, m, c, d, G, sc);
    }
    void range_dots(i64 start, i64 end, const kml::Centres<T>& c, T* G, Scratch<T>& sc) const {
        i64 rows_i[SUB];
        for (i64 i = start; i < end; ++i) rows_i[i - start] = i;
        block_dots(rows_i, end - start, c, G, sc);
    }
    // x_i . cj (through the copy's non-zeros for a mostly-zero row).
    T dot_row(i64 i, const T* cj) const {
        if (sparse(i)) return sparse_dot(nz_idx + nz_ptr[i], nz_val + nz_ptr[i], nz_ptr[i + 1] - nz_ptr[i], cj);
        return dot(row(i), cj, d);
    }
    void prefetch_row(i64 i) const {
        if (!sparse(i)) return prefetch(row(i), d * i64(sizeof(T)));
        const i64 nnz = nz_ptr[i + 1] - nz_ptr[i];
        prefetch(nz_idx + nz_ptr[i], nnz * i64(sizeof(kml::i32)));
        prefetch(nz_val + nz_ptr[i], nnz * i64(sizeof(T)));
    }
    double exact(i64 i, const T* cj) const { return exact_sq(row(i), cj, d); }
    // s += wi * x_i, through the row's non-zeros alone when they are listed (the zeros
    // would add exact zeros).
    static void add_listed(const kml::i32* idx, const T* val, i64 nnz, double wi, double* s) {
        for (i64 p = 0; p < nnz; ++p) s[idx[p]] += wi * double(val[p]);
    }
    void add_row(i64 i, double wi, double* s) const {
        if (sparse(i)) return add_listed(nz_idx + nz_ptr[i], nz_val + nz_ptr[i], nz_ptr[i + 1] - nz_ptr[i], wi, s);
        const T* xi = row(i);
        for (i64 t = 0; t < d; ++t) s[t] += wi * double(xi[t]);
    }
    // The same, row i being row r of the block the scratch last multiplied (its lists).
    void add(i64 i, double wi, double* s, const Scratch<T>& sc, i64 r) const {
        if (sc.nnz[r] >= 0 && sc.lidx[r]) return add_listed(sc.lidx[r], sc.lval[r], sc.nnz[r], wi, s);
        add_row(i, wi, s);
    }
};

// Row access of CSR X: products through the centres transposed (each non-zero adds a
// scaled row of CT).
template <class T, class I> struct CsrRows {
    const T* data;
    const I* indices;
    const I* indptr;
    i64 n, d;
    explicit CsrRows(const kml::Csr<T, I>& X)
        : data(X.data), indices(X.indices), indptr(X.indptr), n(X.n), d(X.d) {}
    void products(i64 i, const T* CT, i64 k, T* g) const {
        for (i64 j = 0; j < k; ++j) g[j] = 0;
        for (i64 p = indptr[i]; p < indptr[i + 1]; ++p) {
            const T v = data[p];
            const T* ct = CT + i64(indices[p]) * k;
            for (i64 j = 0; j < k; ++j) g[j] += v * ct[j];
        }
    }
    void range_dots(i64 start, i64 end, const kml::Centres<T>& c, T* G, Scratch<T>&) const {
        for (i64 i = start; i < end; ++i) products(i, c.CT, c.k, G + (i - start) * c.k);
    }
    // ||x_i - c||^2 in float64 in a fixed order, for near-ties.
    double exact(i64 i, const T* cj) const {
        double s = 0;
        for (i64 t = 0; t < d; ++t) s += double(cj[t]) * double(cj[t]);
        for (i64 p = indptr[i]; p < indptr[i + 1]; ++p) {
            double c = double(cj[indices[p]]);
            double diff = double(data[p]) - c;
            s += diff * diff - c * c;
        }
        return s;
    }
    void add(i64 i, double wi, double* s, const Scratch<T>&, i64) const {
        for (i64 p = indptr[i]; p < indptr[i + 1]; ++p) s[indices[p]] += wi * double(data[p]);
    }
};

inline i64 n_sub_blocks(i64 n) { return (n + SUB - 1) / SUB; }

// Below this many operations a kernel runs on the calling thread: waking a team costs
// more than the work, and far more on a loaded machine, where a parallel region waits
// for every thread to be scheduled.
constexpr i64 PARALLEL_WORK = i64(1) << 22;
constexpr double INF = std::numeric_limits<double>::infinity();

}  // namespace KML_NS
