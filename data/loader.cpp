// PairLoader: epoch order, worker threads with a bounded look-ahead, collation into padded
// normalised batches, error hand-over to the consumer, pinned staging for CUDA targets.
#include "data/loader.h"

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <exception>
#include <map>
#include <mutex>
#include <thread>

#include "engine/distributed.h"
#include "engine/error.h"

#if WSVIS_WITH_CUDA
#include <cuda_runtime.h>

#include "engine/cuda_check.h"
#endif

namespace wsvis::data {

namespace {

constexpr float kD2Mean[3] = {103.530f, 116.280f, 123.675f};  // B, G, R
constexpr float kTvMean[3] = {0.485f, 0.456f, 0.406f};        // R, G, B
constexpr float kTvStd[3] = {0.229f, 0.224f, 0.225f};

// Host memory for one batch array: page-locked for a CUDA target, plain otherwise.
class HostBuffer {
 public:
  HostBuffer(size_t bytes, bool pinned) : bytes_(bytes), pinned_(pinned) {
#if WSVIS_WITH_CUDA
    if (pinned_) {
      CUDA_CHECK(cudaHostAlloc(&ptr_, std::max<size_t>(bytes, 1), cudaHostAllocPortable));
      return;
    }
#endif
    pinned_ = false;
    ptr_ = std::malloc(std::max<size_t>(bytes, 1));
    WSVIS_CHECK(ptr_ != nullptr, "out of host memory: asked for ", bytes, " bytes");
  }
  ~HostBuffer() {
#if WSVIS_WITH_CUDA
    if (pinned_) {
      CUDA_CHECK_PRINT(cudaFreeHost(ptr_));
      return;
    }
#endif
    std::free(ptr_);
  }
  HostBuffer(const HostBuffer&) = delete;
  HostBuffer& operator=(const HostBuffer&) = delete;
  void* data() const { return ptr_; }
  size_t bytes() const { return bytes_; }

 private:
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
  bool pinned_ = false;
};

// A batch as built by a worker: host arrays plus metadata, or the error that stopped it.
struct HostBatch {
  PairBatch meta;  // tensors left undefined; metadata filled
  Shape image_shape, flow_shape, valid_shape, class_shape;
  // CPU target: the tensors themselves (meta's); CUDA target: staging buffers.
  std::vector<std::unique_ptr<HostBuffer>> staging;  // images_a, images_b, fw, bw, valid, classes
  std::exception_ptr error;
};

int round_up(int v, int d) { return d <= 1 ? v : (v + d - 1) / d * d; }

}  // namespace

void normalise_image_into(const Image& im, PixelNorm norm, float* out, int H, int W) {
  const size_t plane = static_cast<size_t>(H) * W;
  for (int c = 0; c < 3; ++c) {
    // detectron2: channel c of the output is BGR channel c = RGB channel 2 - c.
    const int src = norm == PixelNorm::detectron2_bgr ? 2 - c : c;
    const float scale = norm == PixelNorm::detectron2_bgr ? 1.f : 1.f / (255.f * kTvStd[c]);
    const float shift = norm == PixelNorm::detectron2_bgr ? -kD2Mean[c] : -kTvMean[c] / kTvStd[c];
    float* dst = out + c * plane;
    for (int y = 0; y < im.height; ++y)
      for (int x = 0; x < im.width; ++x)
        dst[static_cast<size_t>(y) * W + x] = im.at(y, x, src) * scale + shift;
  }
}

void flow_planes_into(const Flow& f, float* out, int H, int W) {
  const size_t plane = static_cast<size_t>(H) * W;
  for (int y = 0; y < f.height; ++y)
    for (int x = 0; x < f.width; ++x) {
      out[static_cast<size_t>(y) * W + x] = f.u(x, y);
      out[plane + static_cast<size_t>(y) * W + x] = f.v(x, y);
    }
}

struct PairLoader::Impl {
  YtvisDataset dataset;
  std::vector<VideoWeakLabels> labels;
  LoaderConfig config;
  ContextPtr ctx;
  std::vector<PairRef> pairs;
  bool pinned = false;

  // Epoch state, guarded by mu.
  std::mutex mu;
  std::condition_variable cv;
  int64_t epoch = -1;
  std::vector<PairRef> order;
  int64_t num_batches = 0;
  int64_t next_build = 0;    // next batch index a worker will claim
  int64_t next_consume = 0;  // next batch index next() returns
  bool stop = false;
  bool failed = false;  // a batch failed: build no further batches
  std::map<int64_t, std::unique_ptr<HostBatch>> ready;
  std::vector<std::thread> threads;

