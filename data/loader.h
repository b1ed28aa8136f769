// Training loader: frame pairs (t, t + delta) of YouTube-VIS videos with the flow between
// them and the weak labels, augmented consistently, batched and prefetched by worker threads.
//
// Files: <image_root>/<file_name> for frames (file_names of the JSON), and with flow
// <flow_root>/<video dir>/<frame stem>_fw.flo (t -> t+1, stored at t) and _bw.flo
// (t -> t-1, stored at t), the layout `wsvis synth` and scripts/compute_flow.py write
// (<video dir>/<frame stem> = the file name without its extension).
//
// Flow for delta > 1: only consecutive flows exist on disk, and they cannot simply be added
// (each is defined at a different frame's pixels), so the loader COMPOSES them by warping:
//   F_{t->t+d}(p) = F_{t->t+1}(p) + F_{t+1->t+d}(p + F_{t->t+1}(p))   (bilinear, edge clamped)
// and likewise backward from t+d. The composition is exact where the surface point stays
// visible and inside the frame at every intermediate frame, and wrong at (dis)occlusions of
// any intermediate frame. delta == 1 reads the files as stored.
//
// Each sample: frame_a = t, frame_b = t + delta; flow_fw = a -> b (stored at a), flow_bw = b
// -> a (stored at b); class labels of frame a (multi-hot over categories); boxes of both
// frames. Augmentation (data/augment.h) uses one parameter set per sample for both frames and
// both flows; the frames' size is the video's (a frame file of another size is an InputError).
//
// Batching: images are normalised and padded to the batch's max height and width rounded up
// to a multiple of 32 (size_divisibility); padding is 0 AFTER normalisation (detectron2), flow
// padding is 0, and `valid` is 1 on real pixels, 0 on padding.
// Normalisation (per model): detectron2 C2/MSRA weights: BGR order, 0..255,
// mean (103.530, 116.280, 123.675), std (1, 1, 1); torchvision weights: RGB order, 0..1,
// mean (0.485, 0.456, 0.406), std (0.229, 0.224, 0.225).
//
// Order and determinism: an epoch's sample order is the pair list, shuffled (if enabled) by a
// generator seeded from (seed, epoch); sample i of the epoch draws its augmentation from a
// generator seeded from (seed, epoch, i). Batch b holds samples [b*B, (b+1)*B). Workers take
// whole batches; the consumer receives them in order. So batches do not depend on the number
// of workers or on thread timing.
//
// Threads: `workers` threads (0 = build batches in next() on the caller's thread) each build
// whole batches; at most `prefetch` batches are built ahead of the consumer (a bounded
// queue). An exception in a worker (InputError for a missing frame, corrupt image, flow of the
// wrong size or with NaN) is stored with its batch and rethrown by next() when the consumer
// reaches that batch; batches after it are not built. The destructor stops and joins workers.
//
// Memory: for a CUDA target, workers fill page-locked host buffers (cudaHostAlloc) and next()
// copies them to the device with cudaMemcpyAsync on the context's stream; the host buffers
// are kept until the following next() (or destruction), which first waits for that copy,
// then returns them to a small pool the workers reuse (cudaHostAlloc is slow). For a
// CPU target the batch tensors are built in place in plain memory.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "data/augment.h"
#include "data/weak_labels.h"
#include "data/ytvis.h"
#include "engine/tensor.h"

