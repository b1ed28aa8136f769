#!/usr/bin/env python3
"""Compares wsvis' YouTube-VIS evaluator (data/ytvis_eval.h, through tests/tools/eval_tool and
`wsvis eval --type video`) with a reference built from pycocotools' COCOeval as spec C.2 says
youtubevos/cocoapi's ytvoseval.py is built:

  - each video is an "image" (the unit is (video, category)); a track is an annotation;
  - computeIoU is overridden with the spatio-temporal IoU, computed here in numpy on masks that
    pycocotools.mask decodes: I = sum over frames where both tracks are present of |d & g|,
    U = those frames' |d | g| + |g| where only g is present + |d| where only d is; I/U, 0 if U = 0;
    detections sorted by score (mergesort) and cut to maxDets[-1] first, as COCOeval does;
  - the area of a track is its avg_area: the mean of its non-null, non-zero per-frame areas
    (GT: the "areas" field; detections: the RLE areas), 0 if none;
  - areaRng = [0, 1e10], [0, 128^2], [128^2, 256^2], [256^2, 1e10].
Matching, accumulate and summarize are pycocotools' own code (iouType 'bbox' is used only so
that _prepare leaves the annotations alone; its parameters equal segm's).

Data (fixed seeds): generated video sets - videos of several sizes (up to 360x480, so that tracks
fall in all three area ranges) and lengths, moving and growing ellipse tracks with gaps, frames
where a present object has an empty mask (area 0, left out of avg_area), crowds, GT stored as
uncompressed RLE, compressed RLE and polygons; predictions perturbed per frame, with dropped and
spurious frames, wrong categories, misses, false-positive tracks, tied scores, and one video with
more than 100 predictions of one category.

Checks: the 12 stats to 1e-4 and the precision/recall arrays to 1e-9. Also the frame-level view
(ytvis_frames_as_coco, `wsvis eval --type frame`) against pycocotools' COCOeval segm run on the
same frames written as a COCO file by this script.
Usage: python3 tests/python/test_ytvis_eval_reference.py [BUILD_DIR]. Exit 0 pass, 1 fail, 77
when pycocotools/numpy cannot be installed.
"""
import contextlib
import io
import json
import os
import subprocess
import sys
import tempfile


from wsvis_testing import build_dir, require_packages, tool_path  # noqa: E402

require_packages(['numpy', 'pycocotools'])

import numpy as np  # noqa: E402
from pycocotools import mask as mask_utils  # noqa: E402
from pycocotools.coco import COCO  # noqa: E402
from pycocotools.cocoeval import COCOeval  # noqa: E402

BUILD = build_dir()
TOOL = tool_path("eval_tool")
CLI = os.path.join(BUILD, "apps", "wsvis")
SEED = 20261122
failures = []
checks = 0
NAMES = ["AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"]


def check(cond, what):
    global checks
    checks += 1
    if not cond:
        failures.append(what)


def encode(mask):
    r = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(r["size"][0]), int(r["size"][1])], "counts": r["counts"].decode("ascii")}


def uncompressed(mask):
    flat = mask.reshape(-1, order="F").astype(np.int64)
    cuts = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    runs = np.diff(np.concatenate([[0], cuts, [flat.size]])).tolist()
    if flat[0] == 1:
        runs = [0] + runs
    return {"size": [int(mask.shape[0]), int(mask.shape[1])], "counts": [int(v) for v in runs]}


# ---- the reference ---------------------------------------------------------------------------

def decode_segmentation(seg, h, w):
    """pycocotools' annToRLE + decode; None stays None (an absent frame)."""
    if seg is None:
        return None
    if isinstance(seg, list):
        rle = mask_utils.merge(mask_utils.frPyObjects(seg, h, w))
    elif isinstance(seg["counts"], list):
        rle = mask_utils.frPyObjects(seg, h, w)
    else:
        rle = {"size": seg["size"], "counts": seg["counts"].encode("ascii")}
    return mask_utils.decode(rle).astype(bool)


def avg_area(areas):
    nz = [a for a in areas if a]  # ytvoseval: `if a` drops None and 0
    return float(np.array(nz).mean()) if nz else 0.0


