#!/usr/bin/env python3
"""Compares wsvis' COCO evaluator (data/coco_eval.h, through tests/tools/eval_tool and
`wsvis eval`) with pycocotools' COCOeval, iouType segm and bbox.

Ground truth: the real ../shared/data/coco_dummy annotations (polygons, a multi-part polygon, an
uncompressed-RLE crowd) and a generated synthetic COCO set (25 images of several sizes, 5
categories with non-contiguous ids, polygon and RLE objects from tiny to large, crowds, images
without objects, a GT id 0, images listed out of id order). Predictions (fixed seeds):
perturbed GT masks and boxes (shifted, grown, shrunk, noisy), duplicates, wrong categories,
missed objects, false positives, quantised scores (ties), more than 100 detections in one
image, categories the GT lacks. Three result flavours, since pycocotools' loadRes treats them
differently: segmentation only (area = mask area), segmentation + bbox (area = box w*h), bbox only
(segm scores the box polygon); and a "good" set (every object found, masks off by a pixel at
most, no false positives) for the high-AP end.

Checks: the 12 summary numbers to 1e-4 (the brief), and the full precision (T,R,K,A,M) and recall
(T,K,A,M) arrays to 1e-9; one case also through the `wsvis eval` command and its metrics.json.

Usage: python3 tests/python/test_coco_eval_pycocotools.py [BUILD_DIR]. Exit 0 pass, 1 fail,
77 when pycocotools/numpy cannot be installed.
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
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SEED = 20261121
failures = []
checks = 0


def shared_data_dir():
    cands = [os.environ.get("WSVIS_TEST_DATA", ""), os.path.join(ROOT, "shared", "data"),
             os.path.join(ROOT, "..", "shared", "data"), "/work/shared/data"]
    for c in cands:
        if c and os.path.isdir(os.path.join(c, "coco_dummy")):
            return c
    return None


def check(cond, what):
    global checks
    checks += 1
    if not cond:
        failures.append(what)


def rle_str(rle):
    c = rle["counts"]
    return {"size": [int(rle["size"][0]), int(rle["size"][1])],
            "counts": c.decode("ascii") if isinstance(c, bytes) else c}


def encode(mask):
    return mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))


# ---- ground truth ---------------------------------------------------------------------------

def star_polygon(rng, cx, cy, r):
    k = int(rng.integers(3, 10))
    ang = np.sort(rng.uniform(0, 2 * np.pi, k))
    rad = rng.uniform(0.4 * r, r, k)
    return [float(v) for v in np.stack([cx + rad * np.cos(ang), cy + rad * np.sin(ang)], 1).reshape(-1).round(2)]


def uncompressed_counts(m):
    """Column-major run lengths starting with a run of 0s (COCO's uncompressed RLE)."""
    flat = m.reshape(-1, order="F").astype(np.int64)
    cuts = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    runs = np.diff(np.concatenate([[0], cuts, [flat.size]])).tolist()
    if flat[0] == 1:
        runs = [0] + runs
    return [int(v) for v in runs]


def synthetic_gt(rng):
    cat_ids = [1, 3, 7, 12, 20]
    images, anns = [], []
    ids = list(rng.permutation(np.arange(1, 5000))[:400])
    ids[5] = 0  # pycocotools treats a match to GT id 0 as "no match": kept identical on purpose
    sizes = [(48, 64), (120, 160), (240, 320), (300, 200), (33, 47)]
    image_ids = [int(v) for v in rng.permutation(np.arange(100, 125))]  # out of order
    for n, iid in enumerate(image_ids):
        h, w = sizes[n % len(sizes)]
        images.append({"id": iid, "width": w, "height": h, "file_name": "%d.jpg" % iid})
        if n % 9 == 4:
            continue  # an image without objects
        for _ in range(int(rng.integers(1, 9))):
            cat = int(rng.choice(cat_ids[:4]))  # category 20 has no GT at all
            scale = float(rng.choice([3, 8, 20, 45, 80]))
            r = min(scale, min(h, w) / 2)
            cx, cy = rng.uniform(0, w), rng.uniform(0, h)
            kind = rng.random()
            crowd = int(rng.random() < 0.06)
            if kind < 0.55 and not crowd:
                polys = [star_polygon(rng, cx, cy, r)]
                if rng.random() < 0.2:
                    polys.append(star_polygon(rng, rng.uniform(0, w), rng.uniform(0, h), r / 2))
                rles = mask_utils.frPyObjects(polys, h, w)
                m = mask_utils.decode(mask_utils.merge(rles))
                if m.sum() == 0:
                    continue
                seg = polys
            else:
                yy, xx = np.mgrid[0:h, 0:w]
                m = (((xx - cx) / max(r, 1)) ** 2 + ((yy - cy) / max(r * rng.uniform(0.5, 1.5), 1)) ** 2 <= 1)
                m = m.astype(np.uint8)
                if m.sum() == 0:
                    continue
                enc = encode(m)
                if rng.random() < 0.5 or crowd:
                    # uncompressed, column-major runs, as COCO crowds and YTVIS train store them
                    seg = {"size": [h, w], "counts": uncompressed_counts(m)}
                else:
                    seg = rle_str(enc)
            ys, xs = np.nonzero(m)
            bbox = [float(xs.min()), float(ys.min()), float(xs.max() - xs.min() + 1), float(ys.max() - ys.min() + 1)]
            if rng.random() < 0.3:
                bbox = [round(v + rng.uniform(-1, 1), 2) for v in bbox]
                bbox[2], bbox[3] = max(bbox[2], 0.5), max(bbox[3], 0.5)
            area = float(m.sum()) if rng.random() < 0.7 else round(float(m.sum()) * rng.uniform(0.9, 1.1), 3)
            anns.append({"id": int(ids[len(anns)]), "image_id": iid, "category_id": cat, "iscrowd": crowd,
                         "segmentation": seg, "bbox": bbox, "area": area})
    cats = [{"id": c, "name": "c%d" % c, "supercategory": "s"} for c in cat_ids]
    return {"images": images, "annotations": anns, "categories": cats}


# ---- predictions ----------------------------------------------------------------------------

def gt_mask(coco, ann):
    return coco.annToMask(ann)


def perturb(rng, m, good=False):
    h, w = m.shape
    out = m.copy()
    s = 1 if good or rng.random() < 0.5 else 3  # good and poor predictions
    dx, dy = int(rng.integers(-s, s + 1)), int(rng.integers(-s, s + 1))
    out = np.roll(np.roll(out, dy, 0), dx, 1)
    op = rng.integers(0, 4)
    if op == 1:  # grow
        g = out.copy()
        g[1:, :] |= out[:-1, :]
        g[:, 1:] |= out[:, :-1]
        out = g
    elif op == 2:  # shrink
        s = out.copy()
        s[1:, :] &= out[:-1, :]
        s[:, 1:] &= out[:, :-1]
        out = s
    elif op == 3 and not good:  # noise
        out = out ^ (rng.random((h, w)) < 0.03).astype(np.uint8)
    return out.astype(np.uint8)


def random_blob(rng, h, w):
    m = np.zeros((h, w), np.uint8)
    y0, x0 = int(rng.integers(0, h)), int(rng.integers(0, w))
    m[y0:y0 + int(rng.integers(1, max(2, h // 2))), x0:x0 + int(rng.integers(1, max(2, w // 2)))] = 1
    return m


def make_results(rng, gt_path, flavour):
    """flavour: segm | both | bbox (what each result carries), or good (segm, no misses, no false
    positives, masks off by at most a pixel: AP near 1)."""
    good = flavour == "good"
    if good:
        flavour = "segm"
    coco = COCO_quiet(gt_path)
    cat_ids = sorted(coco.getCatIds())
    res = []
    for iid in sorted(coco.getImgIds()):
        img = coco.imgs[iid]
        h, w = img["height"], img["width"]
        for ann in coco.imgToAnns.get(iid, []):
            if rng.random() < 0.15 and not good:
                continue  # missed
            m = gt_mask(coco, ann)
            for _ in range(1 if good else int(rng.integers(1, 3))):
                pm = perturb(rng, m, good)
                cat = ann["category_id"] if good or rng.random() < 0.9 else int(rng.choice(cat_ids))
                res.append((iid, cat, pm, h, w))
        for _ in range(0 if good else int(rng.integers(0, 5))):  # false positives
            res.append((iid, int(rng.choice(cat_ids + [999])), random_blob(rng, h, w), h, w))
    # one image with more than 100 detections of one category
    iid = sorted(coco.getImgIds())[0]
    img = coco.imgs[iid]
    anns = coco.imgToAnns.get(iid, [])
    cat = anns[0]["category_id"] if anns else cat_ids[0]
    for _ in range(0 if good else 115):
        base = gt_mask(coco, anns[0]) if anns and rng.random() < 0.3 else random_blob(rng, img["height"], img["width"])
        res.append((iid, cat, perturb(rng, base), img["height"], img["width"]))
    out = []
    for iid, cat, pm, h, w in res:
        score = float(rng.random())
        if rng.random() < 0.3:
            score = round(score, 1)  # ties: the stable sort must keep the input order
        r = {"image_id": int(iid), "category_id": int(cat), "score": score}
        enc = encode(pm)
        box = [float(v) for v in mask_utils.toBbox(enc)]
        if flavour in ("segm", "both"):
            r["segmentation"] = rle_str(enc)
        if flavour in ("both", "bbox"):
            if rng.random() < 0.5:
                box = [round(box[0] + rng.uniform(-2, 2), 2), round(box[1] + rng.uniform(-2, 2), 2),
                       round(max(box[2] + rng.uniform(-2, 2), 0.5), 2), round(max(box[3] + rng.uniform(-2, 2), 0.5), 2)]
            r["bbox"] = box
        out.append(r)
    # pycocotools skips results of categories the GT lacks; wsvis' results reader rejects them
    # as an input error (tested in C++), so they are not written.
    out = [r for r in out if r["category_id"] in cat_ids]
    rng.shuffle(out)
    return out


def COCO_quiet(path):
    with contextlib.redirect_stdout(io.StringIO()):
        return COCO(path)


def pycocotools_eval(gt_path, res_path, iou_type):
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(gt_path)
        dt = gt.loadRes(res_path)
        ev = COCOeval(gt, dt, iou_type)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev


def run_tool(iou_type, gt_path, res_path):
    p = subprocess.run([TOOL, iou_type, gt_path, res_path], capture_output=True, text=True)
    if p.returncode != 0:
        failures.append("eval_tool %s %s %s failed (%d): %s" % (iou_type, gt_path, res_path, p.returncode, p.stderr.strip()))
        return None
    return json.loads(p.stdout)


def compare(tag, ev, mine):
    if mine is None:
        return
    ref_stats = np.asarray(ev.stats, dtype=np.float64)
    got = np.asarray(mine["stats"], dtype=np.float64)
    names = ["AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"]
    for i in range(12):
        check(abs(got[i] - ref_stats[i]) <= 1e-4, "%s: %s %.6f vs pycocotools %.6f" % (tag, names[i], got[i], ref_stats[i]))
    prec = np.asarray(mine["precision"], dtype=np.float64).reshape(mine["shape"])
    rec = np.asarray(mine["recall"], dtype=np.float64).reshape([mine["shape"][i] for i in (0, 2, 3, 4)])
    ref_p, ref_r = ev.eval["precision"], ev.eval["recall"]
    check(prec.shape == ref_p.shape, "%s: precision shape %s vs %s" % (tag, prec.shape, ref_p.shape))
    if prec.shape == ref_p.shape:
        d = np.abs(prec - ref_p).max()
        check(d <= 1e-9, "%s: precision arrays differ by up to %g (%d entries)" % (tag, d, int((np.abs(prec - ref_p) > 1e-9).sum())))
        d = np.abs(rec - ref_r).max()
        check(d <= 1e-9, "%s: recall arrays differ by up to %g" % (tag, d))
    return ref_stats


def run_case(name, gt_path, seed, tmp):
    rng = np.random.default_rng(seed)
    summary = []
    for flavour in ("segm", "both", "bbox", "good"):
        res = make_results(rng, gt_path, flavour)
        res_path = os.path.join(tmp, "%s_%s_results.json" % (name, flavour))
        with open(res_path, "w") as f:
            json.dump(res, f)
        for iou_type in ("segm", "bbox"):
            ev = pycocotools_eval(gt_path, res_path, iou_type)
            mine = run_tool(iou_type, gt_path, res_path)
            compare("%s/%s results/%s" % (name, flavour, iou_type), ev, mine)
            summary.append("%s/%s/%s AP %.4f AP50 %.4f AR100 %.4f (%d dets)" % (
                name, flavour, iou_type, ev.stats[0], ev.stats[1], ev.stats[8], len(res)))
    return summary


def check_cli(gt_path, res_path, tmp):
    if not os.access(CLI, os.X_OK):
        print("note: %s not built; `wsvis eval` not checked" % CLI)
        return
    out = os.path.join(tmp, "metrics.json")
    p = subprocess.run([CLI, "eval", "--gt", gt_path, "--results", res_path, "--type", "segm", "--out", out],
                       capture_output=True, text=True)
    check(p.returncode == 0, "wsvis eval exit %d: %s" % (p.returncode, p.stderr.strip()))
    if p.returncode != 0:
        return
    with open(out) as f:
        m = json.load(f)
    ev = pycocotools_eval(gt_path, res_path, "segm")
    for i, v in enumerate(m["stats"]):
        check(abs(v - ev.stats[i]) <= 1e-4, "wsvis eval metrics.json stats[%d] %.6f vs %.6f" % (i, v, ev.stats[i]))
    check(abs(m["metrics"]["AP"] - ev.stats[0]) <= 1e-4, "wsvis eval metrics.json AP")
    # Bad input: exit status 2 and the file named.
    bad = os.path.join(tmp, "bad.json")
    with open(bad, "w") as f:
        f.write("[{\"image_id\": 1,")
    p = subprocess.run([CLI, "eval", "--gt", gt_path, "--results", bad], capture_output=True, text=True)
    check(p.returncode == 2 and "bad.json" in p.stderr, "wsvis eval on malformed results: exit %d, %r" % (p.returncode, p.stderr))


def main():
    if not os.access(TOOL, os.X_OK):
        print("FAIL: eval_tool not found at %r: build the eval_tool target" % TOOL)
        return 1
    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        data = shared_data_dir()
        if data:
            dummy = os.path.join(data, "coco_dummy", "annotations", "instances_val2017.json")
            for s in range(3):
                lines += run_case("coco_dummy#%d" % s, dummy, SEED + s, tmp)
        else:
            print("note: shared data (coco_dummy) not found; only the synthetic set is checked")
        rng = np.random.default_rng(SEED + 100)
        for s in range(2):
            synth = synthetic_gt(rng)
            gt_path = os.path.join(tmp, "synthetic%d.json" % s)
            with open(gt_path, "w") as f:
                json.dump(synth, f)
            lines += run_case("synthetic#%d" % s, gt_path, SEED + 200 + s, tmp)
        if data:
            check_cli(dummy, os.path.join(tmp, "coco_dummy#0_segm_results.json"), tmp)
    for line in lines:
        print("  " + line)
    if failures:
        print("FAIL: %d of %d checks differ from pycocotools COCOeval; first ones:" % (len(failures), checks))
        for f in failures[:25]:
            print("  " + f)
        return 1
    try:
        from importlib.metadata import version
        ver = version("pycocotools")
    except Exception:  # pragma: no cover
        ver = "?"
    print("OK: %d checks, %d evaluations: the 12 stats (1e-4) and the precision/recall arrays (1e-9) "
          "equal pycocotools %s COCOeval (seed %d)" % (checks, len(lines), ver, SEED))
    return 0


if __name__ == "__main__":
    sys.exit(main())
