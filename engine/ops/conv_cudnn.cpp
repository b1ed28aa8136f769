// The cuDNN path of conv2d / conv_transpose2d (legacy v7-style API of cuDNN 9). Descriptors are
// created per call (cheap host objects, RAII below); the algorithm for each shape is chosen
// once with cuDNN's heuristics and remembered in the context's memo; scratch comes from the
// context's workspace, which is stream-ordered like every launch here.
#include "engine/ops/conv.h"

#if WSVIS_WITH_CUDA

#include <climits>
#include <string>
#include <vector>

#include "engine/cuda_check.h"

namespace wsvis::ops::detail {

namespace {

// Algorithms that need more scratch than this are passed over for the next best (1 GiB: a
// fraction of an H100/H200's memory, and more than cuDNN's fast algorithms ask for at
// ResNet/Mask R-CNN sizes).
constexpr size_t kMaxConvWorkspaceBytes = size_t(1) << 30;

int dim_int(int64_t v, const char* what) {
  WSVIS_CHECK(v > 0 && v <= INT_MAX, "conv (cuDNN): ", what, " = ", v, " is not a positive int");
  return static_cast<int>(v);
}

struct TensorDesc {
  cudnnTensorDescriptor_t desc = nullptr;
  TensorDesc(int64_t n, int64_t c, int64_t h, int64_t w) {
    CUDNN_CHECK(cudnnCreateTensorDescriptor(&desc));
    CUDNN_CHECK(cudnnSetTensor4dDescriptor(desc, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT,
                                           dim_int(n, "N"), dim_int(c, "C"), dim_int(h, "H"),
                                           dim_int(w, "W")));
  }
  explicit TensorDesc(const Tensor& t) : TensorDesc(t.size(0), t.size(1), t.size(2), t.size(3)) {}
  ~TensorDesc() { cudnnDestroyTensorDescriptor(desc); }
  TensorDesc(const TensorDesc&) = delete;
  TensorDesc& operator=(const TensorDesc&) = delete;
};

struct FilterDesc {
  cudnnFilterDescriptor_t desc = nullptr;
  explicit FilterDesc(const Tensor& w) {
    CUDNN_CHECK(cudnnCreateFilterDescriptor(&desc));
    CUDNN_CHECK(cudnnSetFilter4dDescriptor(desc, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW,
                                           dim_int(w.size(0), "K"), dim_int(w.size(1), "C/groups"),
                                           dim_int(w.size(2), "kh"), dim_int(w.size(3), "kw")));
  }
  ~FilterDesc() { cudnnDestroyFilterDescriptor(desc); }
  FilterDesc(const FilterDesc&) = delete;
  FilterDesc& operator=(const FilterDesc&) = delete;
};

struct ConvDesc {
  cudnnConvolutionDescriptor_t desc = nullptr;
  cudnnMathType_t math;
  ConvDesc(const ConvParams& p, bool tf32) : math(tf32 ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH) {
    CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&desc));
    CUDNN_CHECK(cudnnSetConvolution2dDescriptor(desc, p.padding.h, p.padding.w, p.stride.h,
                                                p.stride.w, p.dilation.h, p.dilation.w,
                                                CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
    CUDNN_CHECK(cudnnSetConvolutionGroupCount(desc, p.groups));
    // The math types PyTorch sets for f32 convolutions. TF32 on: CUDNN_DEFAULT_MATH, which on
    // Ampere and later permits TF32 tensor cores for f32 data. Not ALLOW_CONVERSION: that also
    // lets cuDNN convert f32 operands to f16, whose range (65504) activations and gradients
    // can exceed. TF32 off: CUDNN_FMA_MATH, the only type that rules TF32 out on Ampere+.
    CUDNN_CHECK(cudnnSetConvolutionMathType(desc, math));
  }
  ~ConvDesc() { cudnnDestroyConvolutionDescriptor(desc); }
  void set_math(cudnnMathType_t m) {
    if (m != math) CUDNN_CHECK(cudnnSetConvolutionMathType(desc, m));
    math = m;
  }
  ConvDesc(const ConvDesc&) = delete;
  ConvDesc& operator=(const ConvDesc&) = delete;
};

// Everything one conv pass needs, in forward-conv terms: x (N, C, H, W), w, y (N, K, P, Q).
struct ConvCall {
  Context& ctx;
  cudnnHandle_t handle;
  TensorDesc x, y;
  FilterDesc w;
  ConvDesc conv;
  std::string key;
  bool tf32;
  ConvCall(const Tensor& xt, const Tensor& wt, const Tensor& yt, const ConvParams& p,
           const char* direction)
      : ctx(xt.context()),
        handle(ctx.cudnn()),
        x(xt),
        y(yt),
        w(wt),
        conv(p, ctx.tf32()),
        tf32(ctx.tf32()) {
    key = wsvis::detail::concat("cudnn_conv|", direction, "|x", xt.shape_str(), "|w",
                                wt.shape_str(), "|y", yt.shape_str(), "|s", p.stride.h, ",",
                                p.stride.w, "|p", p.padding.h, ",", p.padding.w, "|d",
                                p.dilation.h, ",", p.dilation.w, "|g", p.groups, "|tf32",
                                ctx.tf32() ? 1 : 0);
  }
};

// The memo holds the algorithm and the math type to run it with, in one integer.
long long encode_choice(int algo, cudnnMathType_t math) { return algo * 16LL + int(math); }
int decoded_algo(long long choice) { return static_cast<int>(choice / 16); }
cudnnMathType_t decoded_math(long long choice) { return static_cast<cudnnMathType_t>(choice % 16); }

// The first (fastest by cuDNN's heuristics) algorithm that is supported, fits the workspace
// cap, and runs in a math type the TF32 switch allows: with TF32 off only FMA math (the
// heuristics may list tensor-op variants too); with TF32 on anything but ALLOW_CONVERSION (which
// may use f16). If no result states an allowed math type, the first supported one runs with the
// descriptor's own math type, which cuDNN then enforces.
template <typename Perf>
long long pick_algorithm(const std::vector<Perf>& perf, int returned, bool tf32,
                         cudnnMathType_t desc_math, const std::string& key) {
  int fallback = -1;
  for (int i = 0; i < returned; ++i) {
    if (perf[i].status != CUDNN_STATUS_SUCCESS || perf[i].memory > kMaxConvWorkspaceBytes)
      continue;
    const bool allowed = tf32 ? perf[i].mathType != CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION
                              : perf[i].mathType == CUDNN_FMA_MATH;
    if (allowed) return encode_choice(int(perf[i].algo), perf[i].mathType);
    if (fallback < 0) fallback = i;
  }
  if (fallback >= 0) return encode_choice(int(perf[fallback].algo), desc_math);
  WSVIS_FAIL("conv (cuDNN): no algorithm supports ", key, " within ",
             kMaxConvWorkspaceBytes >> 20, " MiB of workspace (", returned, " candidates)");
}

// The algorithm for c's shape: from the memo, or chosen now (query fills cuDNN's ranked list
// and returns how many entries it holds) and remembered. Sets the descriptor's math type to
// the chosen one and returns the algorithm as an int.
template <typename Perf, typename Query>
int choose_algorithm(ConvCall& c, Query query) {
  auto& memo = c.ctx.memo();
  auto it = memo.find(c.key);
  long long choice = 0;
  if (it != memo.end()) {
    choice = it->second;
  } else {
    std::vector<Perf> perf;
    const int returned = query(perf);
    choice = pick_algorithm(perf, returned, c.tf32, c.conv.math, c.key);
    memo[c.key] = choice;
  }
  c.conv.set_math(decoded_math(choice));
  return decoded_algo(choice);
}

cudnnConvolutionFwdAlgo_t forward_algorithm(ConvCall& c) {
  return static_cast<cudnnConvolutionFwdAlgo_t>(
      choose_algorithm<cudnnConvolutionFwdAlgoPerf_t>(c, [&](auto& perf) {
        int max_count = 0, returned = 0;
        CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithmMaxCount(c.handle, &max_count));
        perf.resize(static_cast<size_t>(max_count));
        CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(c.handle, c.x.desc, c.w.desc,
                                                           c.conv.desc, c.y.desc, max_count,
                                                           &returned, perf.data()));
        return returned;
      }));
}

