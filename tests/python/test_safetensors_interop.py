#!/usr/bin/env python3
"""Checks that wsvis' safetensors files (engine/safetensors.h, driven through
tests/tools/safetensors_tool) and the Python `safetensors` package read each other's files
with identical values.

Both directions, on F32, F64, I32, I64 and U8 tensors of several shapes, including 0-d and
empty ones, extreme integers (int64 beyond 2^53), -0.0, subnormals, NaN and +-inf; metadata
too. Then: a file with a dtype wsvis does not have (F16) is refused with a message naming it,
and the numpy-only writer in scripts/export_torchvision.py (used where the package is
missing) writes files the package reads.

Usage: python3 tests/python/test_safetensors_interop.py [BUILD_DIR]   (or WSVIS_BUILD_DIR=...,
or WSVIS_SAFETENSORS_TOOL=<path of safetensors_tool>). Installs safetensors and numpy with pip
when missing. Exit status 0 when everything matches, 1 otherwise, 77 when the packages cannot
be installed (offline machine).
"""
import importlib.util
import json
import os
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True  # importing scripts/export_torchvision.py leaves no __pycache__


from wsvis_testing import require_packages, tool_path  # noqa: E402

require_packages(['numpy', 'safetensors'])

import numpy as np  # noqa: E402
from safetensors import safe_open  # noqa: E402
from safetensors.numpy import load_file, save_file  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))




TOOL = os.environ.get("WSVIS_SAFETENSORS_TOOL") or tool_path("safetensors_tool")
DTYPES = {"F32": np.float32, "F64": np.float64, "I32": np.int32, "I64": np.int64, "U8": np.uint8}
failures = []
checks = 0


def check(cond, what):
    global checks
    checks += 1
    if not cond:
        failures.append(what)
        if len(failures) <= 20:
            print("MISMATCH:", what)


def sample_tensors():
    rng = np.random.default_rng(20261121)
    special32 = np.array([np.nan, np.inf, -np.inf, -0.0, 1e-45, 3.4028235e38, -1.5, 0.1],
                         dtype=np.float32)
    return {
        "conv1.weight": rng.standard_normal((4, 3, 3, 3)).astype(np.float32),
        "special_f32": special32.reshape(2, 4),
        "f64": np.concatenate([rng.standard_normal(10), [np.nan, -0.0, 5e-324, 1e308]]).reshape(2, 7),
        "i32": np.array([-2**31, 2**31 - 1, 0, -7, 12], dtype=np.int32),
        "num_batches_tracked": np.array(2**53 + 1, dtype=np.int64),  # 0-d, beyond a double
        "i64": np.array([[-2**63, 2**63 - 1], [3, -4]], dtype=np.int64),
        "u8": rng.integers(0, 256, size=(3, 5), dtype=np.uint8),
        "scalar_f32": np.array(0.3, dtype=np.float32),
        "empty_f32": np.zeros((0, 3), dtype=np.float32),
        "empty_u8": np.zeros((0,), dtype=np.uint8),
        "five_d": rng.standard_normal((1, 2, 3, 1, 2)),
        "big": rng.uniform(-1, 1, size=(300, 37)).astype(np.float32),
    }


def dtype_name(a):
    for name, t in DTYPES.items():
        if a.dtype == t:
            return name
    raise ValueError(a.dtype)


def same_array(got, want, what):
    check(got.dtype == want.dtype, f"{what}: dtype {got.dtype} vs {want.dtype}")
    check(got.shape == want.shape, f"{what}: shape {got.shape} vs {want.shape}")
    if got.dtype == want.dtype and got.shape == want.shape:
        # Bytes, so that -0.0, subnormals and NaN compare exactly (NaN payloads: the default one).
        check(np.ascontiguousarray(got).tobytes() == np.ascontiguousarray(want).tobytes(),
              f"{what}: values differ\n  got  {got.ravel()[:8]}\n  want {want.ravel()[:8]}")


def from_json_values(entry):
    t = DTYPES[entry["dtype"]]
    vals = [float(v) if isinstance(v, str) else v for v in entry["values"]]
    if np.issubdtype(t, np.integer):
        return np.array(vals, dtype=object).astype(t).reshape(entry["shape"]) if vals else \
            np.zeros(entry["shape"], dtype=t)
    return np.array(vals, dtype=np.float64).astype(t).reshape(entry["shape"])


