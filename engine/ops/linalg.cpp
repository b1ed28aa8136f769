#include "engine/ops/linalg.h"

#include <climits>

#include "engine/cuda_check.h"
#include "engine/ops/op_utils.h"
#include "kernels/basic.h"
#include "kernels/gemm.h"

namespace wsvis::ops {

namespace detail {

namespace {

template <typename T>
void gemm_cpu(bool trans_a, bool trans_b, int64_t batch, int64_t M, int64_t N, int64_t K,
              const T* a, const T* b, T beta, T* out) {
  for (int64_t i = 0; i < batch; ++i)
    kernels::cpu::gemm<T>(trans_a, trans_b, M, N, K, T(1), a + i * M * K, b + i * K * N, beta,
                          out + i * M * N);
}

#if WSVIS_WITH_CUDA
int cublas_int(int64_t v, const char* what) {
  WSVIS_CHECK(v >= 0 && v <= INT_MAX, "gemm: ", what, " = ", v, " does not fit a cuBLAS int");
  return static_cast<int>(v);
}

// Row-major C (M, N) = op(A) op(B) is column-major C^T (N, M) = op(B)^T op(A)^T: cuBLAS gets
// the operands swapped, each with its own transpose flag, and every leading dimension is the
// stored row width of the row-major matrix.
void gemm_cuda(Context& ctx, bool trans_a, bool trans_b, int64_t batch, int64_t M, int64_t N,
               int64_t K, const float* a, const float* b, float beta, float* out) {
  const int m = cublas_int(M, "M"), n = cublas_int(N, "N"), k = cublas_int(K, "K");
  const int lda = trans_a ? m : k, ldb = trans_b ? k : n;
  const cublasOperation_t op_a = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t op_b = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  const float alpha = 1.0f;
  DeviceGuard guard(ctx);
  cublasHandle_t handle = ctx.cublas();
  if (batch == 1) {
    CUBLAS_CHECK(cublasSgemm(handle, op_b, op_a, n, m, k, &alpha, b, ldb, a, lda, &beta, out, n));
  } else {
    CUBLAS_CHECK(cublasSgemmStridedBatched(handle, op_b, op_a, n, m, k, &alpha, b, ldb,
                                           K * N, a, lda, M * K, &beta, out, n, M * N,
                                           cublas_int(batch, "batch")));
  }
}
#endif

}  // namespace

void gemm_into(bool trans_a, bool trans_b, int64_t batch, int64_t M, int64_t N, int64_t K,
               const Tensor& a, const Tensor& b, double beta, Tensor& out) {
  if (batch == 0 || M == 0 || N == 0) return;
  if (K == 0) {
    // An empty inner dimension: the product is zero; BLAS libraries reject the zero leading
    // dimensions it would be given.
    if (beta == 0.0) out.fill_(0.0);
    return;
  }
  if (on_cpu(out)) {
    WSVIS_DISPATCH_FLOATING(out.dtype(), "gemm", [&] {
      gemm_cpu<scalar_t>(trans_a, trans_b, batch, M, N, K, a.data<scalar_t>(),
                         b.data<scalar_t>(), static_cast<scalar_t>(beta),
                         out.data<scalar_t>());
    });
    return;
  }
#if WSVIS_WITH_CUDA
  gemm_cuda(out.context(), trans_a, trans_b, batch, M, N, K, a.data<float>(), b.data<float>(),
            static_cast<float>(beta), out.data<float>());
#else
  WSVIS_FAIL("gemm: ", out.describe(), " but wsvis was built without CUDA");
#endif
}

}  // namespace detail

namespace {

// (Helpers outside the dispatch lambdas: an OpenMP pragma cannot sit in a macro argument.)
template <typename T>
void add_row_bias_cpu(T* out, const T* bias, int64_t rows, int64_t cols) {
#pragma omp parallel for if (rows * cols > (1 << 16))
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) out[r * cols + c] += bias[c];
}

template <typename T>
void sum_rows_cpu(const T* g, T* out, int64_t rows, int64_t cols) {
#pragma omp parallel for if (rows * cols > (1 << 16))
  for (int64_t c = 0; c < cols; ++c) {
    T acc = 0;
    for (int64_t r = 0; r < rows; ++r) acc += g[r * cols + c];
    out[c] = acc;
  }
}

// out (rows, cols) += bias (cols) broadcast over rows.
void add_row_bias(Tensor& out, const Tensor& bias) {
  const int64_t rows = out.size(0), cols = out.size(1);
  if (rows == 0 || cols == 0) return;
  if (detail::on_cpu(out)) {
    WSVIS_DISPATCH_FLOATING(out.dtype(), "linear", [&] {
      add_row_bias_cpu<scalar_t>(out.data<scalar_t>(), bias.data<scalar_t>(), rows, cols);
    });
    return;
  }
#if WSVIS_WITH_CUDA
  // out (rows, cols) row-major is column-major (cols, rows): a rank-1 update bias * ones^T.
  Context& ctx = out.context();
  const Tensor ones = Tensor::ones({rows}, DType::f32, out.context_ptr());
  const float alpha = 1.0f;
  DeviceGuard guard(ctx);
  CUBLAS_CHECK(cublasSger(ctx.cublas(), static_cast<int>(cols), static_cast<int>(rows), &alpha,
                          bias.data<float>(), 1, ones.data<float>(), 1, out.data<float>(),
                          static_cast<int>(cols)));
#endif
}

// (rows, cols) -> (cols): the sum over rows (the bias gradient of linear).
Tensor sum_rows(const Tensor& g) {
  const int64_t rows = g.size(0), cols = g.size(1);
  Tensor out = Tensor::zeros({cols}, g.dtype(), g.context_ptr());
  if (rows == 0 || cols == 0) return out;
  if (detail::on_cpu(g)) {
    WSVIS_DISPATCH_FLOATING(g.dtype(), "linear backward", [&] {
      sum_rows_cpu<scalar_t>(g.data<scalar_t>(), out.data<scalar_t>(), rows, cols);
    });
    return out;
  }
#if WSVIS_WITH_CUDA
  // Column-major g is (cols, rows): out = g * ones(rows).
  Context& ctx = g.context();
  const Tensor ones = Tensor::ones({rows}, DType::f32, g.context_ptr());
  const float alpha = 1.0f, beta = 0.0f;
  DeviceGuard guard(ctx);
  CUBLAS_CHECK(cublasSgemv(ctx.cublas(), CUBLAS_OP_N, static_cast<int>(cols),
                           static_cast<int>(rows), &alpha, g.data<float>(),
                           static_cast<int>(cols), ones.data<float>(), 1, &beta,
                           out.data<float>(), 1));
#endif
  return out;
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
  constexpr const char* op = "matmul";
  detail::check_defined(a, op, "a");
  detail::check_defined(b, op, "b");
  detail::check_same_context(op, {&a, &b});
  detail::check_floating(a, op, "a");
  detail::check_floating(b, op, "b");
  detail::check_same_dtype(op, a, b);
  WSVIS_CHECK(a.dim() == 2 || a.dim() == 3, op, ": a must be (M, K) or (B, M, K), got shape ",
              a.shape_str());
  WSVIS_CHECK(b.dim() == a.dim(), op, ": a ", a.shape_str(), " and b ", b.shape_str(),
              " must have the same rank ((M, K) x (K, N) or (B, M, K) x (B, K, N))");
  const bool batched = a.dim() == 3;
  const int64_t batch = batched ? a.size(0) : 1;
  WSVIS_CHECK(!batched || b.size(0) == batch, op, ": batch sizes differ: a ", a.shape_str(),
              " and b ", b.shape_str());
  const int64_t M = a.size(-2), K = a.size(-1), N = b.size(-1);
  WSVIS_CHECK(b.size(-2) == K, op, ": inner dimensions differ: a ", a.shape_str(), " and b ",
              b.shape_str(), " (a's last dimension must equal b's second to last)");

  Tensor out = Tensor::empty(batched ? Shape{batch, M, N} : Shape{M, N}, a.dtype(),
                             a.context_ptr());
  detail::gemm_into(false, false, batch, M, N, K, a, b, 0.0, out);

  if (autograd::needs_record({&a, &b})) {
    // Capture only what backward reads: b for grad_a, a for grad_b.
    const Tensor saved_a = b.requires_grad() ? a : Tensor();
    const Tensor saved_b = a.requires_grad() ? b : Tensor();
    autograd::record(out, "matmul", {a, b},
                     [a = saved_a, b = saved_b, a_shape = a.shape(), b_shape = b.shape(), batch,
                      M, N, K](const Tensor& g, const std::vector<bool>& needs) {
                       std::vector<Tensor> grads(2);
                       if (needs[0]) {  // grad_a (M, K) = g (M, N) * b^T
                         grads[0] = Tensor::empty(a_shape, g.dtype(), g.context_ptr());
                         detail::gemm_into(false, true, batch, M, K, N, g, b, 0.0, grads[0]);
                       }
                       if (needs[1]) {  // grad_b (K, N) = a^T * g (M, N)
                         grads[1] = Tensor::empty(b_shape, g.dtype(), g.context_ptr());
                         detail::gemm_into(true, false, batch, K, N, M, a, g, 0.0, grads[1]);
                       }
                       return grads;
                     });
  }
  return out;
}

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  constexpr const char* op = "linear";
  detail::check_defined(x, op, "x");
  detail::check_defined(weight, op, "weight");
  detail::check_same_context(op, {&x, &weight, &bias});
  detail::check_floating(x, op, "x");
  detail::check_floating(weight, op, "weight");
  detail::check_same_dtype(op, x, weight);
  detail::check_dim(x, 2, op, "x", "(N, in)");
  detail::check_dim(weight, 2, op, "weight", "(out, in)");
  WSVIS_CHECK(x.size(1) == weight.size(1), op, ": x ", x.shape_str(), " has ", x.size(1),
              " features but weight ", weight.shape_str(), " expects ", weight.size(1),
              " (weight is (out, in))");
  const bool has_bias = bias.defined();
  if (has_bias) {
    detail::check_same_dtype(op, x, bias);
    WSVIS_CHECK(bias.dim() == 1 && bias.size(0) == weight.size(0), op, ": bias must be (",
                weight.size(0), ") for weight ", weight.shape_str(), ", got ", bias.shape_str());
  }
  const int64_t N = x.size(0), in = x.size(1), out_features = weight.size(0);

