#include "apps/demo.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "data/draw.h"
#include "data/flow_io.h"
#include "data/image_io.h"
#include "data/synth.h"
#include "data/toy_shapes.h"
#include "data/ytvis.h"
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
  std::string out = "runs/engine_demo";
};

DemoOptions parse(const std::vector<std::string>& args) {
  DemoOptions o;
  for (size_t i = 0; i < args.size(); ++i) {
    auto value = [&](const char* flag) {
      if (i + 1 >= args.size()) throw InputError(detail::concat("engine-demo: ", flag, " needs a value"));
      return args[++i];
    };
    auto integer = [&](const char* flag) {
      const std::string v = value(flag);
      char* end = nullptr;
      const long n = std::strtol(v.c_str(), &end, 10);
      if (v.empty() || *end != '\0' || n <= 0)
        throw InputError(detail::concat("engine-demo: ", flag, " expects a positive integer, got '", v, "'"));
      return n;
    };
    if (args[i] == "--steps") o.steps = static_cast<int>(integer("--steps"));
    else if (args[i] == "--seed") o.seed = static_cast<uint64_t>(integer("--seed"));
    else if (args[i] == "--cpu") o.force_cpu = true;
    else if (args[i] == "--out") o.out = value("--out");
    else throw InputError(detail::concat("engine-demo: unknown option '", args[i], "'"));
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

int train_toy_cnn(const DemoOptions& o) {
  const bool use_gpu = !o.force_cpu && cuda_available();
  ContextPtr ctx = Context::create(use_gpu ? Device::cuda(0) : Device::cpu());
  std::printf("\n[2/2] toy CNN on generated shapes (%d classes, %dx%d), %d SGD steps of %d "
              "images on %s\n",
              data::kToyShapeClasses, o.image_size, o.image_size, o.steps, o.batch,
              ctx->device().str().c_str());
  std::printf("(the engine end to end: conv, norms, pooling, linear and cross-entropy, forward and "
              "backward, plain SGD)\n\n");
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

namespace {

// Generates the default synthetic set and draws a ground-truth strip and a flow image per video.
void synthetic_videos(const DemoOptions& o) {
  namespace fs = std::filesystem;
  data::SynthConfig config;  // the embedded defaults (configs/synth_default.json)
  config.seed = o.seed;
  const std::string set_dir = o.out + "/synth";
  std::printf("[1/2] synthetic video set (the embedded default data) -> %s\n", set_dir.c_str());
  const data::SynthWriteStats stats = data::write_synth_dataset(config, set_dir);
  std::printf("  %d videos, %d frames of %dx%d, %d instances (%d camouflaged, %d touching "
              "same-class pairs), exact masks and forward/backward flow, in %.1f s\n",
              stats.videos, stats.frames, config.width, config.height, stats.instances,
              stats.camouflaged, stats.touching_pairs, stats.total_seconds);

  const data::YtvisDataset set = data::read_ytvis(set_dir + "/train.json");
  fs::create_directories(o.out + "/strips");
  fs::create_directories(o.out + "/flow");
  for (size_t v = 0; v < set.videos.size(); ++v) {
    const data::YtvisVideo& video = set.videos[v];
    std::vector<data::Image> frames;
    std::vector<std::vector<data::DrawInstance>> instances;
    for (int t : data::strip_frame_indices(video.length, 6)) {
      frames.push_back(data::read_image(set_dir + "/JPEGImages/" +
                                        video.file_names[static_cast<size_t>(t)]));
      instances.push_back(data::ytvis_frame_instances(set, v, t));
    }
    const std::string name = fs::path(video.file_names[0]).parent_path().string();
    data::write_png(o.out + "/strips/" + name + ".png", data::draw_strip(frames, instances));
    const std::string first = fs::path(video.file_names[0]).stem().string();
    data::write_flow_png(o.out + "/flow/" + name + "_" + first + "_fw.png",
                         data::read_flo(set_dir + "/flow/" + name + "/" + first + "_fw.flo"));
  }
  std::printf("  ground-truth strips in %s/strips, flow images in %s/flow\n", o.out.c_str(),
              o.out.c_str());
}

}  // namespace

int run_demo(const std::vector<std::string>& args) {
  const DemoOptions o = parse(args);
  synthetic_videos(o);
  return train_toy_cnn(o);
}

}  // namespace wsvis::apps