def to_json_values(a):
    out = []
    for v in a.ravel().tolist():
        if isinstance(v, float) and (v != v or v in (float("inf"), float("-inf"))):
            out.append("nan" if v != v else ("inf" if v > 0 else "-inf"))
        else:
            out.append(v)
    return out


def run_tool(*args):
    return subprocess.run([TOOL, *args], capture_output=True, text=True)


def python_to_wsvis(tmp, tensors):
    path = os.path.join(tmp, "from_python.safetensors")
    save_file(tensors, path, metadata={"format": "np", "step": "17"})
    r = run_tool("read", path)
    check(r.returncode == 0, f"tool read failed: {r.stderr}")
    if r.returncode != 0:
        return
    out = json.loads(r.stdout)
    got = {e["name"]: e for e in out["tensors"]}
    check(sorted(got) == sorted(tensors), f"names {sorted(got)} vs {sorted(tensors)}")
    for name, want in tensors.items():
        if name not in got:
            continue
        check(got[name]["dtype"] == dtype_name(want), f"{name}: dtype {got[name]['dtype']}")
        check(got[name]["shape"] == list(want.shape), f"{name}: shape {got[name]['shape']}")
        same_array(from_json_values(got[name]), want, f"python->wsvis {name}")
    check(out["metadata"] == {"format": "np", "step": "17"}, f"metadata {out['metadata']}")


def wsvis_to_python(tmp, tensors):
    spec = {"tensors": [{"name": n, "dtype": dtype_name(a), "shape": list(a.shape),
                         "values": to_json_values(a)} for n, a in tensors.items()],
            "metadata": {"epoch": "3", "note": "written by wsvis"}}
    spec_path = os.path.join(tmp, "spec.json")
    with open(spec_path, "w") as f:
        json.dump(spec, f)
    path = os.path.join(tmp, "from_wsvis.safetensors")
    r = run_tool("write", path, spec_path)
    check(r.returncode == 0, f"tool write failed: {r.stderr}")
    if r.returncode != 0:
        return
    loaded = load_file(path)
    check(sorted(loaded) == sorted(tensors), f"names {sorted(loaded)} vs {sorted(tensors)}")
    for name, want in tensors.items():
        if name in loaded:
            same_array(loaded[name], want, f"wsvis->python {name}")
    with safe_open(path, framework="numpy") as f:
        check(f.metadata() == spec["metadata"], f"metadata {f.metadata()}")
        check(list(f.keys()) == sorted(tensors), f"keys {list(f.keys())}")
    # And back: wsvis reads its own file, in the order it was written.
    r = run_tool("read", path)
    check(r.returncode == 0 and [e["name"] for e in json.loads(r.stdout)["tensors"]] == list(tensors),
          "wsvis re-read keeps the header order")


def unsupported_dtype(tmp):
    path = os.path.join(tmp, "f16.safetensors")
    save_file({"half": np.ones((2, 2), dtype=np.float16)}, path)
    r = run_tool("read", path)
    check(r.returncode == 2, f"F16 file: exit {r.returncode}, expected 2")
    check("F16, which wsvis does not support" in r.stderr and path in r.stderr,
          f"F16 file: message {r.stderr!r}")


def fallback_writer(tmp, tensors):
    spec = importlib.util.spec_from_file_location(
        "export_torchvision", os.path.join(ROOT, "scripts", "export_torchvision.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # importing must not need torch
    path = os.path.join(tmp, "fallback.safetensors")
    module.write_safetensors_numpy(path, tensors, {"source": "fallback"})
    loaded = load_file(path)
    for name, want in tensors.items():
        same_array(loaded[name], want, f"fallback writer {name}")
    with safe_open(path, framework="numpy") as f:
        check(f.metadata() == {"source": "fallback"}, f"fallback metadata {f.metadata()}")
    r = run_tool("read", path)
    check(r.returncode == 0, f"wsvis reads the fallback writer's file: {r.stderr}")


def main():
    if not os.path.isfile(TOOL):
        print(f"FAIL: {TOOL} not found (build the safetensors_tool target, or pass the build dir)")
        return 1
    tensors = sample_tensors()
    with tempfile.TemporaryDirectory() as tmp:
        python_to_wsvis(tmp, tensors)
        wsvis_to_python(tmp, tensors)
        unsupported_dtype(tmp)
        fallback_writer(tmp, tensors)
    if failures:
        print(f"FAILED: {len(failures)} of {checks} checks")
        return 1
    print(f"OK: {checks} checks (safetensors {importlib.import_module('safetensors').__version__})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
