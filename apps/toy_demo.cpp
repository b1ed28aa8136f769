#include "apps/toy_demo.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "data/toy_shapes.h"
#include "engine/ops.h"
#include "models/toy_cnn.h"

namespace wsvis::apps {

namespace {

struct DemoOptions {
  int steps = 300;
  int batch = 32;
  int image_size = 24;
  double lr = 0.05;
  uint64_t seed = 1;
  bool force_cpu = false;
};

DemoOptions parse(const std::vector<std::string>& args) {
  DemoOptions o;
  for (size_t i = 0; i < args.size(); ++i) {
    auto value = [&](const char* flag) {
      if (i + 1 >= args.size()) throw InputError(detail::concat("demo: ", flag, " needs a value"));
      return args[++i];
    };
    auto integer = [&](const char* flag) {
      const std::string v = value(flag);
      char* end = nullptr;
      const long n = std::strtol(v.c_str(), &end, 10);
      if (v.empty() || *end != '\0' || n <= 0)
        throw InputError(detail::concat("demo: ", flag, " expects a positive integer, got '", v, "'"));
      return n;
    };
    if (args[i] == "--steps") o.steps = static_cast<int>(integer("--steps"));
    else if (args[i] == "--seed") o.seed = static_cast<uint64_t>(integer("--seed"));
    else if (args[i] == "--cpu") o.force_cpu = true;
    else throw InputError(detail::concat("demo: unknown option '", args[i], "'"));
  }
  return o;
}

// images (N, 1, S, S) and labels (N) on ctx, rows [start, start + count) of a host batch.
std::pair<Tensor, Tensor> to_tensors(const data::ToyShapesBatch& b, int start, int count,
                                     const ContextPtr& ctx) {
  const size_t pixels = static_cast<size_t>(b.size) * b.size;
  std::vector<float> images(b.images.begin() + static_cast<std::ptrdiff_t>(start * pixels),
                            b.images.begin() + static_cast<std::ptrdiff_t>((start + count) * pixels));
  std::vector<int64_t> labels(b.labels.begin() + start, b.labels.begin() + start + count);
  return {Tensor::from_vector(images, {count, 1, b.size, b.size}, ctx),
          Tensor::from_vector(labels, {count}, ctx)};
}

double accuracy(models::ToyCnn& model, const data::ToyShapesBatch& test, const ContextPtr& ctx) {
  NoGradGuard no_grad;
  auto [images, labels] = to_tensors(test, 0, test.count, ctx);
  const std::vector<int64_t> predicted = ops::max(model.forward(images, false), 1).indices.to_vector<int64_t>();
  int correct = 0;
  for (int i = 0; i < test.count; ++i) correct += predicted[static_cast<size_t>(i)] == test.labels[static_cast<size_t>(i)];
  return static_cast<double>(correct) / test.count;
}

}  // namespace

int run_toy_demo(const std::vector<std::string>& args) {
  const DemoOptions o = parse(args);
  const bool use_gpu = !o.force_cpu && cuda_available();
  ContextPtr ctx = Context::create(use_gpu ? Device::cuda(0) : Device::cpu());
  std::printf("wsvis demo: toy CNN on generated shapes (%d classes, %dx%d), %d SGD steps of %d "
              "images on %s\n",
              data::kToyShapeClasses, o.image_size, o.image_size, o.steps, o.batch,
              ctx->device().str().c_str());
  std::printf("(the video pipelines of flowIRN + MaskConsist and motion-aided BoxInst are not "
              "built yet: this checks the engine end to end)\n\n");
  Generator gen(o.seed);
  const data::ToyShapesBatch train = data::make_toy_shapes(o.steps * o.batch, o.image_size, gen);
  const data::ToyShapesBatch test = data::make_toy_shapes(512, o.image_size, gen);
  models::ToyCnn model(ctx, data::kToyShapeClasses, gen);

  std::printf("%8s %12s %12s %14s\n", "step", "train loss", "test acc", "train img/s");
  double train_seconds = 0;  // training steps only; the evaluations between them are excluded
  double running = 0;
  int in_window = 0;
  const int report_every = std::max(1, o.steps / 10);
  for (int step = 0; step < o.steps; ++step) {
    const auto step_start = std::chrono::steady_clock::now();
    auto [images, labels] = to_tensors(train, step * o.batch, o.batch, ctx);
    Tensor loss = ops::cross_entropy(model.forward(images, true), labels);
    loss.backward();
    model.sgd_step(o.lr);
    running += loss.item<double>();  // item() waits for the device, so the step is complete
    train_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - step_start).count();
    ++in_window;
    if ((step + 1) % report_every == 0 || step + 1 == o.steps) {
      std::printf("%8d %12.4f %12.3f %14.0f\n", step + 1, running / in_window,
                  accuracy(model, test, ctx), (step + 1) * o.batch / train_seconds);
      running = 0;
      in_window = 0;
    }
  }
  const double acc = accuracy(model, test, ctx);
  std::printf("\nfinal test accuracy %.3f on %d held-out images (chance is %.2f)\n", acc, test.count,
              1.0 / data::kToyShapeClasses);
  return 0;
}

}  // namespace wsvis::apps
