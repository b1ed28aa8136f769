#include "pipeline/train_loop.h"

#include <algorithm>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <numeric>
#include <unordered_map>

#include "data/loader.h"
#include "engine/distributed.h"
#include "engine/gradient_bucketer.h"
#include "engine/log.h"
#include "engine/optim/schedule.h"
#include "engine/optim/sgd.h"
#include "engine/random.h"
#include "layers/checkpoint.h"

namespace wsvis::pipeline {

std::vector<int64_t> epoch_order(int64_t n, uint64_t seed, int64_t epoch) {
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  Generator gen(data::sample_seed(seed, epoch, -1));
  // Fisher-Yates with our generator (std::shuffle's draws are not pinned across libraries).
  for (int64_t i = n - 1; i > 0; --i) std::swap(order[static_cast<size_t>(i)], order[static_cast<size_t>(gen.randint(0, i + 1))]);
  return order;
}

// In this code base only normalisation layers own 1-D ".weight" parameters (convs and linears are 2-D
// or more, FCOS's Scale is named ".scale"), so a 1-D weight and its sibling bias are a norm's.
std::vector<optim::ParamGroup> detectron2_param_groups(const layers::Module& model) {
  const auto named = model.named_parameters();
  std::unordered_map<std::string, int64_t> weight_dims;
  for (const auto& [name, p] : named)
    if (name.size() > 7 && name.compare(name.size() - 7, 7, ".weight") == 0)
      weight_dims[name.substr(0, name.size() - 7)] = p.dim();
  optim::ParamGroup decayed{"decayed", {}, 1.0, std::nullopt};
  optim::ParamGroup norms{"norm", {}, 1.0, 0.0};
  for (const auto& [name, p] : named) {
    if (!p.requires_grad()) continue;
    const size_t dot = name.rfind('.');
    const std::string owner = dot == std::string::npos ? "" : name.substr(0, dot);
    const auto it = weight_dims.find(owner);
    (it != weight_dims.end() && it->second == 1 ? norms : decayed).params.push_back(p);
  }
  return {decayed, norms};
}

std::function<double(int64_t)> detectron2_lr(double base_lr, int64_t steps,
                                             const std::vector<double>& decay_at,
                                             int64_t warmup_iters, double warmup_factor) {
  optim::WarmupMultiStep schedule;
  schedule.base_lr = base_lr;
  for (double f : decay_at) schedule.milestones.push_back(std::llround(f * double(steps)));
  schedule.warmup_iters = warmup_iters;
  schedule.warmup_factor = warmup_factor;
  return [schedule](int64_t step) { return optim::warmup_multistep_lr(schedule, step); };
}

void save_model(const layers::Module& model, const std::string& path) {
  save_safetensors(path, model.state_dict());
}

namespace {

// WSVIS_SIGNAL_AT=<stage>:<step>:<KILL|TERM|INT>: the process sends itself that signal before
// step <step> of the training loop named <stage>, as a user or a scheduler would at an
// unknown moment: the `wsvis run` kill tests use it to stop a whole run at a known point
// (KILL: no checkpoint, no cleanup; TERM / INT: the clean stop).
struct SignalAt {
  int64_t step = -1;
  int signal = 0;
};

SignalAt signal_at_from_env(const std::string& stage) {
  const char* env = std::getenv("WSVIS_SIGNAL_AT");
  if (!env) return {};
  const std::string spec = env;
  const size_t a = spec.find(':'), b = spec.rfind(':');
  if (a == std::string::npos || a == b || spec.substr(0, a) != stage) return {};
  const std::string name = spec.substr(b + 1);
  SignalAt at;
  at.step = std::atoll(spec.substr(a + 1, b - a - 1).c_str());
  at.signal = name == "KILL" ? SIGKILL : name == "TERM" ? SIGTERM : name == "INT" ? SIGINT : 0;
  if (at.signal == 0) throw InputError("WSVIS_SIGNAL_AT: signal must be KILL, TERM or INT, got '" + name + "'");
  return at;
}

}  // namespace

namespace {

// The data-parallel side of the loop; with no active communicator every call is a no-op and
// this process is the writer.
class Parallel {
 public:
  Parallel(dist::Communicator* comm, layers::Module& model) : comm_(comm && comm->active() ? comm : nullptr) {
    if (!comm_) return;
    WSVIS_CHECK(model.flat_parameters().defined(), "data-parallel training needs a packed model");
    Tensor flat = model.flat_parameters();
    comm_->broadcast(flat, 0);  // the same start everywhere, whatever each rank initialised
    std::vector<Tensor> trained;
    for (const auto& [name, p] : model.named_parameters())
      if (p.requires_grad()) trained.push_back(p);
    bucketer_ = std::make_unique<dist::GradientBucketer>(model.flat_gradients(), trained, *comm_);
  }
  bool active() const { return comm_ != nullptr; }
  bool writer() const { return !comm_ || comm_->is_root(); }
  // What the ranks agree on after a forward pass: the mean loss (a NaN anywhere makes it NaN)
  // and whether any rank wants to stop before the next step. One all-reduce, and one host
  // sync, which reading the loss costs anyway.
  struct Agreed {
    double loss;
    bool stop;
  };
  Agreed agree(const Tensor& loss, bool stop) {
    if (!comm_) return {loss.item<double>(), stop};
    Tensor both = Tensor::from_vector(std::vector<double>{loss.item<double>(), stop ? 1.0 : 0.0}, {2},
                                      comm_->context());
    comm_->all_reduce_sum(both);
    const std::vector<double> sums = both.to_vector<double>();
    return {sums[0] / comm_->world_size(), sums[1] > 0};
  }
  void finish_gradients() {
    if (bucketer_) bucketer_->finish();
  }
  void barrier() {
    if (comm_) comm_->barrier();
  }

