// Shared by the distributed tests: a folder every rank agrees on, a small CNN without batch
// statistics (GroupNorm only, so a rank's forward does not depend on the other ranks' samples
// and W ranks x B samples is the same computation as 1 rank x W*B), and a data-parallel
// training loop over generated shapes.
#pragma once

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "data/toy_shapes.h"
#include "engine/distributed.h"
#include "engine/error.h"
#include "engine/gradient_bucketer.h"
#include "engine/ops.h"
#include "engine/optim/sgd.h"
#include "layers/conv.h"
#include "layers/linear.h"
#include "layers/norm.h"
#include "layers/sequential.h"

namespace wsvis::testing {

// A folder every rank agrees on: rank 0 creates it and broadcasts its path.
inline std::string shared_temp_dir(dist::Communicator& comm, const ContextPtr& cpu) {
  std::vector<uint8_t> path(256, 0);
  if (comm.is_root()) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "wsvis_dist_XXXXXX").string();
    WSVIS_CHECK(mkdtemp(tmpl.data()) != nullptr, "mkdtemp failed for ", tmpl);
    WSVIS_CHECK(tmpl.size() < path.size(), "temp path too long: ", tmpl);
    std::memcpy(path.data(), tmpl.data(), tmpl.size());
  }
  Tensor t = Tensor::from_vector(path, {static_cast<int64_t>(path.size())}, cpu);
  comm.broadcast(t, 0);
  const std::vector<uint8_t> got = t.to_vector<uint8_t>();
  return std::string(reinterpret_cast<const char*>(got.data()));
}

constexpr int kShapeSize = 12;  // images (N, 1, 12, 12)

// x: (N, 1, S, S)
//   conv 3x3 1->8 pad 1 -> GroupNorm(4) -> ReLU -> max-pool 2
//   conv 3x3 8->16 pad 1 -> GroupNorm(4) -> ReLU -> global average pool -> linear 16->4
class GroupNormNet : public layers::Module {
 public:
  GroupNormNet(Generator& gen, const ContextPtr& ctx) {
    layers::Conv2dOptions c1;
    c1.in_channels = 1;
    c1.out_channels = 8;
    c1.kernel = 3;
    c1.padding = 1;
    layers::Conv2dOptions c2 = c1;
    c2.in_channels = 8;
    c2.out_channels = 16;
    features_ = register_module("features", std::make_shared<layers::Sequential>());
    features_->append(std::make_shared<layers::Conv2d>(c1, gen, ctx));
    features_->append(std::make_shared<layers::GroupNorm>(4, 8, ctx));
    features_->append(std::make_shared<layers::ReLU>());
    features_->append(std::make_shared<layers::MaxPool2d>(2, 2));
    features_->append(std::make_shared<layers::Conv2d>(c2, gen, ctx));
    features_->append(std::make_shared<layers::GroupNorm>(4, 16, ctx));
    features_->append(std::make_shared<layers::ReLU>());
    fc_ = register_module("fc", std::make_shared<layers::Linear>(16, data::kToyShapeClasses, gen, ctx));
  }
  // logits: (N, K)
  Tensor forward(const Tensor& x) {
    return fc_->forward(ops::flatten(ops::global_avg_pool2d(features_->forward(x)), 1));
  }

 private:
  std::shared_ptr<layers::Sequential> features_;
  std::shared_ptr<layers::Linear> fc_;
};

struct TrainLog {
  std::vector<double> losses;        // per step: the mean loss over the global batch
  std::vector<double> parameters;    // the flat parameter buffer after the last step
  size_t buckets = 0;                // bucket count (0 without a communicator)
  size_t launched_during_backward = 0;  // of the last step
};

// `steps` SGD steps (lr 0.1, momentum 0.9) over a global batch of `global_batch` generated
// shapes per step. With `comm`, each rank builds the model from seed init_seed + rank, takes
// rank 0's parameters by broadcast, trains on its shard_batch() slice and averages gradients
// through a GradientBucketer; without, one process trains on the whole batch from init_seed.
inline TrainLog train_data_parallel(const ContextPtr& ctx, dist::Communicator* comm, int steps,
                                    int global_batch, uint64_t init_seed, size_t bucket_bytes) {
  const int rank = comm ? comm->rank() : 0, world = comm ? comm->world_size() : 1;
  Generator data_gen(99);  // the same samples on every rank
  const data::ToyShapesBatch set = data::make_toy_shapes(steps * global_batch, kShapeSize, data_gen);
  Generator init_gen(init_seed + static_cast<uint64_t>(rank));
  GroupNormNet net(init_gen, ctx);
  net.pack_parameters();
  Tensor flat = net.flat_parameters();
  std::unique_ptr<dist::GradientBucketer> bucketer;
  if (comm) {
    comm->broadcast(flat, 0);
    bucketer = std::make_unique<dist::GradientBucketer>(net.flat_gradients(), net.parameters(),
                                                        *comm, bucket_bytes);
  }
  optim::SgdOptions o;
  o.lr = 0.1;
  o.momentum = 0.9;
  optim::SGD opt(net.parameters(), o);
  TrainLog log;
  const int64_t px = int64_t(kShapeSize) * kShapeSize;
  for (int step = 0; step < steps; ++step) {
    const dist::SampleRange r = dist::shard_batch(step, global_batch, rank, world);
    std::vector<float> img(set.images.begin() + r.begin * px,
                           set.images.begin() + (r.begin + r.count) * px);
    std::vector<int64_t> lab(set.labels.begin() + r.begin, set.labels.begin() + r.begin + r.count);
    const Tensor x = Tensor::from_vector(img, {r.count, 1, kShapeSize, kShapeSize}, ctx);
    const Tensor y = Tensor::from_vector(lab, {r.count}, ctx);
    Tensor loss = ops::cross_entropy(net.forward(x), y);
    loss.backward();
    if (bucketer) bucketer->finish();
    opt.step();
    net.zero_grad();
    Tensor global_loss = loss.detach().clone();
    if (comm) comm->all_reduce_average(global_loss);
    log.losses.push_back(global_loss.item<double>());
  }
  log.parameters = net.flat_parameters().to_vector<double>();
  if (bucketer) {
    log.buckets = bucketer->buckets().size();
    log.launched_during_backward = bucketer->launched_during_backward();
  }
  return log;
}

}  // namespace wsvis::testing
