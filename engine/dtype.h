// Element types a Tensor can hold. f64 exists for gradient checks on the CPU.
#pragma once

#include <cstddef>
#include <cstdint>

#include "engine/error.h"

namespace wsvis {

enum class DType : uint8_t { f32, f64, i32, i64, u8 };

inline size_t dtype_size(DType t) {
  switch (t) {
    case DType::f32: return 4;
    case DType::f64: return 8;
    case DType::i32: return 4;
    case DType::i64: return 8;
    case DType::u8: return 1;
  }
  return 0;
}

inline const char* dtype_name(DType t) {
  switch (t) {
    case DType::f32: return "f32";
    case DType::f64: return "f64";
    case DType::i32: return "i32";
    case DType::i64: return "i64";
    case DType::u8: return "u8";
  }
  return "?";
}

inline bool is_floating(DType t) { return t == DType::f32 || t == DType::f64; }

template <typename T> struct dtype_of;
template <> struct dtype_of<float> { static constexpr DType value = DType::f32; };
template <> struct dtype_of<double> { static constexpr DType value = DType::f64; };
template <> struct dtype_of<int32_t> { static constexpr DType value = DType::i32; };
template <> struct dtype_of<int64_t> { static constexpr DType value = DType::i64; };
template <> struct dtype_of<uint8_t> { static constexpr DType value = DType::u8; };

}  // namespace wsvis

// Runs the body with `scalar_t` bound to float or double according to a floating dtype.
#define WSVIS_DISPATCH_FLOATING(dtype, op_name, ...)                                      \
  [&] {                                                                                   \
    switch (dtype) {                                                                      \
      case ::wsvis::DType::f32: { using scalar_t = float; return __VA_ARGS__(); }         \
      case ::wsvis::DType::f64: { using scalar_t = double; return __VA_ARGS__(); }        \
      default:                                                                            \
        WSVIS_FAIL(op_name, ": expected a floating dtype (f32 or f64), got ",            \
                   ::wsvis::dtype_name(dtype));                                           \
    }                                                                                     \
  }()

// Same for every dtype (copies, fills, gathers).
#define WSVIS_DISPATCH_ALL(dtype, op_name, ...)                                           \
  [&] {                                                                                   \
    switch (dtype) {                                                                      \
      case ::wsvis::DType::f32: { using scalar_t = float; return __VA_ARGS__(); }         \
      case ::wsvis::DType::f64: { using scalar_t = double; return __VA_ARGS__(); }        \
      case ::wsvis::DType::i32: { using scalar_t = int32_t; return __VA_ARGS__(); }       \
      case ::wsvis::DType::i64: { using scalar_t = int64_t; return __VA_ARGS__(); }       \
      case ::wsvis::DType::u8: { using scalar_t = uint8_t; return __VA_ARGS__(); }        \
    }                                                                                     \
    WSVIS_FAIL(op_name, ": unknown dtype");                                               \
  }()