def st_iou(d_masks, g_masks):
    i = u = 0.0
    for d, g in zip(d_masks, g_masks):
        if d is not None and g is not None:
            i += float(np.logical_and(d, g).sum())
            u += float(np.logical_or(d, g).sum())
        elif g is not None:
            u += float(g.sum())
        elif d is not None:
            u += float(d.sum())
    return i / u if u > 0 else 0.0


def make_coco(videos, categories, anns):
    coco = COCO()
    coco.dataset = {"images": [{"id": v["id"], "width": v["width"], "height": v["height"]} for v in videos],
                    "categories": categories, "annotations": anns}
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco


class YtvisReferenceEval(COCOeval):
    def __init__(self, gt_json, results):
        videos = {v["id"]: v for v in gt_json["videos"]}
        gt_anns = []
        for a in gt_json["annotations"]:
            v = videos[a["video_id"]]
            gt_anns.append({"id": a["id"], "image_id": a["video_id"], "category_id": a["category_id"],
                            "iscrowd": a.get("iscrowd", 0), "area": avg_area(a["areas"]), "bbox": [0, 0, 1, 1],
                            "_masks": [decode_segmentation(s, v["height"], v["width"]) for s in a["segmentations"]]})
        dt_anns = []
        for n, r in enumerate(results):  # ytvos.loadRes: ids 1..N, areas from the RLEs
            v = videos[r["video_id"]]
            masks = [decode_segmentation(s, v["height"], v["width"]) for s in r["segmentations"]]
            areas = [int(m.sum()) if m is not None else None for m in masks]
            dt_anns.append({"id": n + 1, "image_id": r["video_id"], "category_id": r["category_id"],
                            "score": r["score"], "iscrowd": 0, "area": avg_area(areas), "bbox": [0, 0, 1, 1],
                            "_masks": masks})
        gt = make_coco(gt_json["videos"], gt_json["categories"], gt_anns)
        dt = make_coco(gt_json["videos"], gt_json["categories"], dt_anns)
        super().__init__(gt, dt, iouType="bbox")
        self.params.areaRng = [[0 ** 2, 1e5 ** 2], [0 ** 2, 128 ** 2], [128 ** 2, 256 ** 2], [256 ** 2, 1e5 ** 2]]

    def computeIoU(self, imgId, catId):
        gt = self._gts[imgId, catId]
        dt = self._dts[imgId, catId]
        if len(gt) == 0 and len(dt) == 0:
            return []
        inds = np.argsort([-d["score"] for d in dt], kind="mergesort")
        dt = [dt[i] for i in inds]
        if len(dt) > self.params.maxDets[-1]:
            dt = dt[0:self.params.maxDets[-1]]
        ious = np.zeros([len(dt), len(gt)])
        for i, j in np.ndindex(ious.shape):
            ious[i, j] = st_iou(dt[i]["_masks"], gt[j]["_masks"])
        return ious

    def run(self):
        with contextlib.redirect_stdout(io.StringIO()):
            self.evaluate()
            self.accumulate()
            self.summarize()
        return self


# ---- generated data --------------------------------------------------------------------------

def ellipse(h, w, cx, cy, rx, ry):
    yy, xx = np.mgrid[0:h, 0:w]
    return ((((xx - cx) / max(rx, 0.5)) ** 2 + ((yy - cy) / max(ry, 0.5)) ** 2) <= 1).astype(np.uint8)


def ellipse_polygon(cx, cy, rx, ry, k=12):
    a = np.linspace(0, 2 * np.pi, k, endpoint=False)
    return [[float(v) for v in np.stack([cx + rx * np.cos(a), cy + ry * np.sin(a)], 1).reshape(-1).round(2)]]


