#!/usr/bin/env python3
"""PyTorch twins of the wsvis_bench entries, timed the same way, for side-by-side ratios.

Runs each entry's operation in PyTorch on the GPU with the same shapes, the same precision
(TF32 on or off to match), CUDA-event timing with warm-up, an L2 flush (256 MiB memset) before
every timed run and the median of N runs, and prints one JSON line per entry with the same
"name" as wsvis_bench prints, so a later script can join the two logs and compute ratios:

    build/bench/wsvis_bench --json ours.jsonl
    python3 scripts/compare_torch.py --json torch.jsonl

Only meaningful on the GPU machine. Later kernel families add their entries by appending
functions to ENTRIES (each takes the Timer and returns nothing; it calls timer.report).
"""
import argparse
import json
import sys

L2_FLUSH_BYTES = 256 << 20


def import_torch():
    # Imported lazily so that `--help` and a missing torch both give a clear message.
    try:
        import torch  # noqa: F401
    except ImportError:
        sys.exit("compare_torch.py: PyTorch is not installed; it runs on the GPU machine "
                 "(pip install torch) and is not needed to build or test wsvis")
    import torch
    if not torch.cuda.is_available():
        sys.exit("compare_torch.py: torch sees no CUDA device; run it on the GPU machine")
    return torch