cudnnConvolutionBwdDataAlgo_t backward_data_algorithm(ConvCall& c) {
  return static_cast<cudnnConvolutionBwdDataAlgo_t>(
      choose_algorithm<cudnnConvolutionBwdDataAlgoPerf_t>(c, [&](auto& perf) {
        int max_count = 0, returned = 0;
        CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithmMaxCount(c.handle, &max_count));
        perf.resize(static_cast<size_t>(max_count));
        CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithm_v7(c.handle, c.w.desc, c.y.desc,
                                                                c.conv.desc, c.x.desc, max_count,
                                                                &returned, perf.data()));
        return returned;
      }));
}

cudnnConvolutionBwdFilterAlgo_t backward_filter_algorithm(ConvCall& c) {
  return static_cast<cudnnConvolutionBwdFilterAlgo_t>(
      choose_algorithm<cudnnConvolutionBwdFilterAlgoPerf_t>(c, [&](auto& perf) {
        int max_count = 0, returned = 0;
        CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithmMaxCount(c.handle, &max_count));
        perf.resize(static_cast<size_t>(max_count));
        CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithm_v7(c.handle, c.x.desc, c.y.desc,
                                                                  c.conv.desc, c.w.desc,
                                                                  max_count, &returned,
                                                                  perf.data()));
        return returned;
      }));
}

}  // namespace