def generate_gt(rng, n_videos):
    sizes = [(48, 64), (90, 120), (200, 300), (360, 480), (36, 52)]
    cat_ids = [2, 5, 11, 40]
    videos, anns = [], []
    ann_id = 7
    for vi in range(n_videos):
        h, w = sizes[vi % len(sizes)]
        length = int(rng.integers(2, 8))
        vid = 1000 - 13 * vi  # ids out of order
        videos.append({"id": vid, "width": w, "height": h, "length": length,
                       "file_names": ["v%d/%05d.jpg" % (vid, 5 * t) for t in range(length)]})
        for _ in range(int(rng.integers(1, 5))):
            cat = int(rng.choice(cat_ids[:3]))  # category 40 has no GT
            r = float(rng.choice([0.08, 0.2, 0.35, 0.6])) * min(h, w)
            cx, cy = rng.uniform(0, w), rng.uniform(0, h)
            vx, vy = rng.uniform(-6, 6), rng.uniform(-6, 6)
            start = int(rng.integers(0, length))
            end = int(rng.integers(start, length))
            segs, boxes, areas = [], [], []
            for t in range(length):
                present = start <= t <= end and rng.random() > 0.1
                if not present:
                    segs.append(None)
                    boxes.append(None)
                    areas.append(None)
                    continue
                x, y, rx, ry = cx + vx * t, cy + vy * t, r * (1 + 0.1 * t), r * 0.7
                if rng.random() < 0.07:
                    x = -10 * w  # out of the frame: present but empty (area 0)
                m = ellipse(h, w, x, y, rx, ry)
                kind = rng.random()
                if kind < 0.15 and m.sum() > 0:
                    seg = ellipse_polygon(x, y, rx, ry)
                    m = mask_utils.decode(mask_utils.merge(mask_utils.frPyObjects(seg, h, w)))
                elif kind < 0.6:
                    seg = uncompressed(m)
                else:
                    seg = encode(m)
                rle = mask_utils.encode(np.asfortranarray(m))
                segs.append(seg)
                boxes.append([float(v) for v in mask_utils.toBbox(rle)])
                areas.append(int(m.sum()))
            if all(s is None for s in segs):
                continue
            anns.append({"id": ann_id, "video_id": vid, "category_id": cat,
                         "iscrowd": int(rng.random() < 0.07), "segmentations": segs, "bboxes": boxes,
                         "areas": areas, "height": h, "width": w, "length": 1})
            ann_id += int(rng.integers(1, 4))
    cats = [{"id": c, "name": "cat%d" % c, "supercategory": "object"} for c in cat_ids]
    return {"info": {"description": "generated"}, "videos": videos, "categories": cats, "annotations": anns}


def perturb(rng, m):
    s = 1 if rng.random() < 0.5 else 4  # good and poor predictions
    out = np.roll(np.roll(m, int(rng.integers(-s, s + 1)), 0), int(rng.integers(-s, s + 1)), 1).astype(np.uint8)
    op = rng.integers(0, 4)
    if op == 1:
        g = out.copy()
        g[1:, :] |= out[:-1, :]
        g[:, 1:] |= out[:, :-1]
        out = g
    elif op == 2:
        s = out.copy()
        s[1:, :] &= out[:-1, :]
        s[:, 1:] &= out[:, :-1]
        out = s
    elif op == 3:
        out = out ^ (rng.random(out.shape) < 0.03).astype(np.uint8)
    return out


