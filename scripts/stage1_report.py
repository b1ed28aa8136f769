#!/usr/bin/env python3
"""A markdown table of finished `wsvis stage1` runs: pseudo-label frame AP and the time per step.

    scripts/stage1_report.py RUN [RUN ...] [--title TEXT] [--command TEXT] [--out FILE]

Reads each run folder's metrics.json and the DONE markers of its steps; prints the table and
writes it to --out when given. With --gt DATASET_ROOT (needs numpy and Pillow) it also scores
each run's IR labels against the ground-truth foreground: the share of pixels labelled
foreground, background and ignore, and the foreground's precision and recall.
"""
import argparse
import json
import os


def load(path):
    with open(path) as f:
        return json.load(f)


def rle_decode(counts, h, w):
    import numpy as np
    mask = np.zeros(h * w, np.uint8)
    pos, value = 0, 0
    for c in counts:
        mask[pos:pos + c] = value
        pos += c
        value = 1 - value
    return mask.reshape(w, h).T


def ground_truth_foreground(root):
    """frame key -> union of the frame's instance masks (uncompressed RLE, as YTVIS train)."""
    import numpy as np
    d = load(os.path.join(root, "train.json"))
    videos = {v["id"]: v for v in d["videos"]}
    out = {}
    for a in d["annotations"]:
        v = videos[a["video_id"]]
        for t, s in enumerate(a["segmentations"]):
            if s is None:
                continue
            key = v["file_names"][t].rsplit(".", 1)[0]
            m = out.setdefault(key, np.zeros((v["height"], v["width"]), bool))
            m |= rle_decode(s["counts"], *s["size"]) > 0
    return out


def ir_label_row(run, gt):
    import numpy as np
    from PIL import Image
    fg = bg = ign = tp = n = 0
    gt_pixels = 0
    for key, g in gt.items():
        ir = np.array(Image.open(os.path.join(run, "ir_labels", key + ".png")))
        f = (ir > 0) & (ir < 255)
        fg += f.sum()
        bg += (ir == 0).sum()
        ign += (ir == 255).sum()
        tp += (f & g).sum()
        gt_pixels += g.sum()
        n += ir.size
    return (f"| `{run}` | {100 * fg / n:.1f}% | {100 * bg / n:.1f}% | {100 * ign / n:.1f}% | "
            f"{100 * tp / max(fg, 1):.1f}% | {100 * tp / max(gt_pixels, 1):.1f}% |")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+")
    ap.add_argument("--title", default="Stage 1 runs")
    ap.add_argument("--command", action="append", default=[], help="a command that made the runs")
    ap.add_argument("--out")
    ap.add_argument("--gt", help="dataset root (train.json) to score the IR labels against")
    args = ap.parse_args()
    lines = [f"# {args.title}", ""]
    if args.command:
        lines += ["Made by:", "", "```"] + args.command + ["```", ""]
    lines += ["| run | f-CAM | flow-boundary loss | AP50 | AP | AP75 | AR1 | AR100 | instances |",
              "|---|---|---|---|---|---|---|---|---|"]
    for run in args.runs:
        m = load(os.path.join(run, "metrics.json"))["pseudo_labels"]
        f = m["frame_segm"]
        cfg = load(os.path.join(run, "config.json"))["flowirn"]
        lines.append(f"| `{run}` | {cfg['fcam']} | {cfg['flow_boundary']} | {100 * f['AP50']:.1f} | "
                     f"{100 * f['AP']:.1f} | {100 * f['AP75']:.1f} | {100 * f['AR1']:.1f} | "
                     f"{100 * f['AR100']:.1f} | {m['instances']} |")
    lines += ["", "Time per step (this machine; steps copied from another run show that run's time):", "",
              "| run | step | seconds | per frame / images per second |", "|---|---|---|---|"]
    for run in args.runs:
        for stage in ["cam", "cams", "ir_labels", "irn", "pseudo"]:
            marker = os.path.join(run, stage, "DONE")
            if not os.path.exists(marker):
                continue
            d = load(marker)
            if "seconds_per_frame" in d:
                lines.append(f"| `{run}` | {stage} | | {d['seconds_per_frame']:.3f} s per frame |")
            else:
                lines.append(f"| `{run}` | {stage} training | {d['seconds']:.0f} | "
                             f"{d.get('images_per_second', 0):.1f} images/s ({d['steps']} steps, loss "
                             f"{d['first_loss']:.3f} -> {d['last_loss']:.3f}) |")
    if args.gt:
        lines += ["", "IR labels against the ground-truth foreground (all frames):", "",
                  "| run | foreground | background | ignore | fg precision | fg recall |",
                  "|---|---|---|---|---|---|"]
        gt = ground_truth_foreground(args.gt)
        for run in args.runs:
            lines.append(ir_label_row(run, gt))
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
        with open(args.out, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
