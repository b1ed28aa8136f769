// The training loop every stage shares: forward by the stage's step function, then
// zero_grad / backward / optimizer step here; poly learning rate (IRN's PolyOptimizer schedule) or
// any schedule given as a function,
// resume from the stage's last checkpoint, periodic checkpoints, progress with time left, a
// log line per step in the run's log.jsonl, a clean stop on SIGINT/SIGTERM (checkpoint, then
// Interrupted), and the final weights in <stage>/model.safetensors. When that file exists
// already (training finished, what the stage does after it did not) the loop loads it and
// returns at once.
//
// Testing hook: the environment variable WSVIS_INTERRUPT_AT_STEP=k makes every training loop
// behave as if Ctrl-C came just before step k (unless it resumed at k).
//
// The caller puts the model in training mode (models such as the IRN keep parts in eval).
//
// Determinism across a resume: a step depends only on (seed, epoch, batch index) through
// epoch_order and data::sample_seed, and on the restored model and optimizer state, so an
// interrupted and resumed run takes the same steps as an uninterrupted one.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/tensor.h"
#include "layers/module.h"
#include "pipeline/run_dir.h"

namespace wsvis::dist {
class Communicator;
}

namespace wsvis::optim {
class SGD;
struct ParamGroup;
}

namespace wsvis::pipeline {

struct TrainLoopOptions {
  std::string stage;              // sub-folder of the run: "cam", "irn"
  int64_t steps_per_epoch = 1;
  int64_t epochs = 1;
  int checkpoint_every = 200;     // steps
  double base_lr = 0.1;
  double poly_power = 0.9;
  // When set, the learning rate at each step (e.g. detectron2's warm-up + steps) instead of
  // poly(base_lr, poly_power).
  std::function<double(int64_t step)> lr_at;
  int log_every = 10;             // steps between log.jsonl records
  // Data parallelism (engine/distributed.h): with an active communicator every rank runs this
  // loop on its own shard of each batch (the step function builds it, e.g. through
  // data::LoaderConfig::rank); the model must be packed. Rank 0's parameters are broadcast
  // first, gradients are averaged by a GradientBucketer during backward, a stop (Ctrl-C,
  // SIGTERM, a NaN) is agreed by all ranks, and only rank 0 shows progress, writes log lines
  // (the loss averaged over ranks, the other values of its own shard) and checkpoints.
  dist::Communicator* comm = nullptr;
};

// What one step computes: the total loss to minimise (a 0-d tensor with a graph) and any
// other scalars to log. The loop, not the step, runs zero_grad, backward and the optimizer
// step, so that whatever belongs between backward and step (a gradient all-reduce) has one
// place; it logs the loss as "loss".
struct StepOutput {
  Tensor loss;
  nlohmann::json record = nlohmann::json::object();
};
using StepFn = std::function<StepOutput(int64_t step, int64_t epoch, int64_t batch)>;

struct TrainSummary {
  int64_t steps = 0, resumed_from = 0;
  double seconds = 0;              // this invocation only
  double first_loss = 0, last_loss = 0;  // means over the first / last (up to) 10 steps run here
};

TrainSummary run_train_loop(const RunDir& run, const TrainLoopOptions& options,
                            layers::Module& model, optim::SGD& optimizer, const StepFn& step);

// A permutation of 0..n-1 for the epoch (the same for a given seed and epoch).
std::vector<int64_t> epoch_order(int64_t n, uint64_t seed, int64_t epoch);

// detectron2's parameter groups: weight decay 0 on normalisation parameters
// (SOLVER.WEIGHT_DECAY_NORM), the optimizer's default on the rest; frozen parameters left out.
std::vector<optim::ParamGroup> detectron2_param_groups(const layers::Module& model);

// detectron2's WarmupMultiStepLR as TrainLoopOptions::lr_at: linear warm-up from
// warmup_factor over warmup_iters, then x0.1 at each fraction of `steps` in decay_at.
std::function<double(int64_t)> detectron2_lr(double base_lr, int64_t steps,
                                             const std::vector<double>& decay_at,
                                             int64_t warmup_iters, double warmup_factor);

// Writes the module's state_dict to path (safetensors, atomically).
void save_model(const layers::Module& model, const std::string& path);

}  // namespace wsvis::pipeline