def blob(rng, h, w):
    m = np.zeros((h, w), np.uint8)
    y0, x0 = int(rng.integers(0, h)), int(rng.integers(0, w))
    m[y0:y0 + int(rng.integers(1, max(2, h // 2))), x0:x0 + int(rng.integers(1, max(2, w // 2)))] = 1
    return m


def generate_results(rng, gt):
    videos = {v["id"]: v for v in gt["videos"]}
    cat_ids = [c["id"] for c in gt["categories"]]
    out = []

    def score():
        s = float(rng.random())
        return round(s, 1) if rng.random() < 0.3 else s

    for a in gt["annotations"]:
        if rng.random() < 0.15:
            continue
        v = videos[a["video_id"]]
        h, w = v["height"], v["width"]
        gms = [decode_segmentation(s, h, w) for s in a["segmentations"]]
        for _ in range(int(rng.integers(1, 3))):
            segs = []
            for gm in gms:
                if gm is not None:
                    segs.append(encode(perturb(rng, gm.astype(np.uint8))) if rng.random() < 0.85 else None)
                else:
                    segs.append(encode(blob(rng, h, w)) if rng.random() < 0.1 else None)
            if all(s is None for s in segs):
                segs[0] = encode(blob(rng, h, w))
            cat = a["category_id"] if rng.random() < 0.9 else int(rng.choice(cat_ids))
            out.append({"video_id": a["video_id"], "category_id": cat, "score": score(), "segmentations": segs})
    for v in gt["videos"]:
        for _ in range(int(rng.integers(0, 3))):
            segs = [encode(blob(rng, v["height"], v["width"])) if rng.random() < 0.7 else None for _ in range(v["length"])]
            out.append({"video_id": v["id"], "category_id": int(rng.choice(cat_ids)), "score": score(), "segmentations": segs})
    # more than 100 predictions of one category in the smallest video
    v = min(gt["videos"], key=lambda x: x["width"] * x["height"])
    anns = [a for a in gt["annotations"] if a["video_id"] == v["id"]]
    cat = anns[0]["category_id"] if anns else cat_ids[0]
    for _ in range(110):
        if anns and rng.random() < 0.3:
            gms = [decode_segmentation(s, v["height"], v["width"]) for s in anns[0]["segmentations"]]
            segs = [encode(perturb(rng, g.astype(np.uint8))) if g is not None else None for g in gms]
        else:
            segs = [encode(blob(rng, v["height"], v["width"])) for _ in range(v["length"])]
        out.append({"video_id": v["id"], "category_id": cat, "score": score(), "segmentations": segs})
    order = rng.permutation(len(out))
    return [out[i] for i in order]


def edge_case():
    """Hand-made: avg_area must skip an empty frame (20000 px in frames 0 and 2, 0 in frame 1:
    medium, not small); the GT's stored areas are used as stored (track 3 says 70000: large);
    two all-empty tracks (IoU 0/0 = 0: the GT of category 5 stays unmatched, AP small = 0).
    APs/m/l = 0 / 0.5 (a false positive ranked first) / 1."""
    h, w = 200, 300
    def rect(y0, x0, hh, ww):
        m = np.zeros((h, w), np.uint8)
        m[y0:y0 + hh, x0:x0 + ww] = 1
        return m
    empty = np.zeros((h, w), np.uint8)
    a = [rect(0, 0, 100, 200), empty, rect(0, 0, 100, 200)]
    b = [None, rect(120, 10, 50, 40), rect(120, 12, 50, 40)]
    video = {"id": 3, "width": w, "height": h, "length": 3, "file_names": ["e/0.jpg", "e/1.jpg", "e/2.jpg"]}
    def track(i, cat, masks, areas=None):
        return {"id": i, "video_id": 3, "category_id": cat, "iscrowd": 0,
                "segmentations": [uncompressed(m) if m is not None else None for m in masks],
                "areas": areas or [int(m.sum()) if m is not None else None for m in masks]}
    gt = {"videos": [video], "categories": [{"id": 2, "name": "a"}, {"id": 5, "name": "b"}],
          "annotations": [track(1, 2, a), track(2, 5, [empty, None, empty]), track(3, 2, b, [None, 70000, 70000])]}
    res = [{"video_id": 3, "category_id": 2, "score": 0.9, "segmentations": [encode(rect(100, 100, 100, 200))] * 3},
           {"video_id": 3, "category_id": 2, "score": 0.8, "segmentations": [encode(m) for m in a]},
           {"video_id": 3, "category_id": 2, "score": 0.8, "segmentations": [None if m is None else encode(m) for m in b]},
           {"video_id": 3, "category_id": 5, "score": 0.7, "segmentations": [encode(empty), None, encode(empty)]}]
    return gt, res


# ---- comparison ------------------------------------------------------------------------------

def run_tool(gt_path, res_path, kind="video"):
    p = subprocess.run([TOOL, kind, gt_path, res_path], capture_output=True, text=True)
    if p.returncode != 0:
        failures.append("eval_tool " + kind + " %s %s failed (%d): %s" % (gt_path, res_path, p.returncode, p.stderr.strip()))
        return None
    return json.loads(p.stdout)


def compare(tag, ref, mine):
    if mine is None:
        return
    got = np.asarray(mine["stats"], dtype=np.float64)
    for i in range(12):
        check(abs(got[i] - ref.stats[i]) <= 1e-4, "%s: %s %.6f vs reference %.6f" % (tag, NAMES[i], got[i], ref.stats[i]))
    prec = np.asarray(mine["precision"], dtype=np.float64).reshape(mine["shape"])
    rec = np.asarray(mine["recall"], dtype=np.float64).reshape([mine["shape"][i] for i in (0, 2, 3, 4)])
    ref_p, ref_r = ref.eval["precision"], ref.eval["recall"]
    check(prec.shape == ref_p.shape, "%s: precision shape %s vs %s" % (tag, prec.shape, ref_p.shape))
    if prec.shape == ref_p.shape:
        d = np.abs(prec - ref_p).max()
        check(d <= 1e-9, "%s: precision arrays differ by up to %g" % (tag, d))
        d = np.abs(rec - ref_r).max()
        check(d <= 1e-9, "%s: recall arrays differ by up to %g" % (tag, d))


def frames_as_coco(gt, results):
    """The frame-level view (frame AP of a VIS method) as ytvis_frames_as_coco /
    ytvis_results_as_coco build it: frames numbered 1.. over the videos in file order; objects
    where a track has a present, non-empty mask; results where a prediction has a mask."""
    images, anns, first = [], [], {}
    for v in gt["videos"]:
        first[v["id"]] = len(images) + 1
        for t in range(v["length"]):
            images.append({"id": len(images) + 1, "width": v["width"], "height": v["height"],
                           "file_name": v["file_names"][t]})
    videos = {v["id"]: v for v in gt["videos"]}
    for a in gt["annotations"]:
        v = videos[a["video_id"]]
        for t, sg in enumerate(a["segmentations"]):
            if sg is None or decode_segmentation(sg, v["height"], v["width"]).sum() == 0:
                continue
            anns.append({"id": len(anns) + 1, "image_id": first[a["video_id"]] + t, "category_id": a["category_id"],
                         "iscrowd": a["iscrowd"], "segmentation": sg, "bbox": a["bboxes"][t], "area": a["areas"][t]})
    dets = []
    for r in results:
        for t, sg in enumerate(r["segmentations"]):
            if sg is not None:
                dets.append({"image_id": first[r["video_id"]] + t, "category_id": r["category_id"],
                             "score": r["score"], "segmentation": sg})
    return {"images": images, "annotations": anns, "categories": gt["categories"]}, dets


def check_frame_view(tag, gt, results, gt_path, res_path, tmp):
    coco_gt, coco_dt = frames_as_coco(gt, results)
    if not coco_dt:
        return
    cg, cd = os.path.join(tmp, "frames_gt.json"), os.path.join(tmp, "frames_dt.json")
    with open(cg, "w") as f:
        json.dump(coco_gt, f)
    with open(cd, "w") as f:
        json.dump(coco_dt, f)
    with contextlib.redirect_stdout(io.StringIO()):
        g = COCO(cg)
        ev = COCOeval(g, g.loadRes(cd), "segm")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    compare(tag + " frame-level", ev, run_tool(gt_path, res_path, "frame"))
    return ev


def check_cli(gt_path, res_path, ref, tmp):
    if not os.access(CLI, os.X_OK):
        print("note: %s not built; `wsvis eval --type video` not checked" % CLI)
        return
    out = os.path.join(tmp, "metrics.json")
    # No --type: a ground truth with "videos" selects the video metrics.
    p = subprocess.run([CLI, "eval", "--gt", gt_path, "--results", res_path, "--out", out], capture_output=True, text=True)
    check(p.returncode == 0, "wsvis eval exit %d: %s" % (p.returncode, p.stderr.strip()))
    if p.returncode != 0:
        return
    with open(out) as f:
        m = json.load(f)
    check(m.get("type") == "video", "wsvis eval did not pick the video metrics: %s" % m.get("type"))
    for i, v in enumerate(m["stats"]):
        check(abs(v - ref.stats[i]) <= 1e-4, "wsvis eval metrics.json stats[%d] %.6f vs %.6f" % (i, v, ref.stats[i]))
    check_cli_temporal_consistency(gt_path, res_path, tmp)


def write_flo(path, u, v):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    h, w = u.shape
    with open(path, "wb") as f:
        np.array([202021.25], np.float32).tofile(f)
        np.array([w, h], np.int32).tofile(f)
        np.stack([u, v], axis=-1).astype(np.float32).tofile(f)


def reference_tc(gt, res, flows):
    """Temporal consistency option (a) with nearest warp, independently: class maps painted by
    score (highest on top), P_{t+1} sampled at x + F_t(x) rounded half up and clamped."""
    inter, union = {}, {}
    for v in gt["videos"]:
        h, w, n = v["height"], v["width"], v["length"]
        if n < 2:
            continue
        mine = sorted([r for r in res if r["video_id"] == v["id"]], key=lambda r: -r["score"])
        maps = []
        for t in range(n):
            m = np.zeros((h, w), np.int64)
            for r in mine:
                d = decode_segmentation(r["segmentations"][t], h, w) if t < len(r["segmentations"]) else None
                if d is not None:
                    m[d & (m == 0)] = r["category_id"]
            maps.append(m)
        ys, xs = np.mgrid[0:h, 0:w]
        for t in range(n - 1):
            u, vv = flows[(v["id"], t)]
            xs2 = np.clip(np.floor(xs + u + 0.5).astype(np.int64), 0, w - 1)
            ys2 = np.clip(np.floor(ys + vv + 0.5).astype(np.int64), 0, h - 1)
            warped, cur = maps[t + 1][ys2, xs2], maps[t]
            for c in set(np.unique(cur)) | set(np.unique(warped)):
                if c == 0:
                    continue
                inter[c] = inter.get(c, 0) + int(((cur == c) & (warped == c)).sum())
                union[c] = union.get(c, 0) + int(((cur == c) | (warped == c)).sum())
    ious = {c: inter[c] / union[c] for c in union if union[c] > 0}
    return (float(np.mean(list(ious.values()))) if ious else None), ious


def check_cli_temporal_consistency(gt_path, res_path, tmp):
    """`wsvis eval --type video --flow-dir`: the temporal-consistency block against reference_tc,
    on predictions with absent frames and integer shifts as flow (so rounding never ties)."""
    with open(gt_path) as f:
        gt = json.load(f)
    with open(res_path) as f:
        res = json.load(f)
    rng = np.random.default_rng(SEED + 1)
    flow_dir = os.path.join(tmp, "flow")
    flows = {}
    for v in gt["videos"]:
        for t in range(v["length"] - 1):
            u = rng.integers(-3, 4, (v["height"], v["width"])).astype(np.float32)
            vv = rng.integers(-3, 4, (v["height"], v["width"])).astype(np.float32)
            flows[(v["id"], t)] = (u, vv)
            stem = os.path.splitext(v["file_names"][t])[0]
            write_flo(os.path.join(flow_dir, stem + "_fw.flo"), u, vv)
    out = os.path.join(tmp, "metrics_tc.json")
    p = subprocess.run([CLI, "eval", "--gt", gt_path, "--results", res_path, "--type", "video",
                        "--flow-dir", flow_dir, "--out", out], capture_output=True, text=True)
    check(p.returncode == 0, "wsvis eval --flow-dir exit %d: %s" % (p.returncode, p.stderr.strip()))
    if p.returncode != 0:
        return
    with open(out) as f:
        got = json.load(f)["temporal_consistency"]
    value, ious = reference_tc(gt, res, flows)
    check(value is not None, "temporal consistency reference has no class")
    check(got["value"] is not None and abs(got["value"] - value) < 1e-12,
          "wsvis eval temporal consistency %s vs reference %s" % (got["value"], value))
    got_ious = {c["id"]: c["iou"] for c in got["per_class"]}
    check(got_ious.keys() == ious.keys() and all(abs(got_ious[c] - ious[c]) < 1e-12 for c in ious),
          "temporal consistency per class %s vs reference %s" % (got_ious, ious))


def main():
    if not os.access(TOOL, os.X_OK):
        print("FAIL: eval_tool not found at %r: build the eval_tool target" % TOOL)
        return 1
    rng = np.random.default_rng(SEED)
    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        for case in range(4):
            gt = generate_gt(rng, n_videos=[6, 10, 14, 10][case])
            gt_path = os.path.join(tmp, "gt%d.json" % case)
            with open(gt_path, "w") as f:
                json.dump(gt, f)
            res = generate_results(rng, gt)
            res_path = os.path.join(tmp, "results%d.json" % case)
            with open(res_path, "w") as f:
                json.dump(res, f)
            ref = YtvisReferenceEval(gt, res).run()
            compare("set %d" % case, ref, run_tool(gt_path, res_path))
            fr = check_frame_view("set %d" % case, gt, res, gt_path, res_path, tmp)
            lines.append("set %d: %d videos, %d GT tracks, %d predictions: AP %.4f AP50 %.4f AP75 %.4f "
                         "AR1 %.4f AR10 %.4f APs/m/l %.3f/%.3f/%.3f" % (
                             case, len(gt["videos"]), len(gt["annotations"]), len(res), ref.stats[0],
                             ref.stats[1], ref.stats[2], ref.stats[6], ref.stats[7], ref.stats[3],
                             ref.stats[4], ref.stats[5]))
            lines.append("set %d frame-level (pycocotools COCOeval segm): AP %.4f AP50 %.4f" % (case, fr.stats[0], fr.stats[1]))
            if case == 0:
                check_cli(gt_path, res_path, ref, tmp)
        gt_e, res_e = edge_case()
        for name, obj in (("edge_gt.json", gt_e), ("edge_res.json", res_e)):
            with open(os.path.join(tmp, name), "w") as f:
                json.dump(obj, f)
        ref_e = YtvisReferenceEval(gt_e, res_e).run()
        check(abs(ref_e.stats[4] - 0.5) < 1e-9 and abs(ref_e.stats[5] - 1.0) < 1e-9 and ref_e.stats[3] == 0.0,
              "edge case reference: APs/m/l %s" % ref_e.stats[3:6])
        compare("edge", ref_e, run_tool(os.path.join(tmp, "edge_gt.json"), os.path.join(tmp, "edge_res.json")))
        lines.append("edge case: AP %.4f APs/m/l %.3f/%.3f/%.3f" % (ref_e.stats[0], ref_e.stats[3], ref_e.stats[4], ref_e.stats[5]))
        # Sanity of the reference itself: the last set's GT as its own predictions. AP is 1
        # except for tracks whose every present mask is empty (IoU 0/0 = 0, never matched).
        videos = {v["id"]: v for v in gt["videos"]}
        perfect = []
        for n, a in enumerate(gt["annotations"]):
            if a["iscrowd"]:
                continue
            v = videos[a["video_id"]]
            masks = [decode_segmentation(sg, v["height"], v["width"]) for sg in a["segmentations"]]
            perfect.append({"video_id": a["video_id"], "category_id": a["category_id"], "score": 1.0 - 0.001 * n,
                            "segmentations": [encode(m) if m is not None else None for m in masks]})
        res_path = os.path.join(tmp, "perfect.json")
        with open(res_path, "w") as f:
            json.dump(perfect, f)
        ref = YtvisReferenceEval(gt, perfect).run()
        check(ref.stats[1] > 0.9, "reference on perfect predictions: AP50 %.6f" % ref.stats[1])
        compare("perfect", ref, run_tool(gt_path, res_path))
        lines.append("GT as predictions: AP %.4f AP50 %.4f" % (ref.stats[0], ref.stats[1]))
    for line in lines:
        print("  " + line)
    if failures:
        print("FAIL: %d of %d checks differ from the reference; first ones:" % (len(failures), checks))
        for f in failures[:25]:
            print("  " + f)
        return 1
    print("OK: %d checks on 4 generated video sets, a hand-made edge case and GT-as-predictions: the 12 "
          "stats (1e-4) and the precision/recall arrays (1e-9) equal the pycocotools-COCOeval YouTube-VIS "
          "reference, and the frame-level view equals pycocotools COCOeval segm (seed %d)" % (checks, SEED))
    return 0


if __name__ == "__main__":
    sys.exit(main())
