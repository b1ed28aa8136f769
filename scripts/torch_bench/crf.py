"""pydensecrf twin of wsvis_bench's crf entries (bench/bench_crf.cpp): IRN's crf_inference_label
(misc/imutils.py) timed on the CPU of the machine it runs on, on the same sizes.

run(args) -> list of {"name", "time_ms", ...} rows whose names match wsvis_bench's:
  crf/500x375_l21     a VOC-sized frame, all 21 labels
  crf/1280x720_l3     a 720p video frame, 3 labels (IRN's fg / bg maps: present classes + 1)
One timed call = unary_from_labels(gt_prob=0.7, zero_unsure=False), DenseCRF2D, Gaussian pairwise
(sxy 3, compat 3), bilateral (sxy 50, srgb 5, compat 10), inference(10), argmax: what IRN pays
per map. pydensecrf is single-threaded C++ (Eigen + SSE); timed with time.perf_counter, median
of `runs` (at most 5) after one warm-up. The scene has the structure of wsvis's (ellipses of
distinct colours on a textured background, 20% of labels randomised), from numpy's generator:
same sizes and distributions, different values. When pydensecrf cannot be imported the module
prints why and returns no rows (`pip install pydensecrf2` provides the same C++ core).

`python3 scripts/torch_bench/crf.py --fixture` prints the pydensecrf golden arrays that
tests/kernels/test_crf.cpp (CrfCpu.MatchesPydensecrf) embeds.
"""

import time


def _scene(np, H, W, L, seed):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float64)
    col = np.stack([90 + 40 * np.sin(xx * 0.05), 110 + 30 * np.cos(yy * 0.07),
                    np.full_like(xx, 100.0)], axis=-1)
    label = np.zeros((H, W), np.int32)
    for k in range(8):
        cx, cy = W * (0.1 + 0.8 * ((k * 37) % 11) / 10.0), H * (0.15 + 0.7 * ((k * 53) % 7) / 6.0)
        rx, ry = W * (0.06 + 0.02 * (k % 3)), H * (0.08 + 0.03 * (k % 2))
        inside = (xx - cx) ** 2 / rx ** 2 + (yy - cy) ** 2 / ry ** 2 < 1
        label[inside] = (k + 1) % L
        col[inside] = (40 + 25 * k, 220 - 20 * k, 60 + 35 * (k % 4))
    img = np.clip(col + 24.0 * (rng.random(col.shape) - 0.5), 0, 255).astype(np.uint8)
    u = rng.random((H, W))
    labels = np.where(u < 0.2, (u * 5 * L).astype(np.int32) % L, label).astype(np.int32)
    return np.ascontiguousarray(img), labels


def _crf_inference_label(dcrf, unary_from_labels, np, img, labels, n_labels, t=10, gt_prob=0.7):
    h, w = img.shape[:2]
    d = dcrf.DenseCRF2D(w, h, n_labels)
    d.setUnaryEnergy(unary_from_labels(labels, n_labels, gt_prob=gt_prob, zero_unsure=False))
    d.addPairwiseGaussian(sxy=3, compat=3)
    d.addPairwiseBilateral(sxy=50, srgb=5, rgbim=np.ascontiguousarray(np.copy(img)), compat=10)
    q = d.inference(t)
    return np.argmax(np.array(q).reshape((n_labels, h, w)), axis=0)


def run(args):
    try:
        import numpy as np
        import pydensecrf.densecrf as dcrf
        from pydensecrf.utils import unary_from_labels
    except Exception as e:  # report why, without hiding the other families' numbers
        print(f"torch_bench/crf.py: pydensecrf not importable ({type(e).__name__}: {e}); "
              "no pydensecrf rows (pip install pydensecrf2 provides it)")
        return []
    import os
    import platform
    try:
        from importlib.metadata import version
        framework = "pydensecrf " + next(v for v in (_version(version, n) for n in
                                                      ("pydensecrf2", "pydensecrf")) if v)
    except Exception:
        framework = "pydensecrf"
    runs = min(getattr(args, "runs", None) or 5, 5)
    device = f"cpu: {platform.processor() or platform.machine()} ({os.cpu_count()} cores, 1 used)"
    rows = []
    for H, W, L in ((375, 500, 21), (720, 1280, 3)):
        img, labels = _scene(np, H, W, L, 61)
        call = lambda: _crf_inference_label(dcrf, unary_from_labels, np, img, labels, L)
        call()
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            call()
            times.append((time.perf_counter() - t0) * 1e3)
        times.sort()
        n = len(times)
        median = times[n // 2] if n % 2 else 0.5 * (times[n // 2 - 1] + times[n // 2])
        rows.append({"name": f"crf/{W}x{H}_l{L}", "shape": f"image({H}, {W}, 3) unary({L}, {H}, {W})",
                     "device": device, "precision": "fp32", "time_ms": median,
                     "min_ms": times[0], "runs": n, "framework": framework})
    return rows


def _version(version, name):
    try:
        return version(name)
    except Exception:
        return None


def fixture():
    """Golden arrays for tests/kernels/test_crf.cpp, computed with pydensecrf."""
    import numpy as np
    import pydensecrf.densecrf as dcrf
    from pydensecrf.utils import unary_from_labels
    H, W, L = 6, 7, 3
    rng = np.random.default_rng(2026)
    img = rng.integers(0, 256, (H, W, 3)).astype(np.uint8)
    img[:, :3] //= 3  # a darker left part
    lab = rng.integers(0, L, (H, W)).astype(np.int32)

    def crf(gt, cg, cb, it):
        d = dcrf.DenseCRF2D(W, H, L)
        d.setUnaryEnergy(unary_from_labels(lab, L, gt_prob=gt, zero_unsure=False))
        d.addPairwiseGaussian(sxy=3, compat=cg)
        d.addPairwiseBilateral(sxy=50, srgb=5, rgbim=np.ascontiguousarray(img), compat=cb)
        return np.array(d.inference(it)).reshape((L, H, W))

    soft, irn = crf(0.6, 0.3, 1.0, 5), crf(0.7, 3, 10, 10)
    fmt = lambda a, f: ", ".join(f(x) for x in a.ravel())
    print("const uint8_t kImage[] = {" + fmt(img, str) + "};")
    print("const int32_t kLabels[] = {" + fmt(lab, str) + "};")
    print("const float kSoftQ[] = {" + fmt(soft, lambda x: "%.8gf" % x) + "};")
    print("const int32_t kIrnLabels[] = {" + fmt(irn.argmax(0), str) + "};")


if __name__ == "__main__":
    import argparse
    import json

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--fixture", action="store_true", help="print the test's golden arrays")
    a = parser.parse_args()
    if a.fixture:
        fixture()
    else:
        for r in run(a):
            print(json.dumps(r))
