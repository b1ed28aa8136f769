#!/usr/bin/env python3
"""Compares wsvis' COCO RLE (data/rle.h, driven through tests/tools/rle_tool) with pycocotools.

Checks, on a few hundred random cases with a fixed seed: encode (counts, compressed string,
area, toBbox, decode round trip), counts <-> string for arbitrary (also non-canonical) count
lists, area/toBbox of non-canonical counts, frPoly (each part and the union), frBbox, merge
(union and intersection), IoU with iscrowd (incl. differently sized masks) and box IoU.
IoM is not in pycocotools; it is checked against numpy.

Usage: python3 tests/python/test_rle_pycocotools.py [BUILD_DIR]   (or WSVIS_BUILD_DIR=...,
or WSVIS_RLE_TOOL=<path of rle_tool>). Installs pycocotools and numpy with pip when missing.
Exit status 0 when everything matches, 1 otherwise (the first mismatches are printed), 77 when
pycocotools cannot be installed (offline machine).
"""
import json
import os
import subprocess
import sys
import tempfile


from wsvis_testing import require_packages, tool_path  # noqa: E402

require_packages(['numpy', 'pycocotools'])

import numpy as np  # noqa: E402
from pycocotools import mask as mask_utils  # noqa: E402




TOOL = os.environ.get("WSVIS_RLE_TOOL") or tool_path("rle_tool")
SEED = 20261121
rng = np.random.default_rng(SEED)
failures = []
checks = 0


def check(cond, what):
    global checks
    checks += 1
    if not cond:
        failures.append(what)


def run_tool(requests):
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(requests, f)
        path = f.name
    try:
        out = subprocess.run([TOOL, path], check=True, capture_output=True, text=True).stdout
    finally:
        os.unlink(path)
    responses = json.loads(out)
    assert len(responses) == len(requests), "tool answered %d of %d" % (len(responses), len(requests))
    for q, r in zip(requests, responses):
        if "error" in r:
            failures.append("tool error on %s: %s" % (json.dumps(q)[:200], r["error"]))
    return responses


def coco_string(rle):
    c = rle["counts"]
    return c.decode("ascii") if isinstance(c, bytes) else c


# ---- random masks ------------------------------------------------------------------------------

def random_mask(h, w):
    kind = rng.integers(0, 6)
    if kind == 0:
        return (rng.random((h, w)) < rng.random()).astype(np.uint8)
    if kind == 1:  # a few rectangles
        m = np.zeros((h, w), np.uint8)
        for _ in range(rng.integers(1, 4)):
            y0, x0 = rng.integers(0, h), rng.integers(0, w)
            m[y0:y0 + rng.integers(1, h + 1), x0:x0 + rng.integers(1, w + 1)] = 1
        return m
    if kind == 2:  # a disc
        yy, xx = np.mgrid[0:h, 0:w]
        cy, cx, r = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(0.5, max(h, w))
        return (((yy - cy) ** 2 + (xx - cx) ** 2) <= r * r).astype(np.uint8)
    if kind == 3:
        return np.zeros((h, w), np.uint8)
    if kind == 4:
        return np.ones((h, w), np.uint8)
    m = np.zeros((h, w), np.uint8)  # single pixels
    for _ in range(rng.integers(1, 4)):
        m[rng.integers(0, h), rng.integers(0, w)] = 1
    return m


def mask_cases():
    cases = []
    for _ in range(300):
        h, w = int(rng.integers(1, 41)), int(rng.integers(1, 41))
        cases.append(random_mask(h, w))
    # Shapes that stress the string encoding: long runs, large negative differences.
    big = np.zeros((720, 1280), np.uint8)
    big[100:150, 100:150] = 1
    cases.append(big)
    big2 = np.zeros((480, 854), np.uint8)
    big2[:, 400:] = 1
    big2[10:470, 0:3] = 1
    big2[200, :] = 0
    cases.append(big2)
    cases.append((rng.random((300, 500)) < 0.5).astype(np.uint8))
    cases.append(np.array([[1]], np.uint8))
    cases.append(np.array([[0]], np.uint8))
    return cases


