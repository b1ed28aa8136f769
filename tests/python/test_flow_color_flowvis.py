#!/usr/bin/env python3
"""Compares wsvis' flow colour wheel (data/flow_color.h, via tests/tools/flow_color_tool) with the
flow_vis package (tomrunia/OpenOpticalFlow_Visualization, the reference named in spec A.8).

Inputs: the two real .flo samples of the shared test data (when found) and random flows
(several magnitudes, exact axis directions, zero flow). The flow is given to flow_vis as
float64, as our code computes in double; the images must then be identical byte for byte.
RAFT's variant (spec A.8: one wheel entry further, 55 wraps to 1) has no package: it is
checked against a numpy transcription of the spec's description, as is the legend image.

Usage: python3 tests/python/test_flow_color_flowvis.py [BUILD_DIR]   (or WSVIS_BUILD_DIR=...)
Exit status 0 all equal, 1 a difference, 77 numpy/flow_vis cannot be installed (offline).
"""
import os
import struct
import subprocess
import sys
import tempfile


from wsvis_testing import require_packages, tool_path  # noqa: E402

require_packages(['numpy', 'flow_vis'])

import flow_vis  # noqa: E402
import numpy as np  # noqa: E402

TOOL = tool_path("flow_color_tool")
failures = []


def shared_data():
    here = os.path.dirname(os.path.abspath(__file__))
    for c in [os.environ.get("WSVIS_TEST_DATA", ""), os.path.join(here, "../../shared/data"),
              os.path.join(here, "../../../shared/data"), "/work/shared/data"]:
        if c and os.path.isdir(os.path.join(c, "flow_sample")):
            return c
    return None


def write_flo(path, flow):
    h, w, _ = flow.shape
    with open(path, "wb") as f:
        f.write(struct.pack("<fii", 202021.25, w, h))
        f.write(flow.astype("<f4").tobytes())


def read_flo(path):
    with open(path, "rb") as f:
        magic, w, h = struct.unpack("<fii", f.read(12))
        assert magic == 202021.25
        return np.frombuffer(f.read(), "<f4").reshape(h, w, 2)


def run_tool(args, shape):
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "out.rgb")
        subprocess.run([TOOL] + args + [out], check=True)
        return np.fromfile(out, np.uint8).reshape(shape)


WHEEL = flow_vis.make_colorwheel()


def raft_reference(u, v):
    """Spec A.8, RAFT variant, from its description: fk = (a+1)/2*54 + 1, 55 wraps to 1."""
    rad = np.sqrt(np.square(u) + np.square(v))
    a = np.arctan2(-v, -u) / np.pi
    fk = (a + 1) / 2 * 54 + 1
    k0 = np.floor(fk).astype(np.int64)
    f = fk - k0
    top = k0 >= 55  # a = +1: the continuous limit (wheel[1])
    k0[top] = 54
    f[top] = 1.0
    k1 = k0 + 1
    k1[k1 == 55] = 1
    img = np.zeros(u.shape + (3,), np.uint8)
    for i in range(3):
        col = (1 - f) * (WHEEL[k0, i] / 255.0) + f * (WHEEL[k1, i] / 255.0)
        inside = rad <= 1
        col[inside] = 1 - rad[inside] * (1 - col[inside])
        col[~inside] = col[~inside] * 0.75
        img[..., i] = np.floor(255 * col)
    return img


def compare(name, mine, ref):
    if mine.shape != ref.shape:
        failures.append("%s: shape %s vs %s" % (name, mine.shape, ref.shape))
        return
    diff = np.argwhere(np.any(mine != ref, axis=-1))
    if len(diff):
        y, x = diff[0]
        failures.append("%s: %d of %d pixels differ, first (x=%d, y=%d): %s vs %s" % (
            name, len(diff), mine.shape[0] * mine.shape[1], x, y, mine[y, x].tolist(), ref[y, x].tolist()))


def check_flow(name, flow, path):
    flow64 = flow.astype(np.float64)
    h, w, _ = flow.shape
    compare(name + " flow_vis", run_tool([path, "flow_vis"], (h, w, 3)), flow_vis.flow_to_color(flow64))
    rad_max = np.max(np.sqrt(np.square(flow64[..., 0]) + np.square(flow64[..., 1])))
    u = flow64[..., 0] / (rad_max + 1e-5)
    v = flow64[..., 1] / (rad_max + 1e-5)
    compare(name + " raft", run_tool([path, "raft"], (h, w, 3)), raft_reference(u, v))


def main():
    if not os.access(TOOL, os.X_OK):
        print("FAIL: flow_color_tool not found at %s: build the flow_color_tool target" % TOOL)
        return 1
    rng = np.random.default_rng(7)
    cases = 0
    with tempfile.TemporaryDirectory() as d:
        data = shared_data()
        if data:
            for rel in ["flow_sample/flyingchairs_00001_crop/00001_flow.flo",
                        "flow_sample/middlebury_grove3/grove3.flo"]:
                check_flow(rel, read_flo(os.path.join(data, rel)), os.path.join(data, rel))
                cases += 1
        else:
            print("note: shared test data not found; random flows only")
        for i in range(40):
            h, w = int(rng.integers(1, 40)), int(rng.integers(1, 40))
            scale = [1e-3, 1.0, 30.0, 500.0][i % 4]
            flow = (rng.standard_normal((h, w, 2)) * scale).astype(np.float32)
            if i % 5 == 0:  # exact axis directions, signed zeros, zero flow
                choices = np.array([[1, 0], [0, 1], [-1, 0], [0, -1], [0, 0], [1, -0.0], [-1, -0.0]], np.float32)
                flow = choices[rng.integers(0, len(choices), (h, w))] * np.float32(scale)
            path = os.path.join(d, "r%d.flo" % i)
            write_flo(path, flow)
            check_flow("random %d (%dx%d, scale %g)" % (i, h, w, scale), flow, path)
            cases += 1
    # The legend: pixel (x, y) shows ((x - c)/c, (y - c)/c) inside the unit disc, white outside.
    size = 65
    c = (size - 1) / 2.0
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    u, v = (xx - c) / c, (yy - c) / c
    inside = u * u + v * v <= 1.0
    ref = flow_vis.flow_uv_to_colors(u, v)
    ref[~inside] = 255
    compare("legend flow_vis", run_tool(["--legend", str(size), "flow_vis"], (size, size, 3)), ref)
    ref = raft_reference(u, v)
    ref[~inside] = 255
    compare("legend raft", run_tool(["--legend", str(size), "raft"], (size, size, 3)), ref)
    cases += 2
    if failures:
        print("FAIL: %d of %d comparisons differ:" % (len(failures), 2 * cases))
        for f in failures[:20]:
            print("  " + f)
        return 1
    print("OK: %d flow colour images identical to flow_vis / the RAFT description" % (2 * cases))
    return 0


if __name__ == "__main__":
    sys.exit(main())
