// One DAVIS sequence turned into a YouTube-VIS 2019 dataset (`wsvis import-davis`).
//
// Input: a folder of frames (DAVIS JPEGImages/480p/<seq>) and a folder of annotation PNGs
// (Annotations/480p/<seq>). Every frame needs a mask with the same name stem and every mask a
// frame ("00000.jpg" <-> "00000.png"); frames are ordered by file name. Two mask kinds:
//   - binary (DAVIS 2016, `binary = true`): greyscale PNGs, value > 127 is the one object
//     (id 1). A palette PNG is refused: that is a DAVIS 2017 index mask, read without --binary.
//   - index (DAVIS 2017, default): palette or greyscale PNGs whose *index* k > 0 is object k;
//     255 is DAVIS's void label (object borders, unclear regions). YouTube-VIS has no void, so
//     void pixels become background of every object, exactly as they are no object's pixels.
// Output (written by import_davis, nothing before every input is checked):
//   <out>/JPEGImages/<video>/<frame file>  each frame copied byte for byte (never re-encoded)
//   <out>/train.json                       one video (id 1), one category (id 1), one
//                                          annotation per object id, written last
// An annotation's id is its DAVIS object id (so id 2 is the second object in the masks); its
// segmentations are uncompressed RLE (the YouTube-VIS train.json form) and null where the
// object is absent from a frame, bboxes and areas (pixel counts) likewise; iscrowd 0.
// The flow is not made here: scripts/compute_flow.py <out>/JPEGImages <out>/flow writes it.
//
// Errors (wsvis::InputError naming the file): a missing folder, no frames, a frame without a
// mask or a mask without a frame (the first one in name order), two frames or two masks with
// one stem, a frame or mask that cannot be decoded, a frame of another size than the first,
// a mask of another size than its frame, no object in any mask (with a hint about --binary).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/ytvis.h"

namespace wsvis::data {

struct DavisImportOptions {
  std::string frames_dir;         // one sequence's frames
  std::string masks_dir;          // its annotation PNGs
  std::string out_dir;            // the YouTube-VIS dataset root to write
  std::string video;              // video folder name; empty = the frames folder's name
  std::string category = "object";
  bool binary = false;            // DAVIS 2016 greyscale 0/255 masks
};

// A sequence read and checked, ready to be written.
struct DavisSequence {
  YtvisDataset dataset;                   // one video, one category, one track per object
  std::vector<std::string> frame_paths;   // source frame files, in frame order
  std::vector<int> object_ids;            // DAVIS object ids (= annotation ids), ascending
};

struct DavisImportStats {
  std::string video;
  int frames = 0;
  int width = 0;
  int height = 0;
  int objects = 0;
  int64_t bytes_copied = 0;     // frame bytes
  double read_seconds = 0;      // listing, decoding and encoding every frame and mask
  double write_seconds = 0;     // copying frames and writing train.json
};

// Lists, pairs, decodes and checks every frame and mask and builds the dataset; writes nothing.
DavisSequence read_davis_sequence(const DavisImportOptions& options);

// read_davis_sequence, then writes the frames and train.json (last) under options.out_dir,
// each file atomically.
DavisImportStats import_davis(const DavisImportOptions& options);

}  // namespace wsvis::data
