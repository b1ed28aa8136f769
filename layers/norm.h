// Normalisation layers over engine/ops/norm.h.
//
// BatchNorm2d     torch.nn.BatchNorm2d: parameters weight (1), bias (0); buffers running_mean (0),
//                 running_var (1), num_batches_tracked (i64 0-d, kept on the CPU: see below).
//                 fixed_statistics = true gives irn's FixedBatchNorm: always the running
//                 statistics (never updated), weight and bias still trained.
// FrozenBatchNorm2d  detectron2's: buffers weight (1), bias (0), running_mean (0),
//                 running_var (1 - eps, as detectron2 initialises it); nothing is trained and the
//                 statistics never change; gradient flows to the input only.
// GroupNorm       torch.nn.GroupNorm: parameters weight (1), bias (0).
#pragma once

#include "layers/module.h"

namespace wsvis::layers {

struct BatchNorm2dOptions {
  int num_features = 0;
  double eps = 1e-5;
  double momentum = 0.1;
  bool fixed_statistics = false;
};

class BatchNorm2d : public Layer {
 public:
  BatchNorm2d(const BatchNorm2dOptions& options, const ContextPtr& ctx, DType dtype = DType::f32);
  // x: (N, C, H, W) or (N, C). In training mode (and not fixed_statistics) normalises with the
  // batch statistics, updates running_mean / running_var in place (momentum) and increments
  // num_batches_tracked; otherwise normalises with the running statistics.
  Tensor forward(const Tensor& x) override;

  const BatchNorm2dOptions& options() const { return options_; }
  const Tensor& weight() const { return parameter_at(0); }
  const Tensor& bias() const { return parameter_at(1); }
  const Tensor& running_mean() const { return buffer_at(0); }
  const Tensor& running_var() const { return buffer_at(1); }
  // A host-resident counter (torch keeps it beside the statistics; only momentum = None reads
  // it, which we do not support): incrementing it on the CPU costs the GPU step nothing.
  const Tensor& num_batches_tracked() const { return buffer_at(2); }

 private:
  BatchNorm2dOptions options_;
};

class FrozenBatchNorm2d : public Layer {
 public:
  FrozenBatchNorm2d(int num_features, const ContextPtr& ctx, DType dtype = DType::f32,
                    double eps = 1e-5);
  // x: (N, C, H, W) or (N, C) -> x * scale + shift, the same in train and eval mode.
  Tensor forward(const Tensor& x) override;

  double eps() const { return eps_; }
  const Tensor& weight() const { return buffer_at(0); }
  const Tensor& bias() const { return buffer_at(1); }
  const Tensor& running_mean() const { return buffer_at(2); }
  const Tensor& running_var() const { return buffer_at(3); }

 private:
  double eps_;
};

class GroupNorm : public Layer {
 public:
  GroupNorm(int num_groups, int num_channels, const ContextPtr& ctx, DType dtype = DType::f32,
            double eps = 1e-5);
  // x: (N, C, H, W) or (N, C), C divisible by num_groups.
  Tensor forward(const Tensor& x) override;

  int num_groups() const { return num_groups_; }
  const Tensor& weight() const { return parameter_at(0); }
  const Tensor& bias() const { return parameter_at(1); }

 private:
  int num_groups_;
  double eps_;
};

}  // namespace wsvis::layers
