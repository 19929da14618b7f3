// One CPU level's kernels: compiled once per instruction set (baseline, AVX2, AVX-512),
// each copy in its own namespace KML_NS, and handed to the bindings as a table.
#include "bounds.hpp"
#include "family.hpp"

namespace KML_NS {

template <class T, class I> kml::CsrFns<kml::CsrTypes<T, I>> csr_fns() {
    return {&row_sq_norms_csr<T, I>, &lloyd_csr<T, I>,   &exact_sq_dist_csr<T, I>, &candidate_sq_dist_csr<T, I>,
            &l1_assign_csr<T, I>,    &soft_csr<T, I>,    &medians_csc<T, I>};
}

template <class T, class U> kml::Fns<T, U> fns() {
    return {&value_summary<T, U>, &byte_copy<T>,      &row_sq_norms<T>,   &column_sums<T>,
            &lloyd_dense<T>,      &exact_sq_dist<T>,  &candidate_sq_dist<T>, &potentials<T>,
            &init_bounds<T>,      &hamerly_assign<T>, &elkan_assign<T>,
            &move_rows<T>,        &l1_assign<T>,      &medians_dense<T>,  &soft_dense<T>,
            &count_nonzeros<T>,   &copy_nonzeros<T>,
            csr_fns<T, i32>(),    csr_fns<T, i64>()};
}

#if defined(__AVX512F__)
#define KML_LEVEL_NAME "avx512"
#elif defined(__AVX2__)
#define KML_LEVEL_NAME "avx2"
#else
#define KML_LEVEL_NAME "baseline"
#endif

const kml::Table* table() {
    static const kml::Table t = {KML_LEVEL_NAME, fns<float, std::uint32_t>(), fns<double, std::uint64_t>(),
                                 &half_center_distances, &draw_rows, &weighted_median};
    return &t;
}

}  // namespace KML_NS