class Timer:
    def __init__(self, torch, runs, json_path):
        self.torch = torch
        self.runs = runs
        self.flush = torch.empty(L2_FLUSH_BYTES, dtype=torch.uint8, device="cuda")
        self.json = open(json_path, "a") if json_path else None
        self.device = torch.cuda.get_device_name(0)

    def time(self, fn, warmup=5, runs=None):
        """Median and min milliseconds of fn() over `runs` runs, each after an L2 flush."""
        torch = self.torch
        runs = runs or self.runs
        for _ in range(warmup):
            fn()
        torch.cuda.synchronize()
        start = torch.cuda.Event(enable_timing=True)
        stop = torch.cuda.Event(enable_timing=True)
        times = []
        for i in range(runs):
            self.flush.fill_(i & 0xFF)
            start.record()
            fn()
            stop.record()
            stop.synchronize()
            times.append(start.elapsed_time(stop))
        times.sort()
        n = len(times)
        median = times[n // 2] if n % 2 else 0.5 * (times[n // 2 - 1] + times[n // 2])
        return median, times[0], runs

    def report(self, name, shape, precision, timing, flops):
        median, best, runs = timing
        tflops = flops / (median * 1e-3) / 1e12
        line = {"name": name, "shape": shape, "device": self.device, "precision": precision,
                "time_ms": median, "min_ms": best, "runs": runs, "flops": flops,
                "tflops": tflops, "framework": "torch " + self.torch.__version__}
        print(json.dumps(line), flush=True)
        if self.json:
            self.json.write(json.dumps(line) + "\n")
            self.json.flush()


def set_tf32(torch, enabled):
    torch.backends.cuda.matmul.allow_tf32 = enabled
    torch.backends.cudnn.allow_tf32 = enabled


def shape_str(**named):
    # Same text as wsvis_bench's shapes(): "x(8, 64, 56, 56) w(64, 64, 3, 3)".
    return " ".join(f"{k}({', '.join(str(d) for d in v)})" for k, v in named.items())


# ---- conv2d: the shapes of bench/bench_conv.cpp (GPU sizes) -----------------------------------
CONV_SHAPES = [  # tag, N, C, H, W, K, kernel, stride, pad
    ("res2_3x3_64", 8, 64, 56, 56, 64, 3, 1, 1),
    ("res2_1x1_256to64", 8, 256, 56, 56, 64, 1, 1, 0),
    ("res3_3x3_128_s2", 8, 128, 56, 56, 128, 3, 2, 1),
    ("c512_3x3_14", 8, 512, 14, 14, 512, 3, 1, 1),
]


def conv_entries(timer):
    torch = timer.torch
    F = torch.nn.functional
    torch.backends.cudnn.benchmark = True  # PyTorch's best: autotuned algorithms
    set_tf32(torch, True)  # wsvis times convolutions with TF32, PyTorch's default for cuDNN
    for tag, N, C, H, W, K, k, s, p in CONV_SHAPES:
        g = torch.Generator(device="cuda").manual_seed(7)
        x = torch.rand(N, C, H, W, device="cuda", generator=g) * 2 - 1
        w = torch.rand(K, C, k, k, device="cuda", generator=g) * 2 - 1
        y = F.conv2d(x, w, stride=s, padding=p)
        gy = torch.rand_like(y) * 2 - 1
        P, Q = y.shape[2], y.shape[3]
        flops = 2.0 * N * K * P * Q * C * k * k
        shape = shape_str(x=(N, C, H, W), w=(K, C, k, k)) + f" s{s} p{p}"
        grad_input = torch.nn.grad.conv2d_input
        grad_weight = torch.nn.grad.conv2d_weight
        with torch.no_grad():
            timer.report("conv2d_fwd/" + tag, shape, "tf32",
                         timer.time(lambda: F.conv2d(x, w, stride=s, padding=p)), flops)
            timer.report("conv2d_bwd_data/" + tag, shape, "tf32",
                         timer.time(lambda: grad_input(x.shape, w, gy, stride=s, padding=p)),
                         flops)
            timer.report("conv2d_bwd_filter/" + tag, shape, "tf32",
                         timer.time(lambda: grad_weight(x, w.shape, gy, stride=s, padding=p)),
                         flops)


# ---- GEMM and linear: bench/bench_gemm.cpp (GPU sizes) ----------------------------------------
def gemm_entries(timer):
    torch = timer.torch
    n = 4096
    for precision in ("tf32", "fp32"):
        set_tf32(torch, precision == "tf32")
        a = torch.rand(n, n, device="cuda") * 2 - 1
        b = torch.rand(n, n, device="cuda") * 2 - 1
        timer.report(f"gemm_{precision}/{n}", shape_str(a=(n, n), b=(n, n)), precision,
                     timer.time(lambda: torch.mm(a, b)), 2.0 * n * n * n)
    set_tf32(torch, True)
    for tag, rois, fin, fout in (("maskrcnn_fc6", 1024, 12544, 1024),
                                 ("maskrcnn_fc7", 1024, 1024, 1024)):
        x = torch.rand(rois, fin, device="cuda") * 2 - 1
        w = torch.rand(fout, fin, device="cuda") * 2 - 1
        g = torch.rand(rois, fout, device="cuda") * 2 - 1
        shape = shape_str(x=(rois, fin), w=(fout, fin))
        flops = 2.0 * rois * fin * fout
        timer.report("linear_fwd/" + tag, shape, "tf32", timer.time(lambda: x @ w.t()), flops)
        timer.report("linear_bwd_data/" + tag, shape, "tf32", timer.time(lambda: g @ w), flops)
        timer.report("linear_bwd_weight/" + tag, shape, "tf32", timer.time(lambda: g.t() @ x),
                     flops)


# Conv and GEMM are timed here; the kernel families keep their twins in scripts/torch_bench/
# (one module each, exposing run(args) -> rows with the wsvis entry names).
ENTRIES = [
    ("conv2d", conv_entries),
    ("gemm", gemm_entries),
]
FAMILY_MODULES = ["warp", "roi_align", "nms", "assign", "pairwise", "irn", "crf", "flowirn"]


def run_family_modules(args, json_path):
    """Runs each scripts/torch_bench/<family>.py twin and appends its rows as JSON lines."""
    import importlib.util
    import json
    import os
    import traceback
    import sys
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "torch_bench")
    sys.path.insert(0, here)  # the twins share timing.py
    failed = 0
    for family in FAMILY_MODULES:
        if args.filter not in family:
            continue
        spec = importlib.util.spec_from_file_location(f"torch_bench_{family}",
                                                      os.path.join(here, family + ".py"))
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
            rows = module.run(args)
        except Exception:  # one family's failure must not hide the others' numbers
            print(f"torch_bench/{family}.py failed:\n{traceback.format_exc()}")
            failed += 1
            continue
        for row in rows:
            print(f"{row['name']:<44} {row['time_ms']:10.4f} ms  (torch_bench/{family})")
            if json_path:
                with open(json_path, "a") as f:
                    f.write(json.dumps(dict(row, source=f"torch_bench/{family}")) + "\n")
    return failed


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="append JSON lines to this file")
    parser.add_argument("--filter", default="", help="run only groups whose name contains this")
    parser.add_argument("--runs", type=int, default=30, help="timed runs per measurement")
    args = parser.parse_args()
    torch = import_torch()
    timer = Timer(torch, args.runs, args.json)
    for group, fn in ENTRIES:
        if args.filter in group:
            fn(timer)
    if run_family_modules(args, args.json):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
