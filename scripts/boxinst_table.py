#!/usr/bin/env python3
"""Motion-aided BoxInst on a fixed synthetic configuration with camouflaged instances: the
paper's Table 2 (which parts see the flow) and Table 4 (fusion), several seeds each, plus
CondInst trained on the ground-truth masks (the upper bound that proves the model).

    scripts/boxinst_table.py [--build build] [--out runs/boxinst_table] [--seeds 1 2 3]
                             [--config configs/boxinst_synth.json]
                             [--synth configs/synth_boxinst.json] [--table docs/results/boxinst_synth.md]
                             [--only KEY ...] [--set key=value ...] [--force]

Data: `wsvis synth --config SYNTH` (training videos) and the same with --seed 22 --videos 24
(held-out videos), each run `wsvis boxinst --config CONFIG` with the variant's --set
switches and seed=s. Every number is COCO-style mask / box AP over all frames of the held-out
videos; "camouflaged" scores the camouflaged instances alone (the others ignored,
pipeline/boxinst_stage.h). The table (mean, sample standard deviation, every seed) is written
to --table with this command line and the training step time.
"""
import json
import os
import statistics
import subprocess
import time

from result_tables import header, mean_sd, seed_column, table_arguments, write_page

MOTION = "model.variant=motion_boxinst"
# (key, name, --set switches)
VARIANTS = [
    ("condinst_gt", "CondInst, GT masks (upper bound)", ["model.variant=condinst"]),
    ("boxinst", "BoxInst (image only)", ["model.variant=boxinst"]),
    ("motion", "Motion-aided BoxInst (det sum, mask concat, flow in pairwise)", [MOTION]),
    ("no_det", "  - no motion features for detection", [MOTION, "model.motion_detection=false"]),
    ("no_seg", "  - no motion features for segmentation", [MOTION, "model.motion_segmentation=false"]),
    ("no_pair", "  - no flow in the pairwise loss", [MOTION, "model.flow_pairwise=false"]),
    ("det_max", "  detection fusion max (Table 4a)", [MOTION, "model.detection_fusion=max"]),
    ("mask_sum", "  mask fusion sum (Table 4b)", [MOTION, "model.mask_fusion=sum"]),
    ("mask_max", "  mask fusion max (Table 4b)", [MOTION, "model.mask_fusion=max"]),
]


def main():
    ap = table_arguments(__doc__, "runs/boxinst_table", "configs/boxinst_synth.json", "docs/results/boxinst_synth.md",
                         synth="configs/synth_boxinst.json", force_help="pass --force to wsvis boxinst")
    ap.add_argument("--only", nargs="+", help="variant keys to run (default: all)")
    args = ap.parse_args()
    variants = [v for v in VARIANTS if not args.only or v[0] in args.only]
    wsvis = os.path.join(args.build, "apps", "wsvis")
    train, val = os.path.join(args.out, "data", "train"), os.path.join(args.out, "data", "val")
    if not os.path.exists(os.path.join(train, "train.json")):
        subprocess.run([wsvis, "synth", "--config", args.synth, "--out", train], check=True)
    if not os.path.exists(os.path.join(val, "train.json")):
        subprocess.run([wsvis, "synth", "--config", args.synth, "--seed", "22", "--videos", "24",
                        "--out", val], check=True)

    results, timings = {}, {}
    started = time.time()
    for seed in args.seeds:
        for key, _, switches in variants:
            run = os.path.join(args.out, f"seed{seed}", key)
            cmd = [wsvis, "boxinst", "--config", args.config, "--run", run, "--set", f"data.root={train}",
                   "--set", f"val.root={val}", "--set", f"seed={seed}"]
            for s in switches + args.overrides:
                cmd += ["--set", s]
            if args.force:
                cmd.append("--force")
            print("+", " ".join(cmd), flush=True)
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
            with open(os.path.join(run, "metrics.json")) as f:
                results.setdefault(key, {})[seed] = json.load(f)
            with open(os.path.join(run, "boxinst", "DONE")) as f:
                timings.setdefault(key, []).append(json.load(f))

    def column(key, *path):
        return seed_column(results, key, args.seeds, *path)

    lines = header("Motion-aided BoxInst on the synthetic set (Tables 2 and 4 of Ikeda & Mori)",
                   "scripts/boxinst_table.py") + [
             f"Data: `wsvis synth --config {args.synth}` (training videos) and the same with "
             "`--seed 22 --videos 24` (held-out videos); run config `" + args.config + f"`; seeds {args.seeds}. "
             "COCO-style AP (in %) over every frame of the held-out videos; *camouflaged*: the "
             "camouflaged instances alone, the others ignored.", "",
             "| variant | mask AP | mask AP50 | box AP | box AP50 | camouflaged mask AP | camouflaged mask AP50 | camouflaged box AP |",
             "|---|---|---|---|---|---|---|---|"]
    for key, name, _ in variants:
        cam = ("attributes", "camouflaged")
        lines.append(f"| {name} | " + " | ".join(mean_sd(column(key, *p)) for p in [
            ("segm", "AP"), ("segm", "AP50"), ("bbox", "AP"), ("bbox", "AP50"),
            cam + ("segm", "AP"), cam + ("segm", "AP50"), cam + ("bbox", "AP")]) + " |")
    lines += ["", "Mask AP50 per seed:", "", "| variant | " + " | ".join(f"seed {s}" for s in args.seeds) + " |",
              "|---|" + "---|" * len(args.seeds)]
    for key, name, _ in variants:
        lines.append(f"| {name.strip()} | " + " | ".join(f"{v:.1f}" for v in column(key, "segm", "AP50")) + " |")
    lines += ["", "Training time per step on this run's machine (mean over seeds):", "",
              "| variant | s / step | images / s |", "|---|---|---|"]
    for key, name, _ in variants:
        rows = timings[key]
        lines.append(f"| {name.strip()} | {statistics.mean(r['seconds_per_step'] for r in rows):.3f} | "
                     f"{statistics.mean(r['images_per_second'] for r in rows):.1f} |")
    write_page(args.table, lines, started)


if __name__ == "__main__":
    main()