def test_encode():
    masks = mask_cases()
    reqs = [{"op": "encode", "h": int(m.shape[0]), "w": int(m.shape[1]),
             "mask": "".join("1" if v else "0" for v in m.reshape(-1))} for m in masks]
    resps = run_tool(reqs)
    for i, (m, r) in enumerate(zip(masks, resps)):
        if "error" in r:
            continue
        ref = mask_utils.encode(np.asfortranarray(m))
        tag = "mask %d (%dx%d)" % (i, m.shape[0], m.shape[1])
        check(r["string"] == coco_string(ref), "%s: string %r vs pycocotools %r" % (tag, r["string"][:60], coco_string(ref)[:60]))
        check(r["area"] == int(mask_utils.area(ref)), "%s: area %s vs %s" % (tag, r["area"], mask_utils.area(ref)))
        check(list(r["bbox"]) == [float(v) for v in mask_utils.toBbox(ref)],
              "%s: bbox %s vs %s" % (tag, r["bbox"], list(mask_utils.toBbox(ref))))
        check(r["roundtrip"], "%s: decode(encode) differs from the mask" % tag)
        check(np.array_equal(mask_utils.decode(ref), m), "%s: pycocotools itself does not round-trip" % tag)
        check(sum(r["counts"]) == m.size, "%s: counts sum to %d, not %d" % (tag, sum(r["counts"]), m.size))
    return len(masks)


def test_counts_strings():
    """Arbitrary count lists (zeros, huge values, big jumps) through both encoders."""
    lists = []
    for _ in range(200):
        n = int(rng.integers(1, 30))
        scale = [3, 40, 2000, 100000, 2 ** 31][rng.integers(0, 5)]
        c = rng.integers(0, scale, size=n)
        c[rng.random(n) < 0.15] = 0
        lists.append([int(v) for v in c])
    lists += [[0], [5], [0, 0, 0], [4294967295], [1, 4294967295, 0, 4294967295, 1]]
    reqs = [{"op": "counts_to_string", "counts": c} for c in lists]
    resps = run_tool(reqs)
    strings = []
    for i, (c, r) in enumerate(zip(lists, resps)):
        if "error" in r:
            strings.append("")
            continue
        h = sum(c)
        # pycocotools turns an uncompressed RLE into the compressed string (rleToString).
        ref = mask_utils.frPyObjects({"size": [h, 1], "counts": c}, h, 1) if h < 2 ** 32 else None
        if ref is not None:
            check(r["string"] == coco_string(ref), "counts %d: string %r vs %r" % (i, r["string"], coco_string(ref)))
        strings.append(r["string"])
    back = run_tool([{"op": "string_to_counts", "s": s} for s in strings])
    for i, (c, r) in enumerate(zip(lists, back)):
        if "error" not in r:
            check(r["counts"] == c, "counts %d: string round trip %s vs %s" % (i, r["counts"][:8], c[:8]))

    # area / toBbox of valid but non-canonical counts (zero-length runs inside)
    reqs, refs = [], []
    for _ in range(150):
        h, w = int(rng.integers(1, 30)), int(rng.integers(1, 30))
        cuts = np.sort(rng.integers(0, h * w + 1, size=int(rng.integers(0, 12))))
        c = np.diff(np.concatenate([[0], cuts, [h * w]])).astype(int).tolist()
        reqs.append({"op": "measure", "h": h, "w": w, "counts": c})
        refs.append(mask_utils.frPyObjects({"size": [h, w], "counts": c}, h, w))
    for i, (r, ref) in enumerate(zip(run_tool(reqs), refs)):
        if "error" in r:
            continue
        check(r["area"] == int(mask_utils.area(ref)), "measure %d: area %s vs %s" % (i, r["area"], mask_utils.area(ref)))
        if r["area"] > 0:
            check(list(r["bbox"]) == [float(v) for v in mask_utils.toBbox(ref)],
                  "measure %d (%s): bbox %s vs %s" % (i, reqs[i]["counts"], r["bbox"], list(mask_utils.toBbox(ref))))
        else:  # pycocotools wraps around here when zero-length foreground runs exist; we give zeros
            check(list(r["bbox"]) == [0.0, 0.0, 0.0, 0.0], "measure %d: empty mask bbox %s" % (i, r["bbox"]))
    return len(lists) + len(reqs)


