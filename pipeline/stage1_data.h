// The frames stage 1 works on: every annotated frame of a YouTube-VIS dataset with its class
// labels (data/weak_labels.h), image and flow files, and the per-frame file keys the stages
// name their outputs by ("<video>/<frame>", the frame's file name without extension).
#pragma once

#include <string>
#include <vector>

#include "data/flow_io.h"
#include "data/image_io.h"
#include "data/ytvis.h"
#include "engine/tensor.h"
#include "pipeline/crop.h"
#include "pipeline/stage1_config.h"

namespace wsvis::pipeline {

struct FrameRef {
  size_t video = 0;  // index into dataset.videos
  int t = 0;
  std::string key;   // "<video>/<frame>"
  std::vector<int> classes;  // present category indices (positions in dataset.categories)
};

struct Stage1Data {
  data::YtvisDataset dataset;
  std::string annotations_path, image_root, flow_root;  // flow_root "" without flow
  std::vector<FrameRef> frames;  // videos in order, frames in order
  int num_classes = 0;

  data::Image read_image(const FrameRef& f) const;
  // The flow that says how frame t moves: t -> t+1 stored at t; for a video's last frame,
  // t -> t-1 (the only flow it has; its magnitude is what f-CAM reads) [UNPINNED].
  data::Flow read_motion_flow(const FrameRef& f) const;
  // (num_classes) 0/1 multi-hot of f's classes.
  std::vector<float> multi_hot(const FrameRef& f) const;
};

Stage1Data load_stage1_data(const Stage1Config& config);
Stage1Data load_stage1_data(const DatasetPaths& paths);

// (1, 3, H, W) f32 on ctx, torchvision normalisation (IRN's: RGB/255, ImageNet mean/std).
Tensor image_tensor(const data::Image& image, const ContextPtr& ctx);

// The image normalised as above and cropped by `box` into a zero-filled (3, crop, crop) buffer.
void normalised_crop_into(const data::Image& image, const CropBox& box, int crop, float* out);

}  // namespace wsvis::pipeline
