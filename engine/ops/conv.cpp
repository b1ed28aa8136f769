#include "engine/ops/conv.h"

#include <algorithm>
#include <vector>

#include "engine/ops/op_utils.h"
#include "kernels/gemm.h"
#include "kernels/im2col.h"

namespace wsvis::ops {

namespace detail {

namespace {

// Sizes of one conv pass in forward-conv terms (see conv.h), for one image and one group.
struct ConvShape {
  int64_t N, C, H, W;  // input
  int64_t K, P, Q;     // output channels and plane
  int64_t groups, Cg, Kg;
  kernels::Im2colGeometry geom;  // one group's channels of one image
  bool pointwise;                // 1x1, stride 1, no padding: the image is its own im2col

  int64_t col_rows() const { return geom.col_rows(); }  // Cg * kh * kw
  int64_t plane() const { return P * Q; }
};

ConvShape conv_shape(const Tensor& x, const Tensor& w, const Tensor& y, const ConvParams& p) {
  ConvShape s{};
  s.N = x.size(0), s.C = x.size(1), s.H = x.size(2), s.W = x.size(3);
  s.K = y.size(1), s.P = y.size(2), s.Q = y.size(3);
  s.groups = p.groups, s.Cg = s.C / p.groups, s.Kg = s.K / p.groups;
  s.geom.channels = s.Cg, s.geom.height = s.H, s.geom.width = s.W;
  s.geom.out_h = s.P, s.geom.out_w = s.Q;
  s.geom.kernel_h = static_cast<int>(w.size(2)), s.geom.kernel_w = static_cast<int>(w.size(3));
  s.geom.pad_h = p.padding.h, s.geom.pad_w = p.padding.w;
  s.geom.stride_h = p.stride.h, s.geom.stride_w = p.stride.w;
  s.geom.dilation_h = p.dilation.h, s.geom.dilation_w = p.dilation.w;
  s.pointwise = s.geom.kernel_h == 1 && s.geom.kernel_w == 1 && p.stride.h == 1 &&
                p.stride.w == 1 && p.padding.h == 0 && p.padding.w == 0;
  return s;
}

// The CPU passes run one GEMM per group over a chunk of images at once: the columns of nc
// images side by side form a (Cg*kh*kw, nc*PQ) matrix. With small planes (a 16x16 input gives
// layer4 of a ResNet a 1x1 plane) one GEMM per image has an inner dimension of a few columns
// and re-reads the whole weight matrix per image; chunking makes that dimension at least
// kMinGemmColumns wide. A chunk's scratch stays within kChunkScratchBytes.
constexpr int64_t kMinGemmColumns = 1024;
constexpr int64_t kChunkScratchBytes = int64_t(32) << 20;

template <typename T>
int64_t images_per_chunk(const ConvShape& s) {
  const int64_t plane = std::max<int64_t>(s.plane(), 1);
  int64_t nc = (kMinGemmColumns + plane - 1) / plane;
  const int64_t per_image = (s.col_rows() + s.Kg) * plane * int64_t(sizeof(T));
  nc = std::min(nc, std::max<int64_t>(1, kChunkScratchBytes / std::max<int64_t>(per_image, 1)));
  return std::max<int64_t>(1, std::min(nc, s.N));
}

// Columns of group g of images [n0, n0 + nc) into cols (CR, nc*PQ): image i fills columns
// [i*PQ, (i+1)*PQ). `scratch` holds one image's (CR, PQ) columns.
template <typename T>
void gather_columns(const ConvShape& s, const T* x, int64_t g, int64_t n0, int64_t nc, T* cols,
                    T* scratch) {
  const int64_t PQ = s.plane(), CR = s.col_rows(), ld = nc * PQ;
  for (int64_t i = 0; i < nc; ++i) {
    const T* x_g = x + ((n0 + i) * s.C + g * s.Cg) * s.H * s.W;
    const T* image_cols = x_g;  // pointwise: the image is its own (Cg, PQ) column matrix
    if (!s.pointwise) {
      kernels::cpu::im2col(x_g, s.geom, scratch);
      image_cols = scratch;
    }
    for (int64_t r = 0; r < CR; ++r)
      std::copy(image_cols + r * PQ, image_cols + (r + 1) * PQ, cols + r * ld + i * PQ);
  }
}

// Rows [g*Kg, (g+1)*Kg) of images [n0, n0 + nc) of t (N, K, PQ) <-> m (Kg, nc*PQ).
template <typename T>
void gather_rows(const ConvShape& s, const T* t, int64_t g, int64_t n0, int64_t nc, T* m) {
  const int64_t PQ = s.plane(), ld = nc * PQ;
  for (int64_t i = 0; i < nc; ++i)
    for (int64_t k = 0; k < s.Kg; ++k) {
      const T* row = t + ((n0 + i) * s.K + g * s.Kg + k) * PQ;
      std::copy(row, row + PQ, m + k * ld + i * PQ);
    }
}
template <typename T>
void scatter_rows(const ConvShape& s, const T* m, int64_t g, int64_t n0, int64_t nc, T* t) {
  const int64_t PQ = s.plane(), ld = nc * PQ;
  for (int64_t i = 0; i < nc; ++i)
    for (int64_t k = 0; k < s.Kg; ++k)
      std::copy(m + k * ld + i * PQ, m + k * ld + (i + 1) * PQ,
                t + ((n0 + i) * s.K + g * s.Kg + k) * PQ);
}

// y_g (Kg, nc*PQ) = w_g (Kg, Cg*kh*kw) * columns (Cg*kh*kw, nc*PQ), per group and chunk.
template <typename T>
void forward_cpu(const ConvShape& s, const T* x, const T* w, T* y) {
  const int64_t nc_max = images_per_chunk<T>(s), CR = s.col_rows(), PQ = s.plane();
  if (nc_max == 1) {  // wide planes: one GEMM per image straight into y, no copies
    std::vector<T> columns(s.pointwise ? 0 : size_t(CR * PQ));
    for (int64_t n = 0; n < s.N; ++n)
      for (int64_t g = 0; g < s.groups; ++g) {
        const T* x_g = x + (n * s.C + g * s.Cg) * s.H * s.W;
        const T* cols = x_g;
        if (!s.pointwise) {
          kernels::cpu::im2col(x_g, s.geom, columns.data());
          cols = columns.data();
        }
        kernels::cpu::gemm<T>(false, false, s.Kg, PQ, CR, T(1), w + g * s.Kg * CR, cols, T(0),
                              y + (n * s.K + g * s.Kg) * PQ);
      }
    return;
  }
  std::vector<T> cols(size_t(CR * nc_max * PQ)), out(size_t(s.Kg * nc_max * PQ));
  std::vector<T> scratch(s.pointwise ? 0 : size_t(CR * PQ));
  for (int64_t n0 = 0; n0 < s.N; n0 += nc_max) {
    const int64_t nc = std::min(nc_max, s.N - n0);
    for (int64_t g = 0; g < s.groups; ++g) {
      gather_columns(s, x, g, n0, nc, cols.data(), scratch.data());
      kernels::cpu::gemm<T>(false, false, s.Kg, nc * PQ, CR, T(1), w + g * s.Kg * CR,
                            cols.data(), T(0), out.data());
      scatter_rows(s, out.data(), g, n0, nc, y);
    }
  }
}

// columns (Cg*kh*kw, nc*PQ) = w_g^T * gy_g (Kg, nc*PQ), then col2im per image into gx_g.
template <typename T>
void backward_data_cpu(const ConvShape& s, const T* gy, const T* w, T* gx) {
  const int64_t nc_max = images_per_chunk<T>(s), CR = s.col_rows(), PQ = s.plane();
  if (nc_max == 1) {
    std::vector<T> columns(s.pointwise ? 0 : size_t(CR * PQ));
    for (int64_t n = 0; n < s.N; ++n)
      for (int64_t g = 0; g < s.groups; ++g) {
        T* gx_g = gx + (n * s.C + g * s.Cg) * s.H * s.W;
        T* cols = s.pointwise ? gx_g : columns.data();
        kernels::cpu::gemm<T>(true, false, CR, PQ, s.Kg, T(1), w + g * s.Kg * CR,
                              gy + (n * s.K + g * s.Kg) * PQ, T(0), cols);
        if (!s.pointwise) kernels::cpu::col2im(columns.data(), s.geom, gx_g);
      }
    return;
  }
  std::vector<T> cols(size_t(CR * nc_max * PQ)), grad(size_t(s.Kg * nc_max * PQ));
  std::vector<T> image_cols(size_t(CR * PQ));
  for (int64_t n0 = 0; n0 < s.N; n0 += nc_max) {
    const int64_t nc = std::min(nc_max, s.N - n0), ld = nc * PQ;
    for (int64_t g = 0; g < s.groups; ++g) {
      gather_rows(s, gy, g, n0, nc, grad.data());
      kernels::cpu::gemm<T>(true, false, CR, ld, s.Kg, T(1), w + g * s.Kg * CR, grad.data(),
                            T(0), cols.data());
      for (int64_t i = 0; i < nc; ++i) {
        T* gx_g = gx + ((n0 + i) * s.C + g * s.Cg) * s.H * s.W;
        T* dst = s.pointwise ? gx_g : image_cols.data();
        for (int64_t r = 0; r < CR; ++r)
          std::copy(cols.data() + r * ld + i * PQ, cols.data() + r * ld + (i + 1) * PQ,
                    dst + r * PQ);
        if (!s.pointwise) kernels::cpu::col2im(image_cols.data(), s.geom, gx_g);
      }
    }
  }
}

// gw_g (Kg, Cg*kh*kw) = sum over chunks of gy_g (Kg, nc*PQ) * columns (Cg*kh*kw, nc*PQ)^T.
template <typename T>
void backward_filter_cpu(const ConvShape& s, const T* x, const T* gy, T* gw) {
  const int64_t nc_max = images_per_chunk<T>(s), CR = s.col_rows(), PQ = s.plane();
  if (nc_max == 1) {
    std::vector<T> columns(s.pointwise ? 0 : size_t(CR * PQ));
    for (int64_t g = 0; g < s.groups; ++g)
      for (int64_t n = 0; n < s.N; ++n) {
        const T* x_g = x + (n * s.C + g * s.Cg) * s.H * s.W;
        const T* cols = x_g;
        if (!s.pointwise) {
          kernels::cpu::im2col(x_g, s.geom, columns.data());
          cols = columns.data();
        }
        kernels::cpu::gemm<T>(false, true, s.Kg, CR, PQ, T(1), gy + (n * s.K + g * s.Kg) * PQ,
                              cols, n == 0 ? T(0) : T(1), gw + g * s.Kg * CR);
      }
    return;
  }
  std::vector<T> cols(size_t(CR * nc_max * PQ)), grad(size_t(s.Kg * nc_max * PQ));
  std::vector<T> scratch(s.pointwise ? 0 : size_t(CR * PQ));
  for (int64_t g = 0; g < s.groups; ++g)
    for (int64_t n0 = 0; n0 < s.N; n0 += nc_max) {
      const int64_t nc = std::min(nc_max, s.N - n0);
      gather_columns(s, x, g, n0, nc, cols.data(), scratch.data());
      gather_rows(s, gy, g, n0, nc, grad.data());
      kernels::cpu::gemm<T>(false, true, s.Kg, CR, nc * PQ, T(1), grad.data(), cols.data(),
                            n0 == 0 ? T(0) : T(1), gw + g * s.Kg * CR);
    }
}

template <typename T>
void add_bias_cpu(T* y, const T* bias, int64_t N, int64_t K, int64_t plane) {
#pragma omp parallel for if (N * K * plane > (1 << 16))
  for (int64_t nk = 0; nk < N * K; ++nk) {
    const T b = bias[nk % K];
    T* row = y + nk * plane;
    for (int64_t i = 0; i < plane; ++i) row[i] += b;
  }
}

template <typename T>
void bias_grad_cpu(const T* gy, T* gb, int64_t N, int64_t K, int64_t plane) {
#pragma omp parallel for if (N * K * plane > (1 << 16))
  for (int64_t k = 0; k < K; ++k) {
    T acc = 0;
    for (int64_t n = 0; n < N; ++n) {
      const T* row = gy + (n * K + k) * plane;
      for (int64_t i = 0; i < plane; ++i) acc += row[i];
    }
    gb[k] = acc;
  }
}

}  // namespace

void conv_forward_into(const Tensor& x, const Tensor& w, const ConvParams& p, Tensor& y) {
  if (y.numel() == 0) return;
  if (on_cpu(x)) {
    const ConvShape s = conv_shape(x, w, y, p);
    WSVIS_DISPATCH_FLOATING(x.dtype(), "conv forward", [&] {
      forward_cpu<scalar_t>(s, x.data<scalar_t>(), w.data<scalar_t>(), y.data<scalar_t>());
    });
    return;
  }
#if WSVIS_WITH_CUDA
  cudnn_conv_forward(x, w, p, y);
#endif
}

void conv_backward_data_into(const Tensor& gy, const Tensor& w, const ConvParams& p, Tensor& gx) {
  if (gx.numel() == 0) return;
  if (on_cpu(gy)) {
    const ConvShape s = conv_shape(gx, w, gy, p);
    WSVIS_DISPATCH_FLOATING(gy.dtype(), "conv backward data", [&] {
      backward_data_cpu<scalar_t>(s, gy.data<scalar_t>(), w.data<scalar_t>(),
                                  gx.data<scalar_t>());
    });
    return;
  }
#if WSVIS_WITH_CUDA
  cudnn_conv_backward_data(gy, w, p, gx);
#endif
}

void conv_backward_filter_into(const Tensor& x, const Tensor& gy, const ConvParams& p,
                               Tensor& gw) {
  if (x.size(0) == 0) {  // no images: the filter gradient is an empty sum
    gw.fill_(0.0);
    return;
  }
  if (on_cpu(x)) {
    const ConvShape s = conv_shape(x, gw, gy, p);
    WSVIS_DISPATCH_FLOATING(x.dtype(), "conv backward filter", [&] {
      backward_filter_cpu<scalar_t>(s, x.data<scalar_t>(), gy.data<scalar_t>(),
                                    gw.data<scalar_t>());
    });
    return;
  }
#if WSVIS_WITH_CUDA
  cudnn_conv_backward_filter(x, gy, p, gw);
#endif
}

void add_channel_bias(Tensor& y, const Tensor& bias) {
  if (y.numel() == 0) return;
  if (on_cpu(y)) {
    WSVIS_DISPATCH_FLOATING(y.dtype(), "conv bias", [&] {
      add_bias_cpu<scalar_t>(y.data<scalar_t>(), bias.data<scalar_t>(), y.size(0), y.size(1),
                             y.size(2) * y.size(3));
    });
    return;
  }
#if WSVIS_WITH_CUDA
  cudnn_add_channel_bias(y, bias);
#endif
}

void channel_bias_grad_into(const Tensor& gy, Tensor& gb) {
  if (gy.numel() == 0) {
    gb.fill_(0.0);
    return;
  }
  if (on_cpu(gy)) {
    WSVIS_DISPATCH_FLOATING(gy.dtype(), "conv bias backward", [&] {
      bias_grad_cpu<scalar_t>(gy.data<scalar_t>(), gb.data<scalar_t>(), gy.size(0), gy.size(1),
                              gy.size(2) * gy.size(3));
    });
    return;
  }
#if WSVIS_WITH_CUDA
  cudnn_channel_bias_grad(gy, gb);
#endif
}

}  // namespace detail

namespace {

// Checks shared by conv2d and conv_transpose2d: everything but the weight's channel layout.
void check_common(const char* op, const Tensor& x, const Tensor& weight, const Tensor& bias,
                  const detail::ConvParams& p) {
  detail::check_defined(x, op, "x");
  detail::check_defined(weight, op, "weight");
  detail::check_same_context(op, {&x, &weight, &bias});
  detail::check_floating(x, op, "x");
  detail::check_floating(weight, op, "weight");
  detail::check_same_dtype(op, x, weight);
  if (bias.defined()) detail::check_same_dtype(op, x, bias);
  detail::check_dim(x, 4, op, "x", "(N, C_in, H, W)");
  WSVIS_CHECK(weight.dim() == 4, op, ": weight must be 4-d (", 
              std::string(op) == "conv2d" ? "C_out, C_in/groups" : "C_in, C_out/groups",
              ", kh, kw), got shape ", weight.shape_str());
  detail::check_nonempty(weight, op, "weight");
  WSVIS_CHECK(x.size(1) > 0 && x.size(2) > 0 && x.size(3) > 0, op, ": x ", x.shape_str(),
              " has an empty channel or spatial dimension");
  WSVIS_CHECK(p.groups >= 1, op, ": groups must be >= 1, got ", p.groups);
  WSVIS_CHECK(p.stride.h >= 1 && p.stride.w >= 1, op, ": stride must be >= 1, got (",
              p.stride.h, ", ", p.stride.w, ")");
  WSVIS_CHECK(p.dilation.h >= 1 && p.dilation.w >= 1, op, ": dilation must be >= 1, got (",
              p.dilation.h, ", ", p.dilation.w, ")");
  WSVIS_CHECK(p.padding.h >= 0 && p.padding.w >= 0, op, ": padding must be >= 0, got (",
              p.padding.h, ", ", p.padding.w, ")");
  WSVIS_CHECK(x.size(1) % p.groups == 0, op, ": groups = ", p.groups,
              " does not divide the input channels of x ", x.shape_str());
}

void check_bias(const char* op, const Tensor& bias, int64_t out_channels) {
  if (!bias.defined()) return;
  WSVIS_CHECK(bias.dim() == 1 && bias.size(0) == out_channels, op, ": bias must be (",
              out_channels, "), got ", bias.shape_str());
}

}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias,
              const Conv2dOptions& opts) {
  constexpr const char* op = "conv2d";
  const detail::ConvParams p{opts.stride, opts.padding, opts.dilation, opts.groups};
  check_common(op, x, weight, bias, p);
  const int64_t C_out = weight.size(0);
  WSVIS_CHECK(weight.size(1) * p.groups == x.size(1), op, ": x ", x.shape_str(), " has ",
              x.size(1), " channels but weight ", weight.shape_str(), " with groups = ", p.groups,
              " expects ", weight.size(1) * p.groups);
  WSVIS_CHECK(C_out % p.groups == 0, op, ": groups = ", p.groups,
              " does not divide the output channels of weight ", weight.shape_str());
  check_bias(op, bias, C_out);
  const int kh = static_cast<int>(weight.size(2)), kw = static_cast<int>(weight.size(3));
  const int64_t H_out = kernels::conv_out_size(x.size(2), kh, p.padding.h, p.stride.h, p.dilation.h);
  const int64_t W_out = kernels::conv_out_size(x.size(3), kw, p.padding.w, p.stride.w, p.dilation.w);
  WSVIS_CHECK(H_out > 0 && W_out > 0, op, ": kernel ", weight.shape_str(), " with dilation (",
              p.dilation.h, ", ", p.dilation.w, ") does not fit input ", x.shape_str(),
              " padded by (", p.padding.h, ", ", p.padding.w, ")");

  Tensor out = Tensor::empty({x.size(0), C_out, H_out, W_out}, x.dtype(), x.context_ptr());
  detail::conv_forward_into(x, weight, p, out);
  if (bias.defined()) detail::add_channel_bias(out, bias);

  if (autograd::needs_record({&x, &weight, &bias})) {
    // Capture only what backward reads: the weight for grad_x, the input for grad_weight.
    const Tensor saved_x = weight.requires_grad() ? x : Tensor();
    const Tensor saved_w = x.requires_grad() ? weight : Tensor();
    autograd::record(out, "conv2d", {x, weight, bias.defined() ? bias : Tensor()},
                     [x_shape = x.shape(), w_shape = weight.shape(), x = saved_x,
                      weight = saved_w, p](const Tensor& g, const std::vector<bool>& needs) {
                       std::vector<Tensor> grads(3);
                       if (needs[0]) {
                         grads[0] = Tensor::empty(x_shape, g.dtype(), g.context_ptr());
                         detail::conv_backward_data_into(g, weight, p, grads[0]);
                       }
                       if (needs[1]) {
                         grads[1] = Tensor::empty(w_shape, g.dtype(), g.context_ptr());
                         detail::conv_backward_filter_into(x, g, p, grads[1]);
                       }
                       if (needs[2]) {
                         grads[2] = Tensor::empty({g.size(1)}, g.dtype(), g.context_ptr());
                         detail::channel_bias_grad_into(g, grads[2]);
                       }
                       return grads;
                     });
  }
  return out;
}