def random_polygon(h, w):
    k = int(rng.integers(3, 13))
    kind = rng.integers(0, 4)
    if kind == 0:  # star-shaped around a centre: a simple polygon
        cy, cx = rng.uniform(0, h), rng.uniform(0, w)
        ang = np.sort(rng.uniform(0, 2 * np.pi, k))
        rad = rng.uniform(0.5, max(h, w) / 2, k)
        pts = np.stack([cx + rad * np.cos(ang), cy + rad * np.sin(ang)], 1)
    elif kind == 1:  # arbitrary, may self-intersect and leave the image
        pts = np.stack([rng.uniform(-5, w + 5, k), rng.uniform(-5, h + 5, k)], 1)
    elif kind == 2:  # integer and half-integer vertices (rounding ties at the x5 scale)
        pts = np.stack([rng.integers(-2, 2 * w + 2, k) / 2.0, rng.integers(-2, 2 * h + 2, k) / 2.0], 1)
    else:  # repeated vertices (zero-length edges)
        pts = np.stack([rng.uniform(0, w, k), rng.uniform(0, h, k)], 1)
        pts = np.repeat(pts, 2, axis=0)
    return [float(v) for v in pts.reshape(-1)]


def test_polygons():
    cases = []
    for _ in range(300):
        h, w = int(rng.integers(1, 60)), int(rng.integers(1, 60))
        polys = [random_polygon(h, w) for _ in range(int(rng.integers(1, 4)))]
        cases.append((h, w, polys))
    cases.append((427, 640, [[59.0, 253.0, 311.0, 253.0, 311.0, 337.0, 59.0, 337.0]]))
    reqs = [{"op": "poly", "h": h, "w": w, "polys": p} for h, w, p in cases]
    for i, ((h, w, polys), r) in enumerate(zip(cases, run_tool(reqs))):
        if "error" in r:
            continue
        ref_parts = mask_utils.frPyObjects(polys, h, w)
        for j, (mine, ref) in enumerate(zip(r["parts"], ref_parts)):
            check(mine == coco_string(ref), "polygon %d part %d (%dx%d, %s): %r vs %r" % (i, j, h, w, polys[j][:6], mine, coco_string(ref)))
        merged = mask_utils.merge(ref_parts)
        check(r["merged"] == coco_string(merged), "polygon %d union: %r vs %r" % (i, r["merged"], coco_string(merged)))
        check(r["merged_area"] == int(mask_utils.area(merged)), "polygon %d area" % i)

    boxes = []
    for _ in range(150):
        h, w = int(rng.integers(1, 60)), int(rng.integers(1, 60))
        box = [float(rng.uniform(-5, w)), float(rng.uniform(-5, h)), float(rng.uniform(0, w)), float(rng.uniform(0, h))]
        if rng.random() < 0.3:
            box = [float(round(v)) for v in box]
        boxes.append((h, w, box))
    reqs = [{"op": "bbox", "h": h, "w": w, "box": b} for h, w, b in boxes]
    for i, ((h, w, b), r) in enumerate(zip(boxes, run_tool(reqs))):
        if "error" in r:
            continue
        ref = mask_utils.frPyObjects(np.array([b], dtype=np.float64), h, w)[0]
        check(r["string"] == coco_string(ref), "box %d %s in %dx%d: %r vs %r" % (i, b, h, w, r["string"], coco_string(ref)))
    return len(cases) + len(boxes)