  // The last batch handed to a CUDA consumer: staging kept until its copy has finished.
  std::unique_ptr<HostBatch> in_flight;
#if WSVIS_WITH_CUDA
  cudaEvent_t copy_done = nullptr;
#endif

  int64_t batch_count() const {
    const int64_t n = static_cast<int64_t>(order.size()), B = config.batch_size;
    return config.drop_last ? n / B : (n + B - 1) / B;
  }

  std::unique_ptr<HostBatch> build(int64_t b, int64_t ep) {
    auto hb = std::make_unique<HostBatch>();
    try {
      const dist::SampleRange slice = dist::shard_batch(b, config.batch_size, config.rank, config.world_size);
      const int64_t first = slice.begin;
      const int64_t last = std::min<int64_t>(first + slice.count, static_cast<int64_t>(order.size()));
      std::vector<PairSample> samples;
      for (int64_t i = first; i < last; ++i) {
        Generator gen(sample_seed(config.seed, ep, i));
        samples.push_back(
            load_pair_sample(dataset, labels, config, order[static_cast<size_t>(i)], gen));
      }
      collate(samples, b, hb.get());
    } catch (...) {
      hb->error = std::current_exception();
    }
    return hb;
  }

  void collate(const std::vector<PairSample>& samples, int64_t b, HostBatch* hb) {
    const int64_t B = static_cast<int64_t>(samples.size());
    const int64_t K = static_cast<int64_t>(dataset.categories.size());
    int H = 0, W = 0;
    for (const PairSample& s : samples) H = std::max(H, s.frame_a.height), W = std::max(W, s.frame_a.width);
    H = round_up(H, config.size_divisibility);
    W = round_up(W, config.size_divisibility);
    const bool flow = !config.flow_root.empty();
    hb->image_shape = {B, 3, H, W};
    hb->flow_shape = {B, 2, H, W};
    hb->valid_shape = {B, H, W};
    hb->class_shape = {B, K};
    PairBatch& m = hb->meta;
    m.index = b;
    const std::vector<std::pair<Shape, DType>> arrays = {
        {hb->image_shape, DType::f32}, {hb->image_shape, DType::f32},
        {flow ? hb->flow_shape : Shape{0}, DType::f32}, {flow ? hb->flow_shape : Shape{0}, DType::f32},
        {hb->valid_shape, DType::u8}, {hb->class_shape, DType::f32}};
    std::vector<void*> ptr;
    if (pinned) {
      for (const auto& [shape, dt] : arrays) {
        const size_t bytes = static_cast<size_t>(shape_numel(shape)) * dtype_size(dt);
        hb->staging.push_back(acquire_pinned(bytes));
        std::memset(hb->staging.back()->data(), 0, bytes);
        ptr.push_back(hb->staging.back()->data());
      }
    } else {
      Tensor* dst[6] = {&m.images_a, &m.images_b, &m.flow_fw, &m.flow_bw, &m.valid, &m.class_labels};
      for (size_t k = 0; k < arrays.size(); ++k) {
        // empty + memset: Tensor::zeros may fill with an OpenMP team, which would spin
        // against the other workers.
        *dst[k] = Tensor::empty(arrays[k].first, arrays[k].second, ctx);
        std::memset(dst[k]->raw_data(), 0, dst[k]->nbytes());
        ptr.push_back(dst[k]->raw_data());
      }
      if (!flow) m.flow_fw = Tensor(), m.flow_bw = Tensor();
    }
    const size_t img = static_cast<size_t>(3) * H * W, fl = static_cast<size_t>(2) * H * W,
                 plane = static_cast<size_t>(H) * W;
    for (int64_t i = 0; i < B; ++i) {
      const PairSample& s = samples[static_cast<size_t>(i)];
      normalise_image_into(s.frame_a, config.norm, static_cast<float*>(ptr[0]) + i * img, H, W);
      normalise_image_into(s.frame_b, config.norm, static_cast<float*>(ptr[1]) + i * img, H, W);
      if (flow) {
        flow_planes_into(s.flow_fw, static_cast<float*>(ptr[2]) + i * fl, H, W);
        flow_planes_into(s.flow_bw, static_cast<float*>(ptr[3]) + i * fl, H, W);
      }
      uint8_t* valid = static_cast<uint8_t*>(ptr[4]) + i * plane;
      for (int y = 0; y < s.frame_a.height; ++y)
        std::memset(valid + static_cast<size_t>(y) * W, 1, static_cast<size_t>(s.frame_a.width));
      float* cls = static_cast<float*>(ptr[5]) + i * K;
      for (int64_t k = 0; k < K; ++k) cls[k] = s.class_labels[static_cast<size_t>(k)] ? 1.f : 0.f;
      m.image_sizes.push_back({s.frame_a.height, s.frame_a.width});
      m.refs.push_back(s.ref);
      m.params.push_back(s.params);
      m.boxes_a.push_back(s.boxes_a);
      m.boxes_b.push_back(s.boxes_b);
    }
  }