Tensor conv_transpose2d(const Tensor& x, const Tensor& weight, const Tensor& bias,
                        const ConvTranspose2dOptions& opts) {
  constexpr const char* op = "conv_transpose2d";
  const detail::ConvParams p{opts.stride, opts.padding, opts.dilation, opts.groups};
  check_common(op, x, weight, bias, p);
  WSVIS_CHECK(weight.size(0) == x.size(1), op, ": x ", x.shape_str(), " has ", x.size(1),
              " channels but weight ", weight.shape_str(), " (C_in, C_out/groups, kh, kw) has ",
              weight.size(0));
  const int64_t C_out = weight.size(1) * p.groups;
  check_bias(op, bias, C_out);
  const Size2 op_pad = opts.output_padding;
  WSVIS_CHECK(op_pad.h >= 0 && op_pad.w >= 0 &&
                  (op_pad.h < p.stride.h || op_pad.h < p.dilation.h) &&
                  (op_pad.w < p.stride.w || op_pad.w < p.dilation.w),
              op, ": output_padding (", op_pad.h, ", ", op_pad.w,
              ") must be >= 0 and smaller than the stride or the dilation");
  const int kh = static_cast<int>(weight.size(2)), kw = static_cast<int>(weight.size(3));
  const int64_t H_out = (x.size(2) - 1) * p.stride.h - 2 * int64_t(p.padding.h) +
                        int64_t(p.dilation.h) * (kh - 1) + op_pad.h + 1;
  const int64_t W_out = (x.size(3) - 1) * p.stride.w - 2 * int64_t(p.padding.w) +
                        int64_t(p.dilation.w) * (kw - 1) + op_pad.w + 1;
  WSVIS_CHECK(H_out > 0 && W_out > 0, op, ": input ", x.shape_str(), " with weight ",
              weight.shape_str(), " and padding (", p.padding.h, ", ", p.padding.w,
              ") gives an empty output (", H_out, ", ", W_out, ")");
  WSVIS_CHECK(detail::on_cpu(x) || (op_pad.h < p.stride.h && op_pad.w < p.stride.w), op,
              ": on CUDA output_padding (", op_pad.h, ", ", op_pad.w,
              ") must be smaller than the stride (", p.stride.h, ", ", p.stride.w,
              "): cuDNN derives the input size from the forward convolution formula");

  // The forward of a transposed conv is the data gradient of the conv2d that maps the
  // output (N, C_out, H_out, W_out) back to x (N, C_in, H, W) with the same weight.
  Tensor out = Tensor::empty({x.size(0), C_out, H_out, W_out}, x.dtype(), x.context_ptr());
  detail::conv_backward_data_into(x, weight, p, out);
  if (bias.defined()) detail::add_channel_bias(out, bias);

  if (autograd::needs_record({&x, &weight, &bias})) {
    const Tensor saved_x = weight.requires_grad() ? x : Tensor();
    const Tensor saved_w = x.requires_grad() ? weight : Tensor();
    autograd::record(out, "conv_transpose2d", {x, weight, bias.defined() ? bias : Tensor()},
                     [x_shape = x.shape(), w_shape = weight.shape(), x = saved_x,
                      weight = saved_w, p](const Tensor& g, const std::vector<bool>& needs) {
                       std::vector<Tensor> grads(3);
                       if (needs[0]) {  // adjoint of the adjoint: a plain conv of g
                         grads[0] = Tensor::empty(x_shape, g.dtype(), g.context_ptr());
                         detail::conv_forward_into(g, weight, p, grads[0]);
                       }
                       if (needs[1]) {  // conv2d's filter gradient with the roles swapped
                         grads[1] = Tensor::empty(w_shape, g.dtype(), g.context_ptr());
                         detail::conv_backward_filter_into(g, x, p, grads[1]);
                       }
                       if (needs[2]) {
                         grads[2] = Tensor::empty({g.size(1)}, g.dtype(), g.context_ptr());
                         detail::channel_bias_grad_into(g, grads[2]);
                       }
                       return grads;
                     });
  }
  return out;
}

}  // namespace wsvis::ops
