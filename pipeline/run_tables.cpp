#include "pipeline/run_tables.h"

#include <algorithm>
#include <cstdio>

namespace wsvis::pipeline {

namespace {

using Json = nlohmann::json;

// A metric at a JSON pointer, in percent; nullopt when absent, null or COCO's -1 (no
// ground truth in the subset).
std::optional<double> percent(const Json& stage_metrics, const std::string& pointer) {
  const Json::json_pointer p(pointer);
  if (!stage_metrics.contains(p)) return std::nullopt;
  const Json& v = stage_metrics.at(p);
  if (!v.is_number() || v.get<double>() < 0) return std::nullopt;
  return 100.0 * v.get<double>();
}

void add_row(MetricTable& table, const Json& metrics, const std::string& name, const std::string& stage,
             const std::vector<std::string>& pointers) {
  if (!metrics.contains(stage)) return;
  MetricTable::Row row{name, stage, {}};
  for (const std::string& p : pointers) row.values.push_back(percent(metrics[stage], p));
  table.rows.push_back(std::move(row));
}

}  // namespace

std::vector<MetricTable> metric_tables(const Json& metrics, const RunConfig& config) {
  std::vector<MetricTable> tables;

  MetricTable pseudo{"Stage 1: instance pseudo-labels",
                     "frame mask AP of the pseudo-labels against the training videos' ground truth "
                     "(the labels were made from class labels only)",
                     {"AP", "AP50", "AP75", "AR1", "AR10"},
                     {}};
  const std::vector<std::string> pseudo_keys = {"/pseudo_labels/frame_segm/AP", "/pseudo_labels/frame_segm/AP50",
                                                "/pseudo_labels/frame_segm/AP75", "/pseudo_labels/frame_segm/AR1",
                                                "/pseudo_labels/frame_segm/AR10"};
  add_row(pseudo, metrics, "IRN", "baseline_irn", pseudo_keys);
  std::string flowirn = "flowIRN";
  if (!config.stage1.flowirn.fcam && !config.stage1.flowirn.flow_boundary) flowirn = "IRN (flowIRN switched off)";
  else if (!config.stage1.flowirn.fcam) flowirn = "IRN + flow-boundary loss";
  else if (!config.stage1.flowirn.flow_boundary) flowirn = "IRN + f-CAM";
  add_row(pseudo, metrics, flowirn, "stage1", pseudo_keys);
  tables.push_back(pseudo);

  MetricTable stage2{"Stage 2: Mask R-CNN on the pseudo-labels, evaluation videos",
                     "frame AP50 per frame (COCO style); video mAP, AP50, AP75, AR1, AR10 of the tracked "
                     "instances (YouTube-VIS); TC: temporal consistency of the tracks",
                     {"frame AP50", "video mAP", "AP50", "AP75", "AR1", "AR10", "TC"},
                     {}};
  const std::vector<std::string> stage2_keys = {"/frame_segm/AP50", "/video_segm/AP",  "/video_segm/AP50",
                                                "/video_segm/AP75", "/video_segm/AR1", "/video_segm/AR10",
                                                "/temporal_consistency"};
  add_row(stage2, metrics, "Mask R-CNN", "baseline_maskrcnn", stage2_keys);
  std::string maskconsist = config.stage2.maskconsist.enabled ? "Mask R-CNN + MaskConsist" : "Mask R-CNN";
  if (config.stage2.self_training_rounds > 0) maskconsist += " + self-training";
  add_row(stage2, metrics, maskconsist, "stage2", stage2_keys);
  tables.push_back(stage2);

  MetricTable boxinst{"Motion-aided BoxInst: evaluation frames",
                      "COCO mask and box AP per frame, trained from boxes; camouflaged: the instances "
                      "whose colour matches the background, the others ignored",
                      {"mask AP", "AP50", "AP75", "box AP", "box AP50", "camo. mask AP50", "camo. box AP"},
                      {}};
  const std::vector<std::string> boxinst_keys = {"/segm/AP",  "/segm/AP50", "/segm/AP75",
                                                 "/bbox/AP",  "/bbox/AP50", "/attributes/camouflaged/segm/AP50",
                                                 "/attributes/camouflaged/bbox/AP"};
  add_row(boxinst, metrics, "BoxInst", "baseline_boxinst", boxinst_keys);
  const std::string variant = config.boxinst.model.variant;
  add_row(boxinst, metrics,
          variant == "motion_boxinst" ? "motion-aided BoxInst" : variant == "condinst" ? "CondInst (GT masks)" : "BoxInst",
          "boxinst", boxinst_keys);
  tables.push_back(boxinst);

  tables.erase(std::remove_if(tables.begin(), tables.end(), [](const MetricTable& t) { return t.rows.empty(); }),
               tables.end());
  return tables;
}

std::string tables_as_text(const std::vector<MetricTable>& tables) {
  std::string out;
  char cell[64];
  for (const MetricTable& t : tables) {
    size_t name_width = 8;
    for (const MetricTable::Row& r : t.rows) name_width = std::max(name_width, r.name.size());
    out += t.title + "\n";
    std::snprintf(cell, sizeof cell, "  %-*s", static_cast<int>(name_width), "");
    out += cell;
    for (const std::string& c : t.columns) {
      std::snprintf(cell, sizeof cell, " %10s", c.c_str());
      out += cell;
    }
    out += "\n";
    for (const MetricTable::Row& r : t.rows) {
      std::snprintf(cell, sizeof cell, "  %-*s", static_cast<int>(name_width), r.name.c_str());
      out += cell;
      for (const std::optional<double>& v : r.values) {
        if (v) std::snprintf(cell, sizeof cell, " %10.1f", *v);
        else std::snprintf(cell, sizeof cell, " %10s", "-");
        out += cell;
      }
      out += "\n";
    }
    out += "\n";
  }
  return out;
}

}  // namespace wsvis::pipeline
