#!/usr/bin/env python3
"""Pseudo-label AP50 of IRN, IRN + f-CAM, IRN + flow-boundary loss and flowIRN on a fixed
synthetic configuration, several seeds each: the seed paper's Table 4 on our data.

    scripts/stage1_table.py [--build build] [--out runs/stage1_table] [--seeds 1 2 3]
                            [--config configs/stage1_synth.json]
                            [--synth configs/synth_stage1.json] [--table docs/results/stage1_synth.md]
                            [--set key=value ...]

Per seed the four variants share what does not depend on their switch, by copying finished
stage folders (with their DONE markers) from the run that made them, so the comparison
isolates the switch and the CPU time is spent once:
  irn        trains the CAM network and makes the CAMs (seed s), IR labels from plain CAMs
  irn_fcam   CAM network and CAMs from irn; IR labels from f-CAMs (f-CAM seeds too)
  irn_fb     CAM network, CAMs and IR labels from irn; IRN trained with the flow-boundary loss
  flowirn    CAM network and CAMs from irn, IR labels from irn_fcam; both switches
Each variant trains its own IRN (seeded with s). Two extra rows (unless --no-extra) vary the
flow-boundary loss's units, which the paper does not pin (spec section 7). The table (mean, sample standard deviation
and every seed) is written to --table with this command line and per-step timings.
"""
import json
import os
import shutil
import statistics
import subprocess
import time

from result_tables import header, table_arguments, write_page

# (key, name, --set switches, stage folders copied from earlier runs of the same seed).
FCAM_SHARES = [("irn", ["cam", "cams"]), ("irn_fcam", ["ir_labels", "flow_threshold.json"])]
VARIANTS = [
    ("irn", "IRN", [], []),
    ("irn_fcam", "IRN + f-CAM", ["flowirn.fcam=true"], [("irn", ["cam", "cams"])]),
    ("irn_fb", "IRN + flow-boundary loss", ["flowirn.flow_boundary=true"],
     [("irn", ["cam", "cams", "ir_labels"])]),
    ("flowirn", "flowIRN (f-CAM + flow-boundary loss)",
     ["flowirn.fcam=true", "flowirn.flow_boundary=true"], FCAM_SHARES),
]
# The flow-boundary loss's units are not pinned by the paper (spec section 7): the same two
# switches with F' in image pixels (flow_scale 1), at weight 1 and at weight 0.1.
EXTRA_VARIANTS = [
    ("flowirn_px", "flowIRN, F' in image pixels", ["flowirn.fcam=true", "flowirn.flow_boundary=true",
                                                    "flowirn.flow_scale=1.0"], FCAM_SHARES),
    ("flowirn_px_w01", "flowIRN, F' in image pixels, loss weight 0.1",
     ["flowirn.fcam=true", "flowirn.flow_boundary=true", "flowirn.flow_scale=1.0",
      "flowirn.weight=0.1"], FCAM_SHARES),
]


def copy_stage(src_run, dst_run, name):
    src, dst = os.path.join(src_run, name), os.path.join(dst_run, name)
    if os.path.exists(dst) or not os.path.exists(src):
        return
    os.makedirs(dst_run, exist_ok=True)
    if os.path.isdir(src):
        shutil.copytree(src, dst)
    else:
        shutil.copy2(src, dst)


def main():
    ap = table_arguments(__doc__, "runs/stage1_table", "configs/stage1_synth.json", "docs/results/stage1_synth.md",
                         synth="configs/synth_stage1.json",
                         force_help="pass --force to wsvis stage1: keep finished steps of run folders whose "
                                    "config.json was written by an older build (e.g. before a new key)")
    ap.add_argument("--no-extra", action="store_true", help="only the four variants of Table 4")
    args = ap.parse_args()
    variants = VARIANTS + ([] if args.no_extra else EXTRA_VARIANTS)
    wsvis = os.path.join(args.build, "apps", "wsvis")
    data = os.path.join(args.out, "data")
    if not os.path.exists(os.path.join(data, "train.json")):
        subprocess.run([wsvis, "synth", "--config", args.synth, "--out", data], check=True)

    results = {}  # variant -> seed -> metrics
    timings = {}  # variant -> step -> [seconds per frame or per step]
    started = time.time()
    for seed in args.seeds:
        seed_dir = os.path.join(args.out, f"seed{seed}")
        for key, _, switches, shares in variants:
            run = os.path.join(seed_dir, key)
            for src, names in shares:
                for name in names:
                    copy_stage(os.path.join(seed_dir, src), run, name)
            cmd = [wsvis, "stage1", "--config", args.config, "--run", run, "--set", f"data.root={data}",
                   "--set", f"seed={seed}"]
            for s in switches + args.overrides:
                cmd += ["--set", s]
            if args.force:
                cmd.append("--force")
            print("+", " ".join(cmd), flush=True)
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
            with open(os.path.join(run, "metrics.json")) as f:
                results.setdefault(key, {})[seed] = json.load(f)["pseudo_labels"]["frame_segm"]
            for stage in ["cam", "cams", "ir_labels", "irn", "pseudo"]:
                marker = os.path.join(run, stage, "DONE")
                if os.path.exists(marker):
                    with open(marker) as f:
                        timings.setdefault(key, {}).setdefault(stage, []).append(json.load(f))

    lines = header("Stage 1 on the synthetic set: pseudo-label quality of IRN and flowIRN",
                   "scripts/stage1_table.py") + [
             f"Dataset: `wsvis synth --config {args.synth}`; stage-1 config: `{args.config}`; "
             f"seeds {args.seeds}. Frame-level COCO mask AP of the pseudo-labels of every frame "
             "against the ground truth (`wsvis eval --type frame`), as the seed paper's Table 4.", "",
             "| variant | AP50 mean ± sd | " + " | ".join(f"AP50 seed {s}" for s in args.seeds) +
             " | AP mean | AR100 mean |",
             "|---|---|" + "---|" * len(args.seeds) + "---|---|"]
    for key, name, _, _ in variants:
        ap50 = [100 * results[key][s]["AP50"] for s in args.seeds]
        ap = [100 * results[key][s]["AP"] for s in args.seeds]
        ar = [100 * results[key][s]["AR100"] for s in args.seeds]
        sd = statistics.stdev(ap50) if len(ap50) > 1 else 0.0
        lines.append(f"| {name} | {statistics.mean(ap50):.1f} ± {sd:.1f} | " +
                     " | ".join(f"{v:.1f}" for v in ap50) +
                     f" | {statistics.mean(ap):.1f} | {statistics.mean(ar):.1f} |")
    lines += ["", "Time per step (this run's machine; mean over the runs that computed it):", "",
              "| step | seconds | per frame / images per second |", "|---|---|---|"]
    for stage in ["cam", "cams", "ir_labels", "irn", "pseudo"]:
        rows = [m for key in timings for m in timings[key].get(stage, []) if m.get("seconds") or m.get("seconds_per_frame")]
        if not rows:
            continue
        if "seconds_per_frame" in rows[0]:
            spf = statistics.mean(m["seconds_per_frame"] for m in rows)
            lines.append(f"| {stage} | | {spf:.3f} s per frame |")
        else:
            sec = statistics.mean(m["seconds"] for m in rows)
            ips = statistics.mean(m.get("images_per_second", 0) for m in rows)
            lines.append(f"| {stage} training | {sec:.0f} | {ips:.1f} images/s |")
    write_page(args.table, lines, started)


if __name__ == "__main__":
    main()
