// Row-major GEMM on the CPU through OpenBLAS (cblas): a thin typed wrapper so callers write
// gemm<T>(...) for float and double alike. On the GPU the ops call cuBLAS directly with the
// context's handle (engine/ops/linalg.cpp), so there is no CUDA twin here.
#pragma once

#include <cstdint>

namespace wsvis::kernels::cpu {

// C = alpha * op(A) * op(B) + beta * C, all row-major. op(A) is (M, K), op(B) is (K, N),
// C is (M, N). A is stored (M, K) when !trans_a and (K, M) when trans_a; likewise B.
// lda / ldb / ldc are row strides of the stored matrices. K == 0 gives C = beta * C.
template <typename T>
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
          int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc);

// Same with densely packed matrices (lda = stored width of A, etc.).
template <typename T>
inline void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
                 const T* B, T beta, T* C) {
  gemm<T>(trans_a, trans_b, M, N, K, alpha, A, trans_a ? M : K, B, trans_b ? K : N, beta, C, N);
}

}  // namespace wsvis::kernels::cpu
