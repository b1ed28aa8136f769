#!/usr/bin/env python3
"""Stage 2 of flowIRN + MaskConsist on the synthetic set: Mask R-CNN vs MaskConsist vs
MaskConsist with self-training, and MaskConsist with each component off (the seed paper's
Tables 1, 3 and 5), several seeds each, plus Mask R-CNN on the ground-truth masks (proves the
detector).

    scripts/stage2_table.py [--build build] [--out runs/stage2_table] [--seeds 1 2 3]
                            [--config configs/maskrcnn_synth.json]
                            [--labels runs/stage1_table/seed1/flowirn_px_w01/pseudo_labels.json]
                            [--table docs/results/stage2_synth.md] [--only KEY ...]
                            [--set key=value ...] [--force]

Training videos and pseudo-labels: stage 1's synthetic table (scripts/stage1_table.py, the
flowIRN row with F' in image pixels and weight 0.1); held-out videos: `wsvis synth --config
configs/synth_stage1.json --seed 12 --videos 16`. Every number: frame-level mask AP50 over
the held-out frames (`frame_predictions.json`), YouTube-VIS video mAP / AP50 of the tracked
predictions and temporal consistency (`wsvis maskrcnn ... eval`). The self-training row reuses
the first round of the MaskConsist run of the same seed.
"""
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

from result_tables import header, mean_sd, seed_column, table_arguments, write_page

# (key, name, --set switches, stage folders copied from another variant of the same seed)
VARIANTS = [
    ("gt", "Mask R-CNN on ground-truth masks", ["labels=", "maskconsist.enabled=false"], []),
    ("maskrcnn", "Mask R-CNN on flowIRN pseudo-labels", ["maskconsist.enabled=false"], []),
    ("maskconsist", "MaskConsist", [], []),
    ("maskconsist_st", "MaskConsist + self-training", ["self_training_rounds=1"],
     [("maskconsist", ["maskrcnn"])]),
    ("no_intra", "MaskConsist without intra-frame matching", ["maskconsist.intra_frame=false"], []),
    ("no_inter", "MaskConsist without inter-frame matching", ["maskconsist.inter_frame=false"], []),
    ("no_iom", "MaskConsist without IoM-NMS", ["maskconsist.iom_nms=false"], []),
]


def main():
    ap = table_arguments(__doc__, "runs/stage2_table", "configs/maskrcnn_synth.json", "docs/results/stage2_synth.md",
                         force_help="pass --force to wsvis maskrcnn")
    ap.add_argument("--labels", default="runs/stage1_table/seed1/flowirn_px_w01/pseudo_labels.json")
    ap.add_argument("--only", nargs="+", help="variant keys to run (default: all)")
    args = ap.parse_args()
    variants = [v for v in VARIANTS if not args.only or v[0] in args.only]
    wsvis = os.path.join(args.build, "apps", "wsvis")
    train = "runs/stage1_table/data"
    val = os.path.join(args.out, "data", "val")
    if not os.path.exists(os.path.join(train, "train.json")) or not os.path.exists(args.labels):
        sys.exit(f"{train} or {args.labels} missing: run scripts/stage1_table.py first")
    if not os.path.exists(os.path.join(val, "train.json")):
        subprocess.run([wsvis, "synth", "--config", "configs/synth_stage1.json", "--seed", "12",
                        "--videos", "16", "--out", val], check=True)
    results, timings = {}, {}
    started = time.time()
    for seed in args.seeds:
        for key, _, switches, shares in variants:
            run = os.path.join(args.out, f"seed{seed}", key)
            for src, names in shares:
                for name in names:
                    s, d = os.path.join(args.out, f"seed{seed}", src, name), os.path.join(run, name)
                    if os.path.exists(s) and not os.path.exists(d):
                        shutil.copytree(s, d)
            cmd = [wsvis, "maskrcnn", "--config", args.config, "--run", run, "--set", f"data.root={train}",
                   "--set", f"labels={args.labels}", "--set", f"val.root={val}", "--set", f"seed={seed}"]
            for s in switches + args.overrides:
                cmd += ["--set", s]
            if args.force:
                cmd.append("--force")
            print("+", " ".join(cmd), flush=True)
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
            with open(os.path.join(run, "metrics.json")) as f:
                results.setdefault(key, {})[seed] = json.load(f)
            for stage in ["maskrcnn", "maskrcnn2"]:
                marker = os.path.join(run, stage, "DONE")
                if os.path.exists(marker):
                    with open(marker) as f:
                        timings.setdefault(key, []).append(json.load(f))

    def col(key, *path):
        return seed_column(results, key, args.seeds, *path)

    lines = header("Stage 2 on the synthetic set: Mask R-CNN, MaskConsist, self-training, ablations",
                   "scripts/stage2_table.py") + [
             f"Training videos: stage 1's synthetic set; labels `{args.labels}`; held-out videos "
             f"`wsvis synth --config configs/synth_stage1.json --seed 12 --videos 16`; run config "
             f"`{args.config}`; seeds {args.seeds}. In %.", "",
             "| variant | frame AP50 | video mAP | video AP50 | temporal consistency |", "|---|---|---|---|---|"]
    for key, name, _, _ in variants:
        lines.append(f"| {name} | {mean_sd(col(key, 'frame_segm', 'AP50'))} | {mean_sd(col(key, 'video_segm', 'AP'))}"
                     f" | {mean_sd(col(key, 'video_segm', 'AP50'))} | {mean_sd(col(key, 'temporal_consistency'))} |")
    lines += ["", "Frame AP50 per seed:", "", "| variant | " + " | ".join(f"seed {s}" for s in args.seeds) + " |",
              "|---|" + "---|" * len(args.seeds)]
    for key, name, _, _ in variants:
        lines.append(f"| {name} | " + " | ".join(f"{v:.1f}" for v in col(key, "frame_segm", "AP50")) + " |")
    lines += ["", "Training time per step on this run's machine (mean over the trainings run):", "",
              "| variant | s / step | images / s |", "|---|---|---|"]
    for key, name, _, _ in variants:
        rows = [r for r in timings.get(key, []) if r.get("seconds_per_step")]
        if rows:
            lines.append(f"| {name} | {statistics.mean(r['seconds_per_step'] for r in rows):.2f} | "
                         f"{statistics.mean(r['images_per_second'] for r in rows):.1f} |")
    write_page(args.table, lines, started)


if __name__ == "__main__":
    main()