namespace wsvis::data {

enum class PixelNorm { detectron2_bgr, torchvision_rgb };

struct LoaderConfig {
  std::string image_root;  // folder the JSON's file_names are relative to
  std::string flow_root;   // folder with <video>/<t>_fw.flo, _bw.flo; empty: no flow
  int delta = 1;           // frame gap of a pair (>= 1)
  int batch_size = 2;
  int workers = 2;
  int prefetch = 4;        // batches built ahead of the consumer (>= 1)
  uint64_t seed = 0;
  bool shuffle = true;
  bool drop_last = false;  // drop a final short batch
  // Data parallelism (engine/distributed.h): every batch of batch_size pairs is cut into
  // world_size contiguous slices (dist::shard_batch) and this loader builds slice `rank`
  // only, so W ranks together see exactly the pairs, augmentations included, that one rank
  // sees. Needs drop_last and a batch_size divisible by world_size.
  int rank = 0;
  int world_size = 1;
  bool with_boxes = true;  // BoxInst labels (boxes of both frames)
  AugmentConfig augment;
  PixelNorm norm = PixelNorm::detectron2_bgr;
  int size_divisibility = 32;
};

// One pair in the dataset: video index and first frame (the second is t + delta).
struct PairRef {
  size_t video_index = 0;
  int t = 0;
};

// An augmented pair before batching (uint8 images, (H, W, 2) flows).
struct PairSample {
  PairRef ref;
  AugmentParams params;
  Image frame_a, frame_b;
  Flow flow_fw, flow_bw;               // empty without flow_root
  std::vector<uint8_t> class_labels;   // (K) multi-hot of frame a
  std::vector<WeakBox> boxes_a, boxes_b;
};

struct PairBatch {
  int64_t index = 0;  // batch index within the epoch
  Tensor images_a, images_b;  // (B, 3, H, W) f32, normalised, padded
  Tensor flow_fw, flow_bw;    // (B, 2, H, W) f32, padded with 0; undefined without flow
  Tensor valid;               // (B, H, W) u8: 1 on real pixels
  Tensor class_labels;        // (B, K) f32 multi-hot of frame a
  std::vector<std::array<int, 2>> image_sizes;  // (height, width) before padding
  std::vector<PairRef> refs;
  std::vector<AugmentParams> params;
  std::vector<std::vector<WeakBox>> boxes_a, boxes_b;  // augmented, in padded-image pixels
};

// ---- file helpers shared with the stage-1 pipeline ------------------------------------------
// "<video>/00000.jpg" -> "<video>/00000" (the key flow files and per-frame outputs use).
std::string strip_extension(const std::string& name);
// A frame / flow file of `video`, InputError naming the file when its size is not the video's.
Image read_frame(const std::string& path, const YtvisVideo& video);
Flow read_flow(const std::string& path, const YtvisVideo& video);
// Writes `im` normalised (channel planes) into the top-left of an (3, H, W) buffer; the rest
// is left as it is (callers zero it: padding is 0 after normalisation).
void normalise_image_into(const Image& im, PixelNorm norm, float* out, int H, int W);
// Writes the flow's u and v planes into the top-left of a (2, H, W) buffer, likewise.
void flow_planes_into(const Flow& flow, float* out, int H, int W);

// All pairs (t, t + delta) of the dataset, videos in order, t increasing.
std::vector<PairRef> enumerate_pairs(const YtvisDataset& dataset, int delta);

// Flow composition a->b then b->c (fields of the same size): see above.
Flow compose_flow(const Flow& ab, const Flow& bc);

// Builds sample i of an epoch (given its pair): reads, composes, augments. Throws InputError.
PairSample load_pair_sample(const YtvisDataset& dataset, const std::vector<VideoWeakLabels>& labels,
                            const LoaderConfig& config, const PairRef& ref, Generator& gen);

// The per-sample generator seed for (seed, epoch, i).
uint64_t sample_seed(uint64_t seed, int64_t epoch, int64_t index);

class PairLoader {
 public:
  // `dataset` is copied; `ctx` is where batches are delivered (CPU or CUDA).
  PairLoader(const YtvisDataset& dataset, const LoaderConfig& config, ContextPtr ctx);
  ~PairLoader();
  PairLoader(const PairLoader&) = delete;
  PairLoader& operator=(const PairLoader&) = delete;

  int64_t num_pairs() const;
  int64_t batches_per_epoch() const;
  // Starts epoch `epoch` (stops and discards the current one).
  void start_epoch(int64_t epoch);
  // The next batch of the epoch in order; false at the end of the epoch. Rethrows a worker's
  // error for this batch.
  bool next(PairBatch* batch);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace wsvis::data
