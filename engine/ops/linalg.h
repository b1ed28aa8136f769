// Matrix products: matmul and linear (torch.matmul for 2-D / 3-D operands, torch.nn.functional.linear).
// CPU: OpenBLAS (kernels/gemm.h), f32 and f64. CUDA: cuBLAS through the context's handle,
// f32, with TF32 tensor-core math when ctx.tf32() (the default, as PyTorch's convolutions).
// Backward: GEMMs with the saved operands; the gradients are new tensors (autograd adds them
// into the leaves' .grad).
#pragma once

#include "engine/tensor.h"

namespace wsvis::ops {

// a: (M, K), b: (K, N) -> (M, N); or batched a: (B, M, K), b: (B, K, N) -> (B, M, N).
// Both operands have the same rank and dtype; no broadcasting of the batch dimension.
// Empty M, N or B give an empty result; K == 0 gives zeros (as torch.matmul).
Tensor matmul(const Tensor& a, const Tensor& b);

// x: (N, in), weight: (out, in) as torch.nn.Linear stores it, bias: (out) or an undefined
// Tensor() -> (N, out) = x * weight^T + bias. N may be 0.
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias);

namespace detail {
// out (B, M, N) = op(a) * op(b) (+ beta * out) on raw tensors of one context and dtype, batch
// by batch: a holds B matrices (M, K) (stored (K, M) when trans_a), b holds B matrices (K, N)
// (stored (N, K) when trans_b). Shared by matmul, linear and the benchmarks.
void gemm_into(bool trans_a, bool trans_b, int64_t batch, int64_t M, int64_t N, int64_t K,
               const Tensor& a, const Tensor& b, double beta, Tensor& out);
}  // namespace detail

}  // namespace wsvis::ops
