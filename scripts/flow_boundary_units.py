#!/usr/bin/env python3
"""How the flow-boundary loss's threshold falls on a dataset: for IRN's radius-10 pairs on the
stride-4 grid, the fraction of pairs whose flow-gradient difference ||F'(i) - F'(j)|| exceeds
lambda, separately for pairs that cross a ground-truth instance boundary and pairs inside one
region, at each flow scale (the units of F', spec irn_flowirn_maskconsist.md section 7).

    scripts/flow_boundary_units.py DATASET_ROOT [--scales 0.25 1] [--lambda 2] [--frames 60]

Per pair the loss ||dF'|| alpha + lambda |1 - alpha| is lowest at alpha = 0 only where
||dF'|| > lambda, so these fractions say where the loss asks for a boundary. Same sampling
as wsvis (flow and labels at pixels 4i+2; forward differences, 0 across the last row/column;
the frame's t -> t+1 flow, t -> t-1 for a video's last frame). Needs numpy.
"""
import argparse
import json
import os
import struct

import numpy as np

from stage1_report import rle_decode  # scripts/ is on the path when this script runs


def read_flo(path):
    data = open(path, "rb").read()
    w, h = struct.unpack("ii", data[4:12])
    return np.frombuffer(data[12:], np.float32).reshape(h, w, 2)


def directions(radius):
    out = [(0, x) for x in range(1, radius)]
    out += [(y, x) for y in range(1, radius) for x in range(-radius + 1, radius) if x * x + y * y < radius * radius]
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("root")
    ap.add_argument("--scales", type=float, nargs="+", default=[0.25, 1.0])
    ap.add_argument("--lambda", dest="lam", type=float, default=2.0)
    ap.add_argument("--frames", type=int, default=60)
    args = ap.parse_args()
    d = json.load(open(os.path.join(args.root, "train.json")))
    videos = {v["id"]: v for v in d["videos"]}
    instances, last = {}, set()
    for a in d["annotations"]:
        v = videos[a["video_id"]]
        for t, s in enumerate(a["segmentations"]):
            if s is None or isinstance(s["counts"], str):
                continue
            key = v["file_names"][t].rsplit(".", 1)[0]
            if t == v["length"] - 1:
                last.add(key)
            g = instances.setdefault(key, np.zeros((v["height"], v["width"]), np.int64))
            g[rle_decode(s["counts"], *s["size"]) > 0] = a["id"]
    keys = sorted(instances)[: args.frames]
    dirs = directions(10)
    print(f"{len(keys)} frames, {len(dirs)} directions, lambda {args.lam}")
    for scale in args.scales:
        cross, inside = [], []
        for key in keys:
            flow = read_flo(os.path.join(args.root, "flow", key + ("_bw.flo" if key in last else "_fw.flo")))
            f4 = flow[2::4, 2::4] * scale
            g4 = instances[key][2::4, 2::4]
            H, W = g4.shape
            grad = np.zeros((H, W, 4))
            grad[:, :-1, 0] = f4[:, 1:, 0] - f4[:, :-1, 0]
            grad[:-1, :, 1] = f4[1:, :, 0] - f4[:-1, :, 0]
            grad[:, :-1, 2] = f4[:, 1:, 1] - f4[:, :-1, 1]
            grad[:-1, :, 3] = f4[1:, :, 1] - f4[:-1, :, 1]
            for dy, dx in dirs:
                x0, x1 = max(0, -dx), min(W, W - dx)
                a = grad[0:H - dy, x0:x1]
                b = grad[dy:H, x0 + dx:x1 + dx]
                n = np.linalg.norm(a - b, axis=2)
                c = g4[0:H - dy, x0:x1] != g4[dy:H, x0 + dx:x1 + dx]
                cross.append(n[c])
                inside.append(n[~c])
        cross, inside = np.concatenate(cross), np.concatenate(inside)
        print(f"flow_scale {scale:g}: crossing an instance boundary {len(cross)} pairs, "
              f"||dF'|| > lambda in {100 * np.mean(cross > args.lam):.1f}% (median {np.median(cross):.2f}); "
              f"inside one region {len(inside)} pairs, {100 * np.mean(inside > args.lam):.2f}%")


if __name__ == "__main__":
    main()
