"""scipy twin of wsvis_bench's assign entries: scipy.optimize.linear_sum_assignment looping over
the same problem sets (1,000 of 100x100 and 8 of 512x512, uniform random float32 costs in
[0, 1), minimised), one problem after another, as a tracker calling scipy per frame pair does.

run(args) -> list of {"name", "time_ms", ...} rows whose names match wsvis_bench's
("assign_batched/<B>x<R>x<C>"), so the two logs join into ratios. scipy runs on the CPU, so the
time is wall-clock (time.perf_counter) around the whole loop: median of `runs` runs after one
warm-up run. The matrices come from numpy's generator, not wsvis's: same distribution and sizes,
different values (the solver's time depends on the distribution, not on particular values).
"""
import statistics
import time

SIZES = ((1000, 100, 100), (8, 512, 512))


def _ensure_scipy():
    try:
        import numpy  # noqa: F401
        import scipy.optimize  # noqa: F401
    except ImportError:
        import subprocess
        import sys
        subprocess.check_call([sys.executable, "-m", "pip", "install", "-q",
                               "--disable-pip-version-check", "numpy", "scipy"])


def run(args):
    _ensure_scipy()
    import numpy as np
    from scipy.optimize import linear_sum_assignment

    runs = getattr(args, "runs", None) or 5
    rng = np.random.default_rng(17)
    rows = []
    for B, R, C in SIZES:
        costs = rng.random((B, R, C), dtype=np.float32)

        def solve_all():
            total = 0.0
            for k in range(B):
                r, c = linear_sum_assignment(costs[k])
                total += float(costs[k][r, c].sum())
            return total

        solve_all()  # warm-up
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            solve_all()
            times.append((time.perf_counter() - t0) * 1e3)
        rows.append({
            "name": f"assign_batched/{B}x{R}x{C}",
            "shape": f"cost({B}, {R}, {C})",
            "device": "cpu (scipy %s, one problem at a time)" % __import__("scipy").__version__,
            "precision": "fp32",
            "time_ms": statistics.median(times),
            "min_ms": min(times),
            "runs": runs,
        })
    return rows


if __name__ == "__main__":
    import argparse
    import json
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    for row in run(parser.parse_args()):
        print(json.dumps(row))
