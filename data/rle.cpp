#include "data/rle.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <sstream>

#include "engine/error.h"

namespace wsvis::data {

namespace {

std::string size_str(const Rle& r) {
  std::ostringstream os;
  os << r.h << "x" << r.w;
  return os.str();
}

// Appends one run, starting a new run only where the value changes (p = value of the
// current run, c = its length so far).
struct RunBuilder {
  std::vector<uint32_t> counts;
  uint8_t value = 0;
  uint32_t run = 0;
  void push(uint8_t v) {
    if (v != value) {
      counts.push_back(run);
      run = 0;
      value = v;
    }
    ++run;
  }
  std::vector<uint32_t> finish() {
    counts.push_back(run);
    return std::move(counts);
  }
};

}  // namespace

void check_rle_dims(int h, int w, const char* fn) {
  if (h < 0 || w < 0) {
    std::ostringstream os;
    os << fn << ": mask size must be non-negative, got " << h << "x" << w;
    throw Error(os.str());
  }
  if (static_cast<uint64_t>(h) * static_cast<uint64_t>(w) > UINT32_MAX) {
    std::ostringstream os;
    os << fn << ": a " << h << "x" << w << " mask has more pixels than COCO RLE's 32-bit run "
       << "lengths can count";
    throw Error(os.str());
  }
}

// ---- encode / decode -----------------------------------------------------------------------

Rle rle_encode(const uint8_t* mask, int h, int w) {
  check_rle_dims(h, w, "rle_encode");
  RunBuilder b;
  for (int x = 0; x < w; ++x)
    for (int y = 0; y < h; ++y) b.push(mask[static_cast<size_t>(y) * w + x] != 0 ? 1 : 0);
  return Rle{h, w, b.finish()};
}

Rle rle_encode(const std::vector<uint8_t>& mask, int h, int w) {
  check_rle_dims(h, w, "rle_encode");
  if (mask.size() != static_cast<size_t>(h) * static_cast<size_t>(w)) {
    std::ostringstream os;
    os << "rle_encode: mask has " << mask.size() << " values, expected " << h << "x" << w;
    throw Error(os.str());
  }
  return rle_encode(mask.data(), h, w);
}

Rle rle_encode_colmajor(const uint8_t* mask_colmajor, int h, int w) {
  check_rle_dims(h, w, "rle_encode_colmajor");
  RunBuilder b;
  const size_t n = static_cast<size_t>(h) * static_cast<size_t>(w);
  for (size_t i = 0; i < n; ++i) b.push(mask_colmajor[i] != 0 ? 1 : 0);
  return Rle{h, w, b.finish()};
}

void rle_validate(const Rle& rle) {
  check_rle_dims(rle.h, rle.w, "RLE");
  uint64_t sum = 0;
  for (uint32_t c : rle.counts) sum += c;
  const uint64_t expected = static_cast<uint64_t>(rle.h) * static_cast<uint64_t>(rle.w);
  if (sum != expected) {
    std::ostringstream os;
    os << "RLE counts sum to " << sum << " but the mask size " << size_str(rle) << " has "
       << expected << " pixels";
    throw Error(os.str());
  }
}

void rle_decode(const Rle& rle, uint8_t* mask_out) {
  rle_validate(rle);
  const int h = rle.h;
  uint8_t value = 0;
  int y = 0;
  int64_t x = 0;  // column-major walk: down a column, then the next one
  for (uint32_t c : rle.counts) {
    for (uint32_t k = 0; k < c; ++k) {
      mask_out[static_cast<int64_t>(y) * rle.w + x] = value;
      if (++y == h) {
        y = 0;
        ++x;
      }
    }
    value = static_cast<uint8_t>(1 - value);
  }
}

std::vector<uint8_t> rle_decode(const Rle& rle) {
  rle_validate(rle);
  std::vector<uint8_t> mask(static_cast<size_t>(rle.h) * static_cast<size_t>(rle.w), 0);
  rle_decode(rle, mask.data());
  return mask;
}

// ---- compressed string form ----------------------------------------------------------------

std::string rle_to_string(const std::vector<uint32_t>& counts) {
  std::string s;
  s.reserve(counts.size() * 2);
  for (size_t i = 0; i < counts.size(); ++i) {
    int64_t x = static_cast<int64_t>(counts[i]);
    // From the fourth count on, store the difference to the run of the same kind before it.
    if (i > 2) x -= static_cast<int64_t>(counts[i - 2]);
    bool more = true;
    while (more) {
      int c = static_cast<int>(x & 0x1f);
      x >>= 5;  // arithmetic shift: negative differences sign-extend
      more = (c & 0x10) ? x != -1 : x != 0;
      if (more) c |= 0x20;
      s.push_back(static_cast<char>(c + 48));
    }
  }
  return s;
}

std::vector<uint32_t> rle_counts_from_string(const std::string& s) {
  std::vector<uint32_t> counts;
  size_t p = 0;
  while (p < s.size()) {
    const size_t start = p;
    int64_t x = 0;
    int k = 0;
    bool more = true;
    while (more) {
      if (p >= s.size()) {
        std::ostringstream os;
        os << "RLE string ends inside count " << counts.size() << " (at character " << start
           << ")";
        throw Error(os.str());
      }
      const int ch = static_cast<unsigned char>(s[p]);
      if (ch < 48 || ch > 48 + 63) {
        std::ostringstream os;
        os << "RLE string has an invalid character ";
        if (ch >= 32 && ch < 127)
          os << "'" << static_cast<char>(ch) << "'";
        else
          os << "(byte " << ch << ")";
        os << " at position " << p << " (valid: '0'..'o')";
        throw Error(os.str());
      }
      if (k >= 7) {
        std::ostringstream os;
        os << "RLE string: count " << counts.size() << " (at character " << start
           << ") has more than 7 groups, too large for a 32-bit count";
        throw Error(os.str());
      }
      const int c = ch - 48;
      x |= static_cast<int64_t>(c & 0x1f) << (5 * k);
      more = (c & 0x20) != 0;
      ++p;
      ++k;
      if (!more && (c & 0x10)) x |= -(static_cast<int64_t>(1) << (5 * k));  // sign-extend
    }
    if (counts.size() > 2) x += static_cast<int64_t>(counts[counts.size() - 2]);
    if (x < 0 || x > static_cast<int64_t>(std::numeric_limits<uint32_t>::max())) {
      std::ostringstream os;
      os << "RLE string decodes count " << counts.size() << " (at character " << start
         << ") to " << x << ", outside 0..4294967295";
      throw Error(os.str());
    }
    counts.push_back(static_cast<uint32_t>(x));
  }
  return counts;
}

Rle rle_from_string(const std::string& s, int h, int w) {
  check_rle_dims(h, w, "rle_from_string");
  return Rle{h, w, rle_counts_from_string(s)};
}

// ---- measures ------------------------------------------------------------------------------

int64_t rle_area(const Rle& rle) {
  int64_t a = 0;
  for (size_t j = 1; j < rle.counts.size(); j += 2) a += rle.counts[j];
  return a;
}

BoxXywh rle_to_bbox(const Rle& rle) {
  // As rleToBbox in the maskApi.c that pip's pycocotools (2.0.x) builds: every non-empty
  // foreground run widens the box by its first and last pixel, and a run that spans more
  // than one column covers every row. Zero-length runs are skipped, so non-canonical counts
  // give the same box as the canonical ones. (The original cocodataset maskApi.c also looked
  // at zero-length runs and could return a wrong box for such counts.)
  if (rle.h <= 0) return {0, 0, 0, 0};
  const uint64_t h = static_cast<uint64_t>(rle.h);
  uint64_t xs = UINT64_MAX, ys = UINT64_MAX, xe = 0, ye = 0, cc = 0;
  bool any = false;
  const size_t m = (rle.counts.size() / 2) * 2;  // a trailing background run does not matter
  for (size_t j = 0; j < m; ++j) {
    const uint64_t start = cc;
    cc += rle.counts[j];
    if (j % 2 == 0 || rle.counts[j] == 0) continue;
    const uint64_t y0 = start % h, x0 = start / h;
    const uint64_t y1 = (cc - 1) % h, x1 = (cc - 1) / h;
    any = true;
    xs = std::min(xs, x0);
    xe = std::max(xe, x1);
    if (x0 < x1) {  // the run crosses a column boundary: it covers every row
      ys = 0;
      ye = h - 1;
    } else {
      ys = std::min(ys, y0);
      ye = std::max(ye, y1);
    }
  }
  // No foreground: pycocotools 2.0.x returns a wrapped-around box here when the counts
  // hold zero-length foreground runs (and zeros otherwise); we always return zeros.
  if (!any) return {0, 0, 0, 0};
  return {static_cast<double>(xs), static_cast<double>(ys), static_cast<double>(xe - xs + 1),
          static_cast<double>(ye - ys + 1)};
}

// ---- set operations ------------------------------------------------------------------------

namespace {

// Walks two run lists at once, calling step(len, in_a, in_b) for every stretch on which
// neither mask changes value. Mirrors the loop of maskApi.c rleMerge/rleIou: it also stops
// only when both lists are exhausted.
template <typename Step>
void walk_runs(const std::vector<uint32_t>& A, const std::vector<uint32_t>& B, Step step) {
  uint32_t ca = A.empty() ? 0 : A[0], cb = B.empty() ? 0 : B[0];
  size_t a = 1, b = 1;
  bool va = false, vb = false;
  uint64_t ct = 1;
  while (ct > 0) {
    const uint32_t c = std::min(ca, cb);
    const bool va_run = va, vb_run = vb;
    ca -= c;
    if (ca == 0 && a < A.size()) {
      ca = A[a++];
      va = !va;
    }
    cb -= c;
    if (cb == 0 && b < B.size()) {
      cb = B[b++];
      vb = !vb;
    }
    ct = static_cast<uint64_t>(ca) + cb;
    step(c, va_run, vb_run, va, vb, ct);
  }
}

}  // namespace

Rle rle_merge(const std::vector<Rle>& rles, bool intersect) {
  if (rles.empty()) return Rle{};
  if (rles.size() == 1) return rles[0];
  const int h = rles[0].h, w = rles[0].w;
  std::vector<uint32_t> cnts = rles[0].counts;
  for (size_t i = 1; i < rles.size(); ++i) {
    const Rle& B = rles[i];
    if (B.h != h || B.w != w) {
      std::ostringstream os;
      os << "rle_merge: mask " << i << " is " << size_str(B) << " but mask 0 is " << h << "x"
         << w;
      throw Error(os.str());
    }
    std::vector<uint32_t> out;
    uint32_t cc = 0;
    bool v = false;
    // maskApi updates the run values first and then compares the merged value after the
    // step with the one before it; a run is closed whenever that value flips or both
    // inputs are exhausted.
    walk_runs(cnts, B.counts, [&](uint32_t c, bool, bool, bool va, bool vb, uint64_t ct) {
      cc += c;
      const bool vp = v;
      v = intersect ? (va && vb) : (va || vb);
      if (v != vp || ct == 0) {
        out.push_back(cc);
        cc = 0;
      }
    });
    cnts = std::move(out);
  }
  return Rle{h, w, std::move(cnts)};
}

namespace {

// |a ∩ b| and |a ∪ b| by walking the runs (maskApi.c rleIou's inner loop).
void intersect_union(const Rle& a, const Rle& b, uint64_t* inter, uint64_t* uni) {
  uint64_t i = 0, u = 0;
  walk_runs(a.counts, b.counts, [&](uint32_t c, bool va, bool vb, bool, bool, uint64_t) {
    if (va || vb) {
      u += c;
      if (va && vb) i += c;
    }
  });
  *inter = i;
  *uni = u;
}

}  // namespace

std::vector<double> bbox_iou(const std::vector<BoxXywh>& dt, const std::vector<BoxXywh>& gt,
                             const std::vector<uint8_t>& iscrowd) {
  WSVIS_CHECK(iscrowd.empty() || iscrowd.size() == gt.size(), "bbox_iou: iscrowd has ",
              iscrowd.size(), " entries for ", gt.size(), " ground-truth boxes");
  const size_t D = dt.size(), G = gt.size();
  std::vector<double> out(D * G, 0.0);
  for (size_t g = 0; g < G; ++g) {
    const BoxXywh& gb = gt[g];
    const double ga = gb[2] * gb[3];
    const bool crowd = !iscrowd.empty() && iscrowd[g] != 0;
    for (size_t d = 0; d < D; ++d) {
      const BoxXywh& db = dt[d];
      const double da = db[2] * db[3];
      const double iw = std::fmin(db[2] + db[0], gb[2] + gb[0]) - std::fmax(db[0], gb[0]);
      if (iw <= 0) continue;
      const double ih = std::fmin(db[3] + db[1], gb[3] + gb[1]) - std::fmax(db[1], gb[1]);
      if (ih <= 0) continue;
      const double i = iw * ih;
      const double u = crowd ? da : da + ga - i;
      out[d * G + g] = i / u;
    }
  }
  return out;
}

std::vector<double> rle_iou(const std::vector<Rle>& dt, const std::vector<Rle>& gt,
                            const std::vector<uint8_t>& iscrowd) {
  WSVIS_CHECK(iscrowd.empty() || iscrowd.size() == gt.size(), "rle_iou: iscrowd has ",
              iscrowd.size(), " entries for ", gt.size(), " ground-truth masks");
  std::vector<BoxXywh> db, gb;
  for (const Rle& r : dt) db.push_back(rle_to_bbox(r));
  for (const Rle& r : gt) gb.push_back(rle_to_bbox(r));
  std::vector<double> out = bbox_iou(db, gb, iscrowd);
  const size_t G = gt.size();
  for (size_t d = 0; d < dt.size(); ++d)
    for (size_t g = 0; g < G; ++g) {
      double& o = out[d * G + g];
      if (!(o > 0)) continue;  // boxes do not overlap: the masks cannot either
      if (dt[d].h != gt[g].h || dt[d].w != gt[g].w) {
        o = -1;
        continue;
      }
      uint64_t i, u;
      intersect_union(dt[d], gt[g], &i, &u);
      const bool crowd = !iscrowd.empty() && iscrowd[g] != 0;
      if (i == 0)
        u = 1;
      else if (crowd)
        u = static_cast<uint64_t>(rle_area(dt[d]));
      o = static_cast<double>(i) / static_cast<double>(u);
    }
  return out;
}

std::vector<double> rle_iom(const std::vector<Rle>& dt, const std::vector<Rle>& gt) {
  const size_t G = gt.size();
  std::vector<double> out(dt.size() * G, 0.0);
  std::vector<int64_t> ga(G);
  for (size_t g = 0; g < G; ++g) ga[g] = rle_area(gt[g]);
  for (size_t d = 0; d < dt.size(); ++d) {
    const int64_t da = rle_area(dt[d]);
    for (size_t g = 0; g < G; ++g) {
      if (dt[d].h != gt[g].h || dt[d].w != gt[g].w) {
        out[d * G + g] = -1;
        continue;
      }
      uint64_t i, u;
      intersect_union(dt[d], gt[g], &i, &u);
      const int64_t mn = std::min(da, ga[g]);
      out[d * G + g] = (i == 0 || mn <= 0) ? 0.0 : static_cast<double>(i) / static_cast<double>(mn);
    }
  }
  return out;
}

}  // namespace wsvis::data