def test_merge_iou():
    groups = []
    for _ in range(120):
        h, w = int(rng.integers(1, 30)), int(rng.integers(1, 30))
        n = int(rng.integers(2, 5))
        groups.append((h, w, [mask_utils.encode(np.asfortranarray(random_mask(h, w))) for _ in range(n)]))
    reqs = []
    for h, w, rles in groups:
        for inter in (False, True):
            reqs.append({"op": "merge", "h": h, "w": w, "rles": [coco_string(r) for r in rles], "intersect": inter})
    resps = run_tool(reqs)
    k = 0
    for i, (h, w, rles) in enumerate(groups):
        for inter in (False, True):
            ref = mask_utils.merge(rles, intersect=int(inter))
            r = resps[k]
            k += 1
            if "error" not in r:
                check(r["string"] == coco_string(ref), "merge %d (intersect=%s): %r vs %r" % (i, inter, r["string"], coco_string(ref)))

    iou_cases = []
    for _ in range(100):
        h, w = int(rng.integers(1, 30)), int(rng.integers(1, 30))
        dt = [mask_utils.encode(np.asfortranarray(random_mask(h, w))) for _ in range(int(rng.integers(1, 6)))]
        gt = [mask_utils.encode(np.asfortranarray(random_mask(h, w))) for _ in range(int(rng.integers(1, 6)))]
        if rng.random() < 0.2:  # a ground truth of another size: pycocotools gives -1 (if boxes overlap)
            gt.append(mask_utils.encode(np.asfortranarray(np.ones((h + 1, w), np.uint8))))
        crowd = [int(v) for v in rng.integers(0, 2, len(gt))]
        iou_cases.append((dt, gt, crowd))
    to_json = lambda r: {"size": [int(r["size"][0]), int(r["size"][1])], "counts": coco_string(r)}
    reqs = [{"op": "iou", "dt": [to_json(r) for r in dt], "gt": [to_json(r) for r in gt], "iscrowd": c}
            for dt, gt, c in iou_cases]
    for i, ((dt, gt, crowd), r) in enumerate(zip(iou_cases, run_tool(reqs))):
        if "error" in r:
            continue
        ref = np.asarray(mask_utils.iou(dt, gt, crowd), dtype=np.float64).reshape(len(dt), len(gt))
        mine = np.asarray(r["iou"], dtype=np.float64).reshape(len(dt), len(gt))
        check(np.array_equal(mine, ref), "iou %d: %s vs %s" % (i, mine.tolist(), ref.tolist()))
        # IoM against numpy on the decoded masks
        iom = np.asarray(r["iom"], dtype=np.float64).reshape(len(dt), len(gt))
        for d, rd in enumerate(dt):
            md = mask_utils.decode(rd).astype(bool)
            for g, rg in enumerate(gt):
                mg = mask_utils.decode(rg).astype(bool)
                if md.shape != mg.shape:
                    expect = -1.0
                else:
                    inter = np.logical_and(md, mg).sum()
                    mn = min(md.sum(), mg.sum())
                    expect = 0.0 if inter == 0 or mn == 0 else inter / mn
                check(iom[d, g] == expect, "iom %d [%d,%d]: %s vs %s" % (i, d, g, iom[d, g], expect))

    box_cases = []
    for _ in range(100):
        dt = rng.uniform(0, 20, (int(rng.integers(1, 6)), 4)).round(int(rng.integers(0, 3)))
        gt = rng.uniform(0, 20, (int(rng.integers(1, 6)), 4)).round(int(rng.integers(0, 3)))
        crowd = [int(v) for v in rng.integers(0, 2, len(gt))]
        box_cases.append((dt, gt, crowd))
    reqs = [{"op": "bbox_iou", "dt": dt.tolist(), "gt": gt.tolist(), "iscrowd": c} for dt, gt, c in box_cases]
    for i, ((dt, gt, crowd), r) in enumerate(zip(box_cases, run_tool(reqs))):
        if "error" in r:
            continue
        ref = np.asarray(mask_utils.iou(dt, gt, crowd), dtype=np.float64).reshape(len(dt), len(gt))
        check(np.array_equal(np.asarray(r["iou"]).reshape(len(dt), len(gt)), ref), "box iou %d" % i)
    return len(groups) + len(iou_cases) + len(box_cases)


def main():
    if not TOOL or not os.access(TOOL, os.X_OK):
        print("FAIL: rle_tool not found at %r: build the rle_tool target (or set WSVIS_RLE_TOOL)" % TOOL)
        return 1
    n = test_encode()
    n += test_counts_strings()
    n += test_polygons()
    n += test_merge_iou()
    if failures:
        print("FAIL: %d of %d checks differ from pycocotools (%d cases); first ones:" % (len(failures), checks, n))
        for f in failures[:20]:
            print("  " + f)
        return 1
    try:
        from importlib.metadata import version
        ver = version("pycocotools")
    except Exception:  # pragma: no cover - metadata missing
        ver = "?"
    print("OK: %d checks on %d cases match pycocotools %s (seed %d)" % (checks, n, ver, SEED))
    return 0


if __name__ == "__main__":
    sys.exit(main())