  // Page-locked buffers returned by the consumer, reused by the workers (guarded by pool_mu).
  std::mutex pool_mu;
  std::vector<std::unique_ptr<HostBuffer>> pool;

  std::unique_ptr<HostBuffer> acquire_pinned(size_t bytes) {
    {
      std::lock_guard<std::mutex> lock(pool_mu);
      auto best = pool.end();
      for (auto it = pool.begin(); it != pool.end(); ++it)
        if ((*it)->bytes() >= bytes && (best == pool.end() || (*it)->bytes() < (*best)->bytes()))
          best = it;
      if (best != pool.end()) {
        std::unique_ptr<HostBuffer> b = std::move(*best);
        pool.erase(best);
        return b;
      }
    }
    return std::make_unique<HostBuffer>(bytes, true);
  }

  void release_pinned(std::vector<std::unique_ptr<HostBuffer>>* buffers) {
    std::lock_guard<std::mutex> lock(pool_mu);
    // Enough for every batch in flight (prefetch + workers + the consumer's), 6 arrays each.
    const size_t cap = 6 * static_cast<size_t>(config.prefetch + config.workers + 2);
    for (auto& b : *buffers)
      if (pool.size() < cap) pool.push_back(std::move(b));
    buffers->clear();
  }

  void worker(int64_t ep) {
#if WSVIS_WITH_CUDA
    std::unique_ptr<DeviceGuard> guard;
    if (pinned) guard = std::make_unique<DeviceGuard>(*ctx);
#endif
    for (;;) {
      int64_t b;
      {
        std::unique_lock<std::mutex> lock(mu);
        cv.wait(lock, [&] {
          return stop || failed || next_build >= num_batches ||
                 next_build < next_consume + config.prefetch;
        });
        if (stop || failed || next_build >= num_batches) return;
        b = next_build++;
      }
      std::unique_ptr<HostBatch> hb = build(b, ep);
      {
        std::lock_guard<std::mutex> lock(mu);
        if (hb->error) failed = true;
        ready[b] = std::move(hb);
      }
      cv.notify_all();
    }
  }

  void stop_workers() {
    {
      std::lock_guard<std::mutex> lock(mu);
      stop = true;
    }
    cv.notify_all();
    for (std::thread& t : threads) t.join();
    threads.clear();
  }

  void finish_in_flight() {
#if WSVIS_WITH_CUDA
    if (in_flight && copy_done) CUDA_CHECK_PRINT(cudaEventSynchronize(copy_done));
#endif
    if (in_flight) release_pinned(&in_flight->staging);
    in_flight.reset();
  }