  Tensor out = Tensor::empty({N, out_features}, x.dtype(), x.context_ptr());
  detail::gemm_into(false, true, 1, N, out_features, in, x, weight, 0.0, out);
  if (has_bias) add_row_bias(out, bias);

  if (autograd::needs_record({&x, &weight, &bias})) {
    // Capture only what backward reads: the weight for grad_x, the input for grad_weight.
    const Tensor saved_x = weight.requires_grad() ? x : Tensor();
    const Tensor saved_w = x.requires_grad() ? weight : Tensor();
    autograd::record(out, "linear", {x, weight, has_bias ? bias : Tensor()},
                     [x = saved_x, weight = saved_w, N, in, out_features](
                         const Tensor& g, const std::vector<bool>& needs) {
                       std::vector<Tensor> grads(3);
                       if (needs[0]) {  // grad_x (N, in) = g (N, out) * weight (out, in)
                         grads[0] = Tensor::empty({N, in}, g.dtype(), g.context_ptr());
                         detail::gemm_into(false, false, 1, N, in, out_features, g, weight, 0.0,
                                           grads[0]);
                       }
                       if (needs[1]) {  // grad_weight (out, in) = g^T * x
                         grads[1] = Tensor::empty({out_features, in}, g.dtype(),
                                                  g.context_ptr());
                         detail::gemm_into(true, false, 1, out_features, in, N, g, x, 0.0,
                                           grads[1]);
                       }
                       if (needs[2]) grads[2] = sum_rows(g);
                       return grads;
                     });
  }
  return out;
}

}  // namespace wsvis::ops