 private:
  dist::Communicator* comm_;
  std::unique_ptr<dist::GradientBucketer> bucketer_;
};

}  // namespace

TrainSummary run_train_loop(const RunDir& run, const TrainLoopOptions& o, layers::Module& model,
                            optim::SGD& optimizer, const StepFn& step_fn) {
  const int64_t max_step = o.steps_per_epoch * o.epochs;
  const std::string last = run.path(o.stage + "/last.safetensors");
  const std::string final_path = run.path(o.stage + "/model.safetensors");
  TrainSummary summary;
  if (std::filesystem::exists(final_path)) {
    // Training finished before; what followed it (e.g. IRN's mean shift) did not.
    load_state_dict_file(model, final_path);
    summary.steps = summary.resumed_from = max_step;
    log::info(o.stage, ": training finished before, weights from ", final_path);
    return summary;
  }
  int64_t step = 0;
  if (std::filesystem::exists(last)) {
    step = load_training_state(last, model, optimizer).step;
    summary.resumed_from = step;
    log::info(o.stage, ": resuming from step ", step, " of ", max_step, " (", last, ")");
  }
  Parallel parallel(o.comm, model);
  auto checkpoint = [&](int64_t s) {
    if (parallel.writer()) save_training_state(last, model, optimizer, s);
    parallel.barrier();
  };
  auto stop_at = [&](int64_t s) {
    checkpoint(s);
    throw Interrupted(o.stage + ": interrupted at step " + std::to_string(s) +
                      "; checkpoint saved, run the same command again to resume");
  };

  // WSVIS_INTERRUPT_AT_STEP=k acts as a Ctrl-C that arrives before step k of any training loop:
  // the resume tests use it to stop a run at a known step.
  const char* interrupt_env = std::getenv("WSVIS_INTERRUPT_AT_STEP");
  const int64_t interrupt_at = interrupt_env ? std::atoll(interrupt_env) : -1;
  const SignalAt signal_at = signal_at_from_env(o.stage);
  std::unique_ptr<Progress> progress;
  if (parallel.writer()) progress = std::make_unique<Progress>(o.stage + " training", max_step, step);
  // Whether this process wants to stop before step s (Ctrl-C, SIGTERM, the test hook).
  auto stop_wanted = [&](int64_t s) {
    return interrupt_requested() || (s == interrupt_at && s > summary.resumed_from);
  };
  bool stop_agreed = false;  // by all ranks, with the previous step's loss
  std::vector<double> losses;
  while (step < max_step) {
    if (step == signal_at.step && step > summary.resumed_from) std::raise(signal_at.signal);
    // Several ranks stop where they agreed to (a signal that came during the last backward
    // pass is agreed on after the next forward pass: a step later).
    if (stop_agreed || (!parallel.active() && stop_wanted(step))) stop_at(step);
    const double lr =
        o.lr_at ? o.lr_at(step) : optim::poly_lr(o.base_lr, step, max_step, o.poly_power);
    optimizer.set_lr(lr);
    const int64_t epoch = step / o.steps_per_epoch, batch = step % o.steps_per_epoch;
    StepOutput out = step_fn(step, epoch, batch);
    WSVIS_CHECK(out.loss.defined() && out.loss.numel() == 1, o.stage,
                ": a training step must return its total loss as one value");
    nlohmann::json& record = out.record;
    const auto [loss, stop] = parallel.agree(out.loss, stop_wanted(step + 1));
    stop_agreed = stop;
    record["loss"] = loss;
    // Checked before the update, so a NaN never reaches the weights; every rank sees the
    // same mean, so all of them stop together.
    if (!std::isfinite(loss))
      throw Error(o.stage + ": the loss became " + std::to_string(loss) + " at step " +
                  std::to_string(step) + " (lower the learning rate?); the step reported " + record.dump());
    optimizer.zero_grad();
    out.loss.backward();          // gradient buckets are all-reduced as they fill
    parallel.finish_gradients();  // the rest, and the averages are in place
    optimizer.step();
    losses.push_back(loss);
    ++step;
    if (parallel.writer() && (step % o.log_every == 0 || step == max_step)) {
      record["stage"] = o.stage;
      record["step"] = step;
      record["lr"] = lr;
      run.log(record);
    }
    if (step % o.checkpoint_every == 0 && step < max_step) checkpoint(step);
    if (progress) {
      char detail[64];
      std::snprintf(detail, sizeof detail, "loss %.4f", loss);
      progress->advance(1, detail);
    }
  }
  if (progress) progress->finish();
  if (parallel.writer()) {
    save_model(model, final_path);
    std::filesystem::remove(last);
  }
  parallel.barrier();  // every rank may read the final weights from here on

  summary.steps = max_step;
  summary.seconds = progress ? progress->elapsed_seconds() : 0;
  const size_t k = std::min<size_t>(10, losses.size());
  if (k > 0) {
    summary.first_loss = std::accumulate(losses.begin(), losses.begin() + k, 0.0) / k;
    summary.last_loss = std::accumulate(losses.end() - k, losses.end(), 0.0) / k;
  }
  return summary;
}

}  // namespace wsvis::pipeline
