#!/usr/bin/env python3
"""wsvis linear sum assignment against scipy.optimize.linear_sum_assignment.

A few hundred random problems (square and rectangular both ways, integer costs drawn from a few
levels so ties abound, forbidden pairs, some infeasible, up to 512x512, minimise and maximise)
are written to one file, solved by <build>/tests/assign_tool, and each total cost is compared
with scipy's. Infeasible problems must be reported as such (scipy raises ValueError).

Usage: python3 tests/python/test_assign_scipy.py [BUILD_DIR]   (or WSVIS_BUILD_DIR=...; pytest
also works). Runs the CPU solver in double and float, and the CUDA solver when the tool finds a
device. Exit status: 0 all match, 1 a mismatch or a missing tool, 77 numpy/scipy unavailable.
"""
import json
import os
import struct
import subprocess
import sys
import tempfile
import time


from wsvis_testing import build_dir, require_packages  # noqa: E402

require_packages(['numpy', 'scipy'])

import numpy as np  # noqa: E402
from scipy.optimize import linear_sum_assignment  # noqa: E402


def make_problems(seed=20261121):
    """(cost float64 array, maximize) pairs; about 330 problems, ~12 of them 512 wide."""
    rng = np.random.default_rng(seed)
    problems = []

    def add(r, c, levels, maximize, forbid=0.0):
        cost = rng.integers(0, levels, size=(r, c)).astype(np.float64)
        if forbid > 0:
            cost[rng.random((r, c)) < forbid] = -np.inf if maximize else np.inf
        problems.append((cost, maximize))

    for _ in range(200):  # small and medium, both orientations, heavy ties
        r, c = int(rng.integers(1, 65)), int(rng.integers(1, 65))
        add(r, c, int(rng.choice([2, 3, 10, 1000])), bool(rng.integers(0, 2)))
    for _ in range(60):  # forbidden pairs; the dense ones are often infeasible
        r, c = int(rng.integers(1, 40)), int(rng.integers(1, 40))
        add(r, c, int(rng.choice([3, 100])), bool(rng.integers(0, 2)), float(rng.choice([0.2, 0.6, 0.9])))
    for _ in range(40):  # 100x100-ish, as in the tracker
        r, c = int(rng.integers(80, 121)), int(rng.integers(80, 121))
        add(r, c, int(rng.choice([5, 100, 10000])), bool(rng.integers(0, 2)))
    for _ in range(18):  # large
        r, c = int(rng.integers(200, 513)), int(rng.integers(200, 513))
        add(r, c, int(rng.choice([4, 1000])), bool(rng.integers(0, 2)))
    for r, c in ((512, 512), (512, 512), (512, 300), (300, 512)):
        add(r, c, 7, False)
    for r, c in ((0, 0), (0, 5), (5, 0), (1, 1)):  # degenerate sizes
        add(r, c, 3, False)
    return problems


def write_problems(path, problems):
    with open(path, "wb") as f:
        f.write(b"WSLSA1\0\0" + struct.pack("<q", len(problems)))
        for cost, maximize in problems:
            r, c = cost.shape
            f.write(struct.pack("<iiii", r, c, int(maximize), 0))
            f.write(np.ascontiguousarray(cost, dtype="<f8").tobytes())


def scipy_total(cost, maximize):
    """Total cost, or None when scipy finds the problem infeasible."""
    try:
        rows, cols = linear_sum_assignment(cost, maximize=maximize)
    except ValueError as e:
        if "infeasible" in str(e):
            return None
        raise
    return float(cost[rows, cols].sum())


def run_tool(tool, data, device, dtype):
    proc = subprocess.run([tool, "--device", device, "--dtype", dtype, data],
                          capture_output=True, text=True)
    if proc.returncode == 3:
        return None  # no CUDA device (or a CPU-only build)
    if proc.returncode != 0:
        raise RuntimeError(f"{tool} --device {device} failed ({proc.returncode}): {proc.stderr}")
    return json.loads(proc.stdout)["results"]


def compare(problems, expected, results, label):
    faults = []
    for k, ((cost, maximize), want, got) in enumerate(zip(problems, expected, results)):
        shape = f"{cost.shape[0]}x{cost.shape[1]}{' max' if maximize else ''}"
        if want is None:
            if got["status"] != "infeasible":
                faults.append(f"#{k} {shape}: scipy infeasible, wsvis {got}")
        elif got["status"] != "ok" or got["total"] is None:
            faults.append(f"#{k} {shape}: scipy {want}, wsvis {got}")
        elif abs(got["total"] - want) > 1e-9 * max(1.0, abs(want)):
            faults.append(f"#{k} {shape}: scipy {want}, wsvis {got['total']}")
    if len(results) != len(problems):
        faults.append(f"{len(results)} results for {len(problems)} problems")
    print(f"{label}: {len(problems) - len(faults)}/{len(problems)} totals match scipy")
    for f in faults[:10]:
        print("  MISMATCH", f)
    return not faults


def run(build):
    tool = os.path.join(build, "tests", "assign_tool")
    if not os.path.isfile(tool):
        print(f"assign_tool not found at {tool}: build the assign_tool target first")
        return False
    problems = make_problems()
    t0 = time.time()
    expected = [scipy_total(cost, maximize) for cost, maximize in problems]
    t_scipy = time.time() - t0
    infeasible = sum(e is None for e in expected)
    print(f"{len(problems)} problems ({infeasible} infeasible), scipy {t_scipy:.2f} s")
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "problems.bin")
        write_problems(data, problems)
        for device, dtype in (("cpu", "double"), ("cpu", "float"), ("cuda", "double"), ("cuda", "float")):
            t0 = time.time()
            results = run_tool(tool, data, device, dtype)
            if results is None:
                print(f"{device}/{dtype}: skipped (no CUDA device)")
                continue
            ok &= compare(problems, expected, results, f"{device}/{dtype} ({time.time() - t0:.2f} s)")
    return ok


def test_assign_matches_scipy():  # pytest entry point
    assert run(build_dir())


if __name__ == "__main__":
    sys.exit(0 if run(build_dir()) else 1)