  // Turns a finished HostBatch into the consumer's PairBatch (device copy for CUDA).
  void deliver(std::unique_ptr<HostBatch> hb, PairBatch* out) {
    if (hb->error) {
      std::exception_ptr e = hb->error;
      std::lock_guard<std::mutex> lock(mu);
      ready[next_consume - 1] = std::move(hb);  // keep it: a later next() rethrows the same
      std::rethrow_exception(e);
    }
    if (!pinned) {
      *out = std::move(hb->meta);
      return;
    }
#if WSVIS_WITH_CUDA
    finish_in_flight();
    PairBatch& m = hb->meta;
    const bool flow = !config.flow_root.empty();
    Tensor* dst[6] = {&m.images_a, &m.images_b, &m.flow_fw, &m.flow_bw, &m.valid, &m.class_labels};
    const Shape shapes[6] = {hb->image_shape, hb->image_shape, hb->flow_shape,
                             hb->flow_shape,  hb->valid_shape, hb->class_shape};
    const DType types[6] = {DType::f32, DType::f32, DType::f32, DType::f32, DType::u8, DType::f32};
    for (int k = 0; k < 6; ++k) {
      if ((k == 2 || k == 3) && !flow) continue;
      *dst[k] = Tensor::empty(shapes[k], types[k], ctx);
      CUDA_CHECK(cudaMemcpyAsync(dst[k]->raw_data(), hb->staging[static_cast<size_t>(k)]->data(),
                                 dst[k]->nbytes(), cudaMemcpyHostToDevice, ctx->stream()));
    }
    if (!copy_done) CUDA_CHECK(cudaEventCreateWithFlags(&copy_done, cudaEventDisableTiming));
    CUDA_CHECK(cudaEventRecord(copy_done, ctx->stream()));
    *out = std::move(m);
    in_flight = std::move(hb);  // staging must outlive the asynchronous copy
#else
    (void)out;
    WSVIS_FAIL("unreachable: pinned staging without the CUDA backend");
#endif
  }
};

PairLoader::PairLoader(const YtvisDataset& dataset, const LoaderConfig& config, ContextPtr ctx)
    : impl_(std::make_unique<Impl>()) {
  WSVIS_CHECK(config.delta >= 1, "loader: delta must be >= 1, got ", config.delta);
  WSVIS_CHECK(config.batch_size >= 1, "loader: batch_size must be >= 1, got ", config.batch_size);
  WSVIS_CHECK(config.workers >= 0, "loader: workers must be >= 0, got ", config.workers);
  WSVIS_CHECK(config.world_size >= 1 && config.rank >= 0 && config.rank < config.world_size,
              "loader: rank ", config.rank, " of ", config.world_size);
  WSVIS_CHECK(config.world_size == 1 || (config.drop_last && config.batch_size % config.world_size == 0),
              "loader: ", config.world_size, " ranks need drop_last and a batch of pairs divisible by ",
              "them, got ", config.batch_size);
  WSVIS_CHECK(config.prefetch >= 1, "loader: prefetch must be >= 1, got ", config.prefetch);
  WSVIS_CHECK(ctx != nullptr, "loader: no context");
  impl_->dataset = dataset;
  impl_->dataset.reindex();
  impl_->labels = weak_labels(impl_->dataset);
  impl_->config = config;
  impl_->ctx = std::move(ctx);
  impl_->pinned = impl_->ctx->is_cuda();
  impl_->pairs = enumerate_pairs(impl_->dataset, config.delta);
  start_epoch(0);
}

PairLoader::~PairLoader() {
  impl_->stop_workers();
  impl_->finish_in_flight();
#if WSVIS_WITH_CUDA
  if (impl_->copy_done) CUDA_CHECK_PRINT(cudaEventDestroy(impl_->copy_done));
#endif
}

int64_t PairLoader::num_pairs() const { return static_cast<int64_t>(impl_->pairs.size()); }
int64_t PairLoader::batches_per_epoch() const { return impl_->batch_count(); }

void PairLoader::start_epoch(int64_t epoch) {
  Impl& s = *impl_;
  s.stop_workers();
  s.ready.clear();
  s.stop = false;
  s.failed = false;
  s.epoch = epoch;
  s.order = s.pairs;
  if (s.config.shuffle) {
    Generator gen(sample_seed(s.config.seed, epoch, -1));
    for (size_t i = s.order.size(); i > 1; --i)
      std::swap(s.order[i - 1], s.order[static_cast<size_t>(gen.randint(0, static_cast<int64_t>(i)))]);
  }
  s.num_batches = s.batch_count();
  s.next_build = 0;
  s.next_consume = 0;
  for (int w = 0; w < s.config.workers; ++w) s.threads.emplace_back([&s, epoch] { s.worker(epoch); });
}

bool PairLoader::next(PairBatch* batch) {
  Impl& s = *impl_;
  std::unique_ptr<HostBatch> hb;
  {
    std::unique_lock<std::mutex> lock(s.mu);
    // A failed batch stays at next_consume - 1: rethrow it again rather than skip past it.
    if (s.next_consume > 0) {
      auto it = s.ready.find(s.next_consume - 1);
      if (it != s.ready.end() && it->second->error) std::rethrow_exception(it->second->error);
    }
    if (s.next_consume >= s.num_batches) return false;
    const int64_t b = s.next_consume;
    if (s.config.workers == 0) {
      lock.unlock();
      hb = s.build(b, s.epoch);
      lock.lock();
    } else {
      s.cv.wait(lock, [&] { return s.ready.count(b) > 0; });
      hb = std::move(s.ready[b]);
      s.ready.erase(b);
    }
    ++s.next_consume;
  }
  s.cv.notify_all();
  s.deliver(std::move(hb), batch);
  return true;
}

}  // namespace wsvis::data
