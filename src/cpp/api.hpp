// The kernels' C ABI between the bindings (compiled once) and the kernel translation
// unit (compiled once per CPU level, each copy in its own namespace): plain pointers and
// sizes, arrays C-contiguous, checked by the bindings before any kernel runs.
#pragma once
#include <cstdint>

namespace kml {
using i64 = std::int64_t;
using i32 = std::int32_t;

constexpr i64 SUB = 256;        // rows per sub-block (fixed: results do not depend on threads)
constexpr i64 N_BUCKETS = 256;  // buckets per round of the weighted median selection
// Dense rows with at most one SPARSE_DEN-th non-zeros (MNIST's digits: ~19 %) are
// multiplied through their non-zeros, when X has at least SPARSE_MIN_D features.
constexpr i64 SPARSE_DEN = 3;
constexpr i64 SPARSE_MIN_D = 32;

// Dense X, and optionally a copy of its non-zeros in CSR form (nz_ptr (n + 1) offsets,
// nz_idx column indices in order, nz_val values; null when none): the kernels read a
// mostly-zero row's non-zeros there instead of finding them in X.
template <class T> struct Dense {
    const T* x; i64 n, d;
    const i64* nz_ptr = nullptr; const i32* nz_idx = nullptr; const T* nz_val = nullptr;
};
template <class T, class I> struct Csr { const T* data; const I* indices; const I* indptr; i64 n, d; };

// Centres C (k, d); CT (d, k) its transpose (CSR products), c_sq their squared norms;
// panels: C packed for the outer-product tiles; ct_pad: C transposed, each row of k_pad
// values (zero past k), for the products of mostly-zero dense rows (both set by the
// kernels, null when unused).
template <class T> struct Centres {
    const T* C; const T* CT; const T* c_sq; i64 k; const T* panels = nullptr;
    const T* ct_pad = nullptr; i64 k_pad = 0;
};

template <class T> struct Lloyd {
    const double* w; const T* x_sq; Centres<T> c; double err;
    i32* labels; T* mind; double* sse_part; double* sums_part; i64 n_slot; bool with_sums;
};

template <class T> struct Candidates {  // out[m, i] = ||x_i - cand_m||^2
    const T* x_sq; Centres<T> cand; T* out;
};

template <class T> struct L1 {
    const double* w; const T* C; const double* c_abs; i64 k;
    i32* labels; T* mind; double* sse_part; i64 n_slot; T* dist;  // dist (n, k) or null
};

template <class T> struct Soft {
    const double* w; Centres<T> c; const T* x_sq; double beta, cap, err;
    i32* labels; double* resp; double* obj_part; double* sums_part; double* mass_part;
    i64 n_slot; bool with_sums;
};

template <class T> struct Bounds {  // Hamerly / Elkan state and parameters (see bounds.hpp)
    const double* w; const T* C; const T* c_sq; i64 k; const T* x_sq;
    const double* half_sep; const double* half_cc; const double* cum; double cum_max;
    double err, rel;
    i32* labels; double* upper; T* lower; bool all_lower; double* glow;
    double* sums_part; i64 n_slot; bool with_sums;
    // Elkan's byte copy of X (null: none): x'_i = scale * Q[i]
    const std::uint8_t* Q; double scale; const double* q_sq; const double* q_err;
    // A step whose bounds leave more than this share open does nothing and returns -1
    // (Hamerly: of the rows; Elkan: of the (row, centre) pairs, estimated on every
    // SAMPLE_STRIDE-th row; 1 or more: no test).
    double max_open;
};

template <class T> struct CsrFns {
    using I = typename T::I; using V = typename T::V;
    void (*row_sq_norms)(const Csr<V, I>&, V* out);
    void (*lloyd)(const Csr<V, I>&, const Lloyd<V>&);
    void (*exact_sq_dist)(const Csr<V, I>&, const V* C, const double* c_sq, const i32* labels, double* out);
    void (*candidate_sq_dist)(const Csr<V, I>&, const Candidates<V>&);
    void (*l1_assign)(const Csr<V, I>&, const L1<V>&);
    void (*soft)(const Csr<V, I>&, const Soft<V>&);
    void (*medians_csc)(const Csr<V, I>&, const double* w, const i64* starts, i64 k, double* out);
};

template <class V_, class I_> struct CsrTypes { using V = V_; using I = I_; };

template <class T, class U> struct Fns {
    void (*value_summary)(const T* V, i64 n, i64 d, T* nonfinite, U* largest);
    void (*byte_copy)(const Dense<T>&, double scale, std::uint8_t* Q, double* q_sq, double* q_err);
    void (*row_sq_norms)(const Dense<T>&, T* out);
    void (*column_sums)(const Dense<T>&, const double* shift, double* part, i64 n_slot);
    void (*lloyd)(const Dense<T>&, const Lloyd<T>&);
    void (*exact_sq_dist)(const Dense<T>&, const T* C, const i32* labels, T* out);
    void (*candidate_sq_dist)(const Dense<T>&, const Candidates<T>&);
    void (*potentials)(const T* dist, i64 n, const i64* cols, i64 m, const T* closest, const double* w, double* pot);
    void (*init_bounds)(const Dense<T>&, const Bounds<T>&);
    i64 (*hamerly_assign)(const Dense<T>&, const Bounds<T>&);
    i64 (*elkan_assign)(const Dense<T>&, const Bounds<T>&);
    void (*move_rows)(const Dense<T>&, const double* w, const i64* rows, const i64* old, const i64* new_,
                      i64 m, double* sums);
    void (*l1_assign)(const Dense<T>&, const L1<T>&);
    void (*medians)(const Dense<T>&, const double* w, const i64* order, const i64* starts, i64 k, double* out);
    void (*soft)(const Dense<T>&, const Soft<T>&);
    void (*count_nonzeros)(const Dense<T>&, i64* counts);
    i64 (*copy_nonzeros)(const Dense<T>&, const i64* ptr, i32* idx, T* val);
    CsrFns<CsrTypes<T, i32>> csr32;
    CsrFns<CsrTypes<T, i64>> csr64;
};

struct Table {
    const char* level;
    Fns<float, std::uint32_t> f32;
    Fns<double, std::uint64_t> f64;
    void (*half_center_distances)(const double* C, i64 k, i64 d, double* out);
    void (*draw_rows)(const double* cdf, i64 n, const double* u, i64 m, i64* out);
    double (*weighted_median)(double* v, double* wt, i64 m, double* hist, double guess);
};

}  // namespace kml
