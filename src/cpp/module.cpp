// kmeanslab._core: the compiled kernels, bound with nanobind.
//
// The kernels are compiled once per CPU level (baseline x86-64 / other architectures,
// AVX2 + FMA, AVX-512); the best level the CPU has is picked at import, or the one
// KMEANSLAB_CPU names (never above what the CPU has). Every function releases the GIL;
// arrays are checked (dtype, shape, C order) before the kernel runs, and outputs are
// written in place.
#include <atomic>
#include <cstdlib>
#include <string>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include "check.hpp"

namespace kml_baseline { const kml::Table* table(); }
#ifdef KML_HAVE_AVX2
namespace kml_avx2 { const kml::Table* table(); }
#endif
#ifdef KML_HAVE_AVX512
namespace kml_avx512 { const kml::Table* table(); }
#endif

namespace kml {
namespace {

struct Level {
    const char* name;
    const Table* (*table)();
    bool cpu_has;
};

std::vector<Level> levels() {
    std::vector<Level> out{{"baseline", &kml_baseline::table, true}};
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
#endif
#ifdef KML_HAVE_AVX2
    out.push_back({"avx2", &kml_avx2::table, __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")});
#endif
#ifdef KML_HAVE_AVX512
    out.push_back({"avx512", &kml_avx512::table,
                   __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                       __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
                       __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")});
#endif
    return out;
}

std::vector<std::string> usable() {
    std::vector<std::string> names;
    for (const Level& l : levels())
        if (l.cpu_has) names.push_back(l.name);
    return names;
}

std::atomic<const Table*> current{nullptr};

// The level called name, if this build has it and the CPU runs it.
const Table* pick(const std::string& name, const char* source) {
    std::string known, has;
    for (const Level& l : levels()) {
        known += std::string(known.empty() ? "" : ", ") + l.name;
        if (l.cpu_has) has += std::string(has.empty() ? "" : ", ") + l.name;
    }
    for (const Level& l : levels()) {
        if (name != l.name) continue;
        if (!l.cpu_has)
            throw nb::value_error((std::string(source) + "=" + name + ": this CPU cannot run the " + name +
                                   " kernels (levels it can run: " + has + ")").c_str());
        return l.table();
    }
    throw nb::value_error((std::string(source) + "=" + name + " is not a CPU level of this build (one of: " + known +
                           "; this CPU runs: " + has + ")").c_str());
}

const Table* best() {
    const Table* t = nullptr;
    for (const Level& l : levels())
        if (l.cpu_has) t = l.table();
    return t;
}

template <class T> auto& fns() {
    if constexpr (std::is_same_v<T, float>) return current.load()->f32;
    else return current.load()->f64;
}
template <class T, class I> auto& csr_fns() {
    if constexpr (std::is_same_v<I, i32>) return fns<T>().csr32;
    else return fns<T>().csr64;
}

using nb::arg;
const auto nogil = nb::call_guard<nb::gil_scoped_release>();

// CSR offsets of n rows of at most d entries each (O(n)).
const i64* csr_offsets(const In& ptr, const char* name, i64 n, i64 d) {
    const i64* p = in<i64>(ptr, name, {n + 1});
    if (p[0] != 0) throw nb::value_error((std::string(name) + " must start at 0").c_str());
    for (i64 i = 0; i < n; ++i)
        if (p[i + 1] < p[i] || p[i + 1] - p[i] > d)
            throw nb::value_error((std::string(name) + " is not a CSR offset array of X").c_str());
    return p;
}

// Dense X with its copy of non-zeros (nz_ptr of length 0: none). The offsets are checked;
// the column indices are trusted: the copy is made by copy_nonzeros.
template <class T> Dense<T> dense_nz(const In& X, const In& nz_ptr, const In& nz_idx, const In& nz_val) {
    const i64 n = dim(X, 0), d = dim(X, 1);
    Dense<T> D{in<T>(X, "X", {n, d}), n, d};
    if (dim(nz_ptr, 0) == 0) return D;
    const i64* ptr = csr_offsets(nz_ptr, "nz_ptr", n, d);
    D.nz_ptr = ptr;
    D.nz_idx = in<i32>(nz_idx, "nz_idx", {ptr[n]});
    D.nz_val = in<T>(nz_val, "nz_val", {ptr[n]});
    return D;
}

void bind_dense(nb::module_& m) {
    m.def("value_summary", [](const In& V, const Out& nonfinite, const Out& largest) {
        by_float(V, "V", [&](auto t) {
            using T = decltype(t);
            using U = std::conditional_t<std::is_same_v<T, float>, std::uint32_t, std::uint64_t>;
            const i64 n = dim(V, 0), d = dim(V, 1);
            fns<T>().value_summary(in<T>(V, "V", {n, d}), n, d, out<T>(nonfinite, "nonfinite", {n}),
                                   out<U>(largest, "largest", {n}));
        });
    }, nogil, "Per row: sum(v - v) (NaN where a value is not finite) and the largest |v| as bits.");

    m.def("byte_copy", [](const In& X, double scale, const Out& Q, const Out& q_sq, const Out& q_err) {
        by_float(X, "X", [&](auto t) {
            using T = decltype(t);
            const i64 n = dim(X, 0), d = dim(X, 1);
            fns<T>().byte_copy({in<T>(X, "X", {n, d}), n, d}, scale, out<std::uint8_t>(Q, "Q", {n, d}),
                               out<double>(q_sq, "q_sq", {n}), out<double>(q_err, "q_err", {n}));
        });
    }, nogil);

    m.def("row_sq_norms", [](const In& X, const Out& o) {
        by_float(X, "X", [&](auto t) {
            using T = decltype(t);
            const i64 n = dim(X, 0), d = dim(X, 1);
            fns<T>().row_sq_norms({in<T>(X, "X", {n, d}), n, d}, out<T>(o, "out", {n}));
        });
    }, nogil);

    m.def("count_nonzeros", [](const In& X, const Out& counts) {
        by_float(X, "X", [&](auto t) {
            using T = decltype(t);
            const i64 n = dim(X, 0), d = dim(X, 1);
            fns<T>().count_nonzeros({in<T>(X, "X", {n, d}), n, d}, out<i64>(counts, "counts", {n}));
        });
    }, nogil, "Non-zeros per row of dense X.");

    m.def("copy_nonzeros", [](const In& X, const In& ptr, const Out& idx, const Out& val) {
        by_float(X, "X", [&](auto t) {
            using T = decltype(t);
            const i64 n = dim(X, 0), d = dim(X, 1);
            const i64* p = csr_offsets(ptr, "ptr", n, d);
            const Dense<T> D{in<T>(X, "X", {n, d}), n, d};
            const i64 nnz = p[n];
            if (fns<T>().copy_nonzeros(D, p, out<i32>(idx, "idx", {nnz}), out<T>(val, "val", {nnz})))
                throw nb::value_error("ptr does not hold the counts of X's non-zeros");
        });
    }, nogil, "X's non-zeros in CSR form, from ptr (cumulated count_nonzeros).");

    m.def("column_sums", [](const In& X, const In& shift, const Out& part) {
        by_float(X, "X", [&](auto t) {
            using T = decltype(t);
            const i64 n = dim(X, 0), d = dim(X, 1);
            fns<T>().column_sums({in<T>(X, "X", {n, d}), n, d}, in<double>(shift, "shift", {d}),
                                 out<double>(part, "part", {ANY, 2, d}), dim(part, 0));
        });
    }, nogil);

    m.def("lloyd_pass", [](const In& X, const In& w, const In& C, const In& c_sq, const In& x_sq, double err,
                           const Out& labels, const Out& mind, const Out& sse_part, const Out& sums_part,
                           const In& nz_ptr, const In& nz_idx, const In& nz_val) {
        by_float(X, "X", [&](auto t) {
            using T = decltype(t);
            const i64 n = dim(X, 0), d = dim(X, 1), k = dim(C, 0), slots = dim(sse_part, 0);
            const bool with = dim(sums_part, 1) > 0;
            Lloyd<T> a{in<double>(w, "w", {n}), in<T>(x_sq, "x_sq", {n}),
                       {in<T>(C, "C", {k, d}), nullptr, in<T>(c_sq, "c_sq", {k}), k}, err,
                       out<i32>(labels, "labels", {n}), out<T>(mind, "mind", {n}),
                       out<double>(sse_part, "sse_part", {slots}),
                       out<double>(sums_part, "sums_part", {slots, with ? k : 0, with ? d : 0}), slots, with};
            if (k < 1) throw nb::value_error("C must hold at least one centre");
            fns<T>().lloyd(dense_nz<T>(X, nz_ptr, nz_idx, nz_val), a);
        });
    }, nogil);

    m.def("exact_sq_dist", [](const In& X, const In& C, const In& labels, const Out& o) {
        by_float(X, "X", [&](auto t) {
            using T = decltype(t);
            const i64 n = dim(X, 0), d = dim(X, 1), k = dim(C, 0);
            const i32* lab = in<i32>(labels, "labels", {n});
            check_index(lab, n, k, "labels");
            fns<T>().exact_sq_dist({in<T>(X, "X", {n, d}), n, d}, in<T>(C, "C", {k, d}), lab, out<T>(o, "out", {n}));
        });
    }, nogil);

    m.def("candidate_sq_dist", [](const In& X, const In& x_sq, const In& cand, const In& cand_sq, const Out& o,
                                  const In& nz_ptr, const In& nz_idx, const In& nz_val) {
        by_float(X, "X", [&](auto t) {
            using T = decltype(t);
            const i64 n = dim(X, 0), d = dim(X, 1), m = dim(cand, 0);
            Candidates<T> a{in<T>(x_sq, "x_sq", {n}), {in<T>(cand, "cand", {m, d}), nullptr, in<T>(cand_sq, "cand_sq", {m}), m},
                            out<T>(o, "out", {m, n})};
            fns<T>().candidate_sq_dist(dense_nz<T>(X, nz_ptr, nz_idx, nz_val), a);
        });
    }, nogil);

    m.def("potentials", [](const In& dist, const In& cols, const In& closest, const In& w, const Out& pot) {
        by_float(dist, "dist", [&](auto t) {
            using T = decltype(t);
            const i64 rows = dim(dist, 0), n = dim(dist, 1), m = dim(cols, 0);
            const i64* c = in<i64>(cols, "cols", {m});
            check_index(c, m, rows, "cols");
            fns<T>().potentials(in<T>(dist, "dist", {rows, n}), n, c, m, in<T>(closest, "closest", {n}),
                                in<double>(w, "w", {n}), out<double>(pot, "pot", {m}));
        });
    }, nogil);
}

void bind_sparse(nb::module_& m) {
    m.def("row_sq_norms_csr", [](const In& data, const In& indptr, const Out& o) {
        by_csr(data, indptr, [&](auto t, auto ix) {
            using T = decltype(t);
            using I = decltype(ix);
            auto X = csr<T, I>(data, nullptr, indptr, 0);
            csr_fns<T, I>().row_sq_norms(X, out<T>(o, "out", {X.n}));
        });
    }, nogil);

    m.def("lloyd_csr", [](const In& data, const In& indices, const In& indptr, const In& w, const In& CT, const In& C,
                          const In& c_sq, const In& x_sq, double err, const Out& labels, const Out& mind,
                          const Out& sse_part, const Out& sums_part) {
        by_csr(data, indptr, [&](auto t, auto ix) {
            using T = decltype(t);
            using I = decltype(ix);
            const i64 k = dim(C, 0), d = dim(C, 1), slots = dim(sse_part, 0);
            auto X = csr<T, I>(data, &indices, indptr, d);
            const i64 n = X.n;
            const bool with = dim(sums_part, 1) > 0;
            Lloyd<T> a{in<double>(w, "w", {n}), in<T>(x_sq, "x_sq", {n}),
                       {in<T>(C, "C", {k, d}), in<T>(CT, "CT", {d, k}), in<T>(c_sq, "c_sq", {k}), k}, err,
                       out<i32>(labels, "labels", {n}), out<T>(mind, "mind", {n}),
                       out<double>(sse_part, "sse_part", {slots}),
                       out<double>(sums_part, "sums_part", {slots, with ? k : 0, with ? d : 0}), slots, with};
            if (k < 1) throw nb::value_error("C must hold at least one centre");
            csr_fns<T, I>().lloyd(X, a);
        });
    }, nogil);

    m.def("exact_sq_dist_csr", [](const In& data, const In& indices, const In& indptr, const In& C, const In& c_sq,
                                  const In& labels, const Out& o) {
        by_csr(data, indptr, [&](auto t, auto ix) {
            using T = decltype(t);
            using I = decltype(ix);
            const i64 k = dim(C, 0), d = dim(C, 1);
            auto X = csr<T, I>(data, &indices, indptr, d);
            const i32* lab = in<i32>(labels, "labels", {X.n});
            check_index(lab, X.n, k, "labels");
            csr_fns<T, I>().exact_sq_dist(X, in<T>(C, "C", {k, d}), in<double>(c_sq, "c_sq", {k}), lab,
                                          out<double>(o, "out", {X.n}));
        });
    }, nogil);

    m.def("candidate_sq_dist_csr", [](const In& data, const In& indices, const In& indptr, const In& x_sq,
                                      const In& candT, const In& cand_sq, const Out& o) {
        by_csr(data, indptr, [&](auto t, auto ix) {
            using T = decltype(t);
            using I = decltype(ix);
            const i64 d = dim(candT, 0), m = dim(candT, 1);
            auto X = csr<T, I>(data, &indices, indptr, d);
            Candidates<T> a{in<T>(x_sq, "x_sq", {X.n}),
                            {nullptr, in<T>(candT, "candT", {d, m}), in<T>(cand_sq, "cand_sq", {m}), m},
                            out<T>(o, "out", {m, X.n})};
            csr_fns<T, I>().candidate_sq_dist(X, a);
        });
    }, nogil);
}

// What a bounded step (Hamerly or Elkan) reads and writes, checked.
template <class T>
Bounds<T> step_args(const In& C, const In& c_sq, const In& x_sq, const In& half_sep, const In& cum, double err,
                    double rel, const Out& labels, const Out& upper, i64 n, i64 d) {
    const i64 k = dim(C, 0);
    Bounds<T> a{};
    a.C = in<T>(C, "C", {k, d});
    a.c_sq = in<T>(c_sq, "c_sq", {k});
    a.k = k;
    a.x_sq = in<T>(x_sq, "x_sq", {n});
    a.half_sep = in<double>(half_sep, "half_sep", {k});
    a.cum = in<double>(cum, "cum", {k});
    a.err = err;
    a.rel = rel;
    a.labels = out<i32>(labels, "labels", {n});
    check_index(a.labels, n, k, "labels");
    a.upper = out<double>(upper, "upper", {n});
    return a;
}

void bind_bounds(nb::module_& m) {
    m.def("init_bounds", [](const In& X, const In& w, const In& C, const In& c_sq, const In& x_sq, double err,
                            double rel, const Out& labels, const Out& upper, const Out& lower, const Out& glow,
                            const Out& sums_part, const In& nz_ptr, const In& nz_idx, const In& nz_val) {
        by_float(X, "X", [&](auto t) {
            using T = decltype(t);
            const i64 n = dim(X, 0), d = dim(X, 1), k = dim(C, 0), slots = dim(sums_part, 0);
            const bool with = dim(sums_part, 1) > 0, all_lower = dim(lower, 1) > 0;
            Bounds<T> a{};
            a.w = in<double>(w, "w", {n});
            a.C = in<T>(C, "C", {k, d});
            a.c_sq = in<T>(c_sq, "c_sq", {k});
            a.k = k;
            a.x_sq = in<T>(x_sq, "x_sq", {n});
            a.err = err;
            a.rel = rel;
            a.labels = out<i32>(labels, "labels", {n});
            a.upper = out<double>(upper, "upper", {n});
            a.lower = out<T>(lower, "lower", {n, all_lower ? k : 0});
            a.all_lower = all_lower;
            a.glow = out<double>(glow, "glow", {n});
            a.sums_part = out<double>(sums_part, "sums_part", {slots, with ? k : 0, with ? d : 0});
            a.n_slot = slots;
            a.with_sums = with;
            if (k < 1) throw nb::value_error("C must hold at least one centre");
            fns<T>().init_bounds(dense_nz<T>(X, nz_ptr, nz_idx, nz_val), a);
        });
    }, nogil);

    m.def("hamerly_assign", [](const In& X, const In& C, const In& c_sq, const In& x_sq, const In& half_sep,
                               const In& cum, double cum_max, double err, double rel, const Out& labels,
                               const Out& upper, const Out& glow, double max_open, const In& nz_ptr,
                               const In& nz_idx, const In& nz_val) {
        return by_float(X, "X", [&](auto t) {
            using T = decltype(t);
            const i64 n = dim(X, 0), d = dim(X, 1);
            Bounds<T> a = step_args<T>(C, c_sq, x_sq, half_sep, cum, err, rel, labels, upper, n, d);
            a.cum_max = cum_max;
            a.glow = out<double>(glow, "glow", {n});
            a.max_open = max_open;
            return fns<T>().hamerly_assign(dense_nz<T>(X, nz_ptr, nz_idx, nz_val), a);
        });
    }, nogil);

    m.def("elkan_assign", [](const In& X, const In& C, const In& c_sq, const In& x_sq, const In& half_sep,
                             const In& half_cc, const In& cum, double err, double rel, const Out& labels,
                             const Out& upper, const Out& lower, const In& Q, double scale, const In& q_sq,
                             const In& q_err, double max_open, const In& nz_ptr, const In& nz_idx,
                             const In& nz_val) {
        return by_float(X, "X", [&](auto t) {
            using T = decltype(t);
            const i64 n = dim(X, 0), d = dim(X, 1), k = dim(C, 0);
            Bounds<T> a = step_args<T>(C, c_sq, x_sq, half_sep, cum, err, rel, labels, upper, n, d);
            a.half_cc = in<double>(half_cc, "half_cc", {k, k});
            a.lower = out<T>(lower, "lower", {n, k});
            if (dim(Q, 0) > 0) {
                a.Q = in<std::uint8_t>(Q, "Q", {n, d});
                a.scale = scale;
                a.q_sq = in<double>(q_sq, "q_sq", {n});
                a.q_err = in<double>(q_err, "q_err", {n});
            }
            a.max_open = max_open;
            return fns<T>().elkan_assign(dense_nz<T>(X, nz_ptr, nz_idx, nz_val), a);
        });
    }, nogil);

    m.def("half_center_distances", [](const In& C, const Out& o) {
        const i64 k = dim(C, 0), d = dim(C, 1);
        current.load()->half_center_distances(in<double>(C, "C", {k, d}), k, d, out<double>(o, "out", {k, k}));
    }, nogil);

    m.def("move_rows", [](const In& X, const In& w, const In& rows, const In& old, const In& new_, const Out& sums,
                          const In& nz_ptr, const In& nz_idx, const In& nz_val) {
        by_float(X, "X", [&](auto t) {
            using T = decltype(t);
            const i64 n = dim(X, 0), d = dim(X, 1), m = dim(rows, 0), k = dim(sums, 0);
            const i64 *r = in<i64>(rows, "rows", {m}), *o = in<i64>(old, "old", {m}), *nw = in<i64>(new_, "new", {m});
            check_index(r, m, n, "rows");
            check_index(o, m, k, "old");
            check_index(nw, m, k, "new");
            fns<T>().move_rows(dense_nz<T>(X, nz_ptr, nz_idx, nz_val), in<double>(w, "w", {n}), r, o, nw, m,
                               out<double>(sums, "sums", {k, d}));
        });
    }, nogil);
}

}  // namespace
void bind_family(nb::module_& m);  // family.cpp
const Table* table_now() { return current.load(); }
}  // namespace kml

NB_MODULE(_core, m) {
    using namespace kml;
    const char* env = std::getenv("KMEANSLAB_CPU");
    current = (env && *env) ? pick(env, "KMEANSLAB_CPU") : best();
    m.doc() = "kmeanslab's compiled kernels (C++17, OpenMP), chosen at import for this CPU.";
    m.attr("SUB") = SUB;
    m.attr("N_BUCKETS") = N_BUCKETS;
    m.attr("SPARSE_DEN") = SPARSE_DEN;
    m.attr("SPARSE_MIN_D") = SPARSE_MIN_D;
    m.def("cpu_level", [] { return std::string(current.load()->level); },
          "The CPU level whose kernels run: 'baseline', 'avx2' or 'avx512'.");
    m.def("cpu_levels", &usable, "The levels this build has and this CPU can run, lowest first.");
    m.def("set_cpu_level", [](const std::string& name) { current = pick(name, "level"); },
          "Run the kernels of another level from now on (for tests; KMEANSLAB_CPU does it at import).");
    m.def("max_threads", [] {
#ifdef _OPENMP
        return omp_get_max_threads();
#else
        return 1;
#endif
    }, "Threads the next kernel may use (OMP_NUM_THREADS, threadpoolctl's 'openmp' limit).");
    bind_dense(m);
    bind_sparse(m);
    bind_bounds(m);
    bind_family(m);
}
