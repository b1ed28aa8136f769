#!/usr/bin/env python3
"""A markdown table of finished `wsvis stage1` runs: pseudo-label frame AP and the time per step.

    scripts/stage1_report.py RUN [RUN ...] [--title TEXT] [--command TEXT] [--out FILE]

Reads each run folder's metrics.json and the DONE markers of its steps; prints the table and
writes it to --out when given.
"""
import argparse
import json
import os


def load(path):
    with open(path) as f:
        return json.load(f)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+")
    ap.add_argument("--title", default="Stage 1 runs")
    ap.add_argument("--command", action="append", default=[], help="a command that made the runs")
    ap.add_argument("--out")
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
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
        with open(args.out, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
