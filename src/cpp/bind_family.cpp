// Bindings of the k-means family's kernels: row draws, L1, medians, soft responsibilities.
#include "check.hpp"

namespace kml {
const Table* table_now();

namespace {
template <class T> auto& fns() {
    if constexpr (std::is_same_v<T, float>) return table_now()->f32;
    else return table_now()->f64;
}
template <class T, class I> auto& csr_fns() {
    if constexpr (std::is_same_v<I, i32>) return fns<T>().csr32;
    else return fns<T>().csr64;
}
const auto nogil = nb::call_guard<nb::gil_scoped_release>();

template <class T> L1<T> l1_args(const In& w, const In& C, i64 n, i64 d, const Out& labels, const Out& mind,
                                 const Out& sse_part, const Out& dist) {
    const i64 k = dim(C, 0);
    if (k < 1) throw nb::value_error("C must hold at least one centre");
    const bool all = dim(dist, 0) > 0;
    T* dp = out<T>(dist, "dist", {all ? n : 0, k});
    return {in<double>(w, "w", {n}), in<T>(C, "C", {k, d}), nullptr, k, out<i32>(labels, "labels", {n}),
            out<T>(mind, "mind", {n}), out<double>(sse_part, "sse_part", {ANY}), dim(sse_part, 0), all ? dp : nullptr};
}

template <class T> Soft<T> soft_args(const In& w, const T* C, const T* CT, const In& c_sq, i64 k, const In& x_sq,
                                     double beta, double cap, double err, i64 n, i64 d, const Out& labels, const Out& resp,
                                     const Out& obj_part, const Out& sums_part, const Out& mass_part) {
    if (k < 1) throw nb::value_error("the centres must hold at least one centre");
    const i64 slots = dim(obj_part, 0);
    const bool with = dim(sums_part, 1) > 0, all = dim(resp, 0) > 0;
    double* rp = out<double>(resp, "resp", {all ? n : 0, k});
    return {in<double>(w, "w", {n}), {C, CT, in<T>(c_sq, "c_sq", {k}), k}, in<T>(x_sq, "x_sq", {n}), beta, cap, err,
            out<i32>(labels, "labels", {n}), all ? rp : nullptr, out<double>(obj_part, "obj_part", {slots}),
            out<double>(sums_part, "sums_part", {slots, with ? k : 0, with ? d : 0}),
            out<double>(mass_part, "mass_part", {slots, with ? k : 0}), slots, with};
}
}  // namespace

void bind_family(nb::module_& m) {
    m.def("draw_rows", [](const In& cdf, const In& u, const Out& o) {
        const i64 n = dim(cdf, 0), k = dim(u, 0);
        table_now()->draw_rows(in<double>(cdf, "cdf", {n}), n, in<double>(u, "u", {k}), k, out<i64>(o, "out", {k}));
    }, nogil, "out[i] = searchsorted(cdf, u[i], side='right') for a non-decreasing cdf.");

    m.def("l1_assign", [](const In& X, const In& w, const In& C, const Out& labels, const Out& mind,
                          const Out& sse_part, const Out& dist) {
        by_float(X, "X", [&](auto t) {
            using T = decltype(t);
            const i64 n = dim(X, 0), d = dim(X, 1);
            fns<T>().l1_assign({in<T>(X, "X", {n, d}), n, d}, l1_args<T>(w, C, n, d, labels, mind, sse_part, dist));
        });
    }, nogil);

    m.def("l1_assign_csr", [](const In& data, const In& indices, const In& indptr, const In& w, const In& C,
                              const In& c_abs, const Out& labels, const Out& mind, const Out& sse_part,
                              const Out& dist) {
        by_csr(data, indptr, [&](auto t, auto ix) {
            using T = decltype(t);
            using I = decltype(ix);
            auto X = csr<T, I>(data, &indices, indptr, dim(C, 1));
            L1<T> a = l1_args<T>(w, C, X.n, X.d, labels, mind, sse_part, dist);
            a.c_abs = in<double>(c_abs, "c_abs", {a.k});
            csr_fns<T, I>().l1_assign(X, a);
        });
    }, nogil);

    m.def("weighted_median", [](const Out& v, const Out& wt, i64 m, const Out& hist, double guess) {
        if (m < 1 || m > dim(v, 0) || m > dim(wt, 0))
            throw nb::value_error("m must be between 1 and the length of v and wt");
        return table_now()->weighted_median(out<double>(v, "v", {ANY}), out<double>(wt, "wt", {ANY}), m,
                                            out<double>(hist, "hist", {3, N_BUCKETS}), guess);
    }, nogil, "Minimiser of sum(wt * |v - x|) over the first m entries (all wt > 0); overwrites v, wt.");

    m.def("medians_dense", [](const In& X, const In& w, const In& order, const In& starts, const Out& o) {
        by_float(X, "X", [&](auto t) {
            using T = decltype(t);
            const i64 n = dim(X, 0), d = dim(X, 1), k = dim(starts, 0) - 1, m = dim(order, 0);
            if (k < 0) throw nb::value_error("starts must hold at least one entry");
            const i64 *ord = in<i64>(order, "order", {m}), *st = in<i64>(starts, "starts", {k + 1});
            check_index(ord, m, n, "order");
            for (i64 q = 0; q < k; ++q)
                if (st[q] < 0 || st[q] > st[q + 1] || st[q + 1] > m)
                    throw nb::value_error("starts must be non-decreasing within [0, len(order)]");
            fns<T>().medians({in<T>(X, "X", {n, d}), n, d}, in<double>(w, "w", {n}), ord, st, k,
                             out<double>(o, "out", {k, d}));
        });
    }, nogil);

    m.def("medians_csc", [](const In& data, const In& indices, const In& indptr, const In& w, const In& starts,
                            const Out& o) {
        by_csr(data, indptr, [&](auto t, auto ix) {
            using T = decltype(t);
            using I = decltype(ix);
            const i64 k = dim(starts, 0) - 1, n_rows = dim(w, 0);
            auto X = csr<T, I>(data, &indices, indptr, n_rows);  // columns of X[order]
            const i64* st = in<i64>(starts, "starts", {k + 1});
            for (i64 q = 0; q < k; ++q)
                if (st[q] < 0 || st[q] > st[q + 1] || st[q + 1] > n_rows)
                    throw nb::value_error("starts must be non-decreasing within [0, len(w)]");
            check_index(X.indices, dim(data, 0), n_rows, "indices");
            csr_fns<T, I>().medians_csc(X, in<double>(w, "w", {n_rows}), st, k, out<double>(o, "out", {k, X.n}));
        });
    }, nogil);

    m.def("soft_dense", [](const In& X, const In& w, const In& C, const In& c_sq, const In& x_sq, double beta,
                           double cap, double err, const Out& labels, const Out& resp, const Out& obj_part, const Out& sums_part,
                           const Out& mass_part) {
        by_float(X, "X", [&](auto t) {
            using T = decltype(t);
            const i64 n = dim(X, 0), d = dim(X, 1), k = dim(C, 0);
            fns<T>().soft({in<T>(X, "X", {n, d}), n, d},
                          soft_args<T>(w, in<T>(C, "C", {k, d}), nullptr, c_sq, k, x_sq, beta, cap, err, n, d, labels,
                                       resp, obj_part, sums_part, mass_part));
        });
    }, nogil);

    m.def("soft_csr", [](const In& data, const In& indices, const In& indptr, const In& w, const In& CT, const In& C,
                         const In& c_sq, const In& x_sq, double beta, double cap, double err, const Out& labels,
                         const Out& resp,
                         const Out& obj_part, const Out& sums_part, const Out& mass_part) {
        by_csr(data, indptr, [&](auto t, auto ix) {
            using T = decltype(t);
            using I = decltype(ix);
            const i64 d = dim(CT, 0), k = dim(CT, 1);
            auto X = csr<T, I>(data, &indices, indptr, d);
            csr_fns<T, I>().soft(X, soft_args<T>(w, in<T>(C, "C", {k, d}), in<T>(CT, "CT", {d, k}), c_sq, k, x_sq,
                                                 beta, cap, err, X.n, d,
                                                 labels, resp, obj_part, sums_part, mass_part));
        });
    }, nogil);
}

}  // namespace kml