void cudnn_conv_forward(const Tensor& x, const Tensor& w, const ConvParams& p, Tensor& y) {
  DeviceGuard guard(x.context());
  ConvCall c(x, w, y, p, "fwd");
  const cudnnConvolutionFwdAlgo_t algo = forward_algorithm(c);
  size_t bytes = 0;
  CUDNN_CHECK(cudnnGetConvolutionForwardWorkspaceSize(c.handle, c.x.desc, c.w.desc, c.conv.desc,
                                                      c.y.desc, algo, &bytes));
  void* workspace = bytes ? c.ctx.workspace(bytes) : nullptr;
  const float alpha = 1.0f, beta = 0.0f;
  CUDNN_CHECK(cudnnConvolutionForward(c.handle, &alpha, c.x.desc, x.data<float>(), c.w.desc,
                                      w.data<float>(), c.conv.desc, algo, workspace, bytes, &beta,
                                      c.y.desc, y.data<float>()));
}

void cudnn_conv_backward_data(const Tensor& gy, const Tensor& w, const ConvParams& p, Tensor& gx) {
  DeviceGuard guard(gy.context());
  ConvCall c(gx, w, gy, p, "bwd_data");
  const cudnnConvolutionBwdDataAlgo_t algo = backward_data_algorithm(c);
  size_t bytes = 0;
  CUDNN_CHECK(cudnnGetConvolutionBackwardDataWorkspaceSize(c.handle, c.w.desc, c.y.desc,
                                                           c.conv.desc, c.x.desc, algo, &bytes));
  void* workspace = bytes ? c.ctx.workspace(bytes) : nullptr;
  const float alpha = 1.0f, beta = 0.0f;
  CUDNN_CHECK(cudnnConvolutionBackwardData(c.handle, &alpha, c.w.desc, w.data<float>(), c.y.desc,
                                           gy.data<float>(), c.conv.desc, algo, workspace, bytes,
                                           &beta, c.x.desc, gx.data<float>()));
}

void cudnn_conv_backward_filter(const Tensor& x, const Tensor& gy, const ConvParams& p,
                                Tensor& gw) {
  DeviceGuard guard(x.context());
  ConvCall c(x, gw, gy, p, "bwd_filter");
  const cudnnConvolutionBwdFilterAlgo_t algo = backward_filter_algorithm(c);
  size_t bytes = 0;
  CUDNN_CHECK(cudnnGetConvolutionBackwardFilterWorkspaceSize(c.handle, c.x.desc, c.y.desc,
                                                             c.conv.desc, c.w.desc, algo, &bytes));
  void* workspace = bytes ? c.ctx.workspace(bytes) : nullptr;
  const float alpha = 1.0f, beta = 0.0f;
  CUDNN_CHECK(cudnnConvolutionBackwardFilter(c.handle, &alpha, c.x.desc, x.data<float>(),
                                             c.y.desc, gy.data<float>(), c.conv.desc, algo,
                                             workspace, bytes, &beta, c.w.desc, gw.data<float>()));
}

void cudnn_add_channel_bias(Tensor& y, const Tensor& bias) {
  Context& ctx = y.context();
  DeviceGuard guard(ctx);
  TensorDesc y_desc(y), b_desc(1, bias.size(0), 1, 1);
  const float one = 1.0f;
  // y = 1 * bias (broadcast over N, H, W) + 1 * y
  CUDNN_CHECK(cudnnAddTensor(ctx.cudnn(), &one, b_desc.desc, bias.data<float>(), &one,
                             y_desc.desc, y.data<float>()));
}

void cudnn_channel_bias_grad(const Tensor& gy, Tensor& gb) {
  Context& ctx = gy.context();
  DeviceGuard guard(ctx);
  TensorDesc gy_desc(gy), gb_desc(1, gb.size(0), 1, 1);
  const float one = 1.0f, zero = 0.0f;
  CUDNN_CHECK(cudnnConvolutionBackwardBias(ctx.cudnn(), &one, gy_desc.desc, gy.data<float>(),
                                           &zero, gb_desc.desc, gb.data<float>()));
}

}  // namespace wsvis::ops::detail

#endif  // WSVIS_WITH_CUDA
