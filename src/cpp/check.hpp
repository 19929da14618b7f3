// Argument checks of the bindings: dtype, shape and C-contiguity of every array, before
// a kernel sees its pointer; errors name the argument (TypeError / ValueError).
#pragma once
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>

#include <cstdint>
#include <initializer_list>
#include <string>

#include "api.hpp"

namespace kml {
namespace nb = nanobind;
using In = nb::ndarray<nb::ro, nb::device::cpu>;  // read by the kernel
using Out = nb::ndarray<nb::device::cpu>;        // written by the kernel (must be writable)
constexpr i64 ANY = -1;

template <class T> const char* type_name();
template <> inline const char* type_name<float>() { return "float32"; }
template <> inline const char* type_name<double>() { return "float64"; }
template <> inline const char* type_name<i32>() { return "int32"; }
template <> inline const char* type_name<i64>() { return "int64"; }
template <> inline const char* type_name<std::uint8_t>() { return "uint8"; }
template <> inline const char* type_name<std::uint32_t>() { return "uint32"; }
template <> inline const char* type_name<std::uint64_t>() { return "uint64"; }

template <class T, class A> T* checked(const A& a, const char* name, std::initializer_list<i64> shape) {
    if (a.dtype() != nb::dtype<T>())
        throw nb::type_error((std::string(name) + " must be a " + type_name<T>() + " array").c_str());
    if (a.ndim() != shape.size())
        throw nb::value_error((std::string(name) + " must have " + std::to_string(shape.size()) +
                               " dimension(s), got " + std::to_string(a.ndim())).c_str());
    size_t axis = 0;
    for (i64 want : shape) {
        if (want != ANY && i64(a.shape(axis)) != want)
            throw nb::value_error((std::string(name) + " has " + std::to_string(a.shape(axis)) + " entries along axis " +
                                   std::to_string(axis) + ", expected " + std::to_string(want)).c_str());
        ++axis;
    }
    i64 stride = 1;
    for (size_t q = a.ndim(); a.size() > 0 && q-- > 0;) {
        if (a.shape(q) > 1 && a.stride(q) != stride)
            throw nb::value_error((std::string(name) + " must be C-contiguous").c_str());
        stride *= i64(a.shape(q));
    }
    return static_cast<T*>(const_cast<void*>(static_cast<const void*>(a.data())));
}

template <class T> const T* in(const In& a, const char* name, std::initializer_list<i64> shape) {
    return checked<T>(a, name, shape);
}
template <class T> T* out(const Out& a, const char* name, std::initializer_list<i64> shape) {
    return checked<T>(a, name, shape);
}

// Every entry of an index array lies in [0, hi).
template <class I> void check_index(const I* v, i64 n, i64 hi, const char* name) {
    for (i64 i = 0; i < n; ++i)
        if (i64(v[i]) < 0 || i64(v[i]) >= hi)
            throw nb::value_error((std::string(name) + " holds " + std::to_string(i64(v[i])) + " at position " +
                                   std::to_string(i) + ", outside [0, " + std::to_string(hi) + ")").c_str());
}

template <class A> i64 dim(const A& a, size_t axis) { return axis < a.ndim() ? i64(a.shape(axis)) : 0; }

// f(T{}) with T the floating type of X (float32 or float64).
template <class F> auto by_float(const In& X, const char* name, F&& f) {
    if (X.dtype() == nb::dtype<float>()) return f(float{});
    if (X.dtype() == nb::dtype<double>()) return f(double{});
    throw nb::type_error((std::string(name) + " must be a float32 or float64 array").c_str());
}

// f(T{}, I{}) for CSR data of type T and indices / indptr of type I (int32 or int64).
template <class F> auto by_csr(const In& data, const In& indptr, F&& f) {
    return by_float(data, "data", [&](auto t) {
        if (indptr.dtype() == nb::dtype<i32>()) return f(t, i32{});
        if (indptr.dtype() == nb::dtype<i64>()) return f(t, i64{});
        throw nb::type_error("indptr must be an int32 or int64 array");
    });
}

// A CSR (or CSC) matrix of n rows and d columns, its arrays checked.
template <class T, class I> Csr<T, I> csr(const In& data, const In* indices, const In& indptr, i64 d) {
    const i64 n = dim(indptr, 0) - 1;
    if (n < 0) throw nb::value_error("indptr must hold at least one entry");
    Csr<T, I> X{in<T>(data, "data", {ANY}), nullptr, in<I>(indptr, "indptr", {n + 1}), n, d};
    if (indices) X.indices = in<I>(*indices, "indices", {dim(data, 0)});
    if (i64(X.indptr[0]) < 0 || i64(X.indptr[n]) > dim(data, 0))
        throw nb::value_error("indptr points outside data");
    for (i64 i = 0; i < n; ++i)
        if (X.indptr[i] > X.indptr[i + 1]) throw nb::value_error("indptr must be non-decreasing");
    return X;
}

}  // namespace kml
