#include "video/mask_ops.h"

#include <algorithm>
#include <numeric>

#include "data/loader.h"
#include "kernels/boxes.h"
#include "kernels/warp.h"

namespace wsvis::video {

InstanceSet warp_instances(const InstanceSet& set, const data::Flow& flow) {
  set.check();
  if (flow.width != set.width || flow.height != set.height)
    throw InputError("warp_instances: a flow of " + std::to_string(flow.width) + " x " +
                     std::to_string(flow.height) + " for masks of " + std::to_string(set.width) +
                     " x " + std::to_string(set.height));
  InstanceSet out = set;
  if (set.size() == 0) return out;
  std::vector<float> planes(size_t(2 * set.pixels()));
  data::flow_planes_into(flow, planes.data(), int(set.height), int(set.width));
  kernels::cpu::warp_masks<uint8_t>(set.masks.data(), planes.data(), set.size(), set.height, set.width,
                                    out.masks.data(), nullptr, nullptr);
  return out;
}

std::vector<float> instance_boxes(const InstanceSet& set) {
  std::vector<float> boxes;
  boxes.reserve(size_t(4 * set.size()));
  for (int64_t k = 0; k < set.size(); ++k) {
    const std::array<float, 4> b = mask_box(set.mask(k), set.height, set.width);
    boxes.insert(boxes.end(), b.begin(), b.end());
  }
  return boxes;
}

std::vector<float> box_ious(const InstanceSet& a, const InstanceSet& b) {
  std::vector<float> out(size_t(a.size() * b.size()), 0.f);
  if (out.empty()) return out;
  const std::vector<float> ba = instance_boxes(a), bb = instance_boxes(b);
  kernels::cpu::box_overlap<float>(ba.data(), a.size(), bb.data(), b.size(), kernels::Overlap::iou,
                                   out.data());
  return out;
}

void mask_overlaps(const InstanceSet& a, const InstanceSet& b, std::vector<float>* iou,
                   std::vector<float>* iom) {
  WSVIS_CHECK(a.height == b.height && a.width == b.width, "mask_overlaps: frames of ", a.height, " x ",
              a.width, " and ", b.height, " x ", b.width);
  const size_t n = size_t(a.size() * b.size());
  if (iou) iou->assign(n, 0.f);
  if (iom) iom->assign(n, 0.f);
  if (n == 0) return;
  std::vector<uint8_t> workspace(kernels::cpu::mask_overlap_workspace_bytes(a.size(), b.size(), a.pixels()));
  kernels::cpu::mask_overlap<float>(a.masks.data(), a.size(), b.masks.data(), b.size(), a.pixels(),
                                    iou ? iou->data() : nullptr, iom ? iom->data() : nullptr,
                                    workspace.data(), workspace.size());
}

void unite_into(const uint8_t* mask, int64_t pixels, uint8_t* out) {
  for (int64_t p = 0; p < pixels; ++p) out[p] = uint8_t(out[p] | (mask[p] != 0));
}

InstanceSet select(const InstanceSet& set, const std::vector<int64_t>& indices) {
  InstanceSet out(set.height, set.width);
  for (int64_t k : indices) out.add(set.mask(k), set.category_ids[size_t(k)], set.scores[size_t(k)]);
  return out;
}

std::vector<int64_t> top_scores(const std::vector<float>& scores, int64_t k) {
  std::vector<int64_t> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t i, int64_t j) { return scores[size_t(i)] > scores[size_t(j)]; });
  if (k > 0 && k < int64_t(order.size())) order.resize(size_t(k));
  return order;
}

}  // namespace wsvis::video
