#!/usr/bin/env python3
"""Forward and backward optical flow for videos that come without it (OpenCV DIS flow).

    scripts/compute_flow.py FRAMES OUT [--preset ultrafast|fast|medium] [--force] [--quiet]

FRAMES is either one video (a folder of frame images) or a YouTube-VIS JPEGImages root (a
folder of such folders; every video folder in it is processed, in name order). OUT is the
flow root: the flow of video <v> goes to OUT/<v>/, where <v> is the name of the frame folder.
The layout is the one `wsvis synth` writes under <set>/flow and `wsvis eval --flow-dir` and the
loaders read (data/synth.h):

    OUT/<v>/<frame>_fw.flo   flow from frame t to frame t+1, stored at t   (every frame but the last)
    OUT/<v>/<frame>_bw.flo   flow from frame t to frame t-1, stored at t   (every frame but the first)

<frame> is the frame file's name without its extension ("00000" for 00000.jpg). Frames are
the image files of the folder (.jpg .jpeg .png .bmp .ppm .pgm .tif .tiff .webp, any case)
sorted by name, and consecutive means consecutive in that order: YouTube-VIS keeps every
5th frame of the source video (00000, 00005, ...), so its "t+1" is 5 source frames later.
A video of one frame gets no flow files.

Flow: cv2.DISOpticalFlow (Kroeger et al., "Fast Optical Flow using Dense Inverse Search",
ECCV 2016) on the frames converted to grey by OpenCV's imread (IMREAD_GRAYSCALE:
0.299 R + 0.587 G + 0.114 B), with one of OpenCV's presets, by default PRESET_MEDIUM (patch
12 px, stride 8, gradient descent to pyramid level 1, variational refinement): the most
accurate preset: on the synthetic set's textured background (pan ~0.8-1.5 px per frame) the
end-point error against the exact flow is 0.05-0.22 px median and 0.06-0.55 px mean per frame
(96x80 and 128x128 sets, several seeds), ~0.4-0.6 px mean on the moving instances
(tests/python/test_compute_flow.py checks median < 0.5 px, mean < 1 px). The forward and backward flows are computed
independently (two DIS calls per pair), u = right and v = down in pixels, the convention of
data/flow_io.h. DIS output is dense and finite, so no pixel is marked unknown.

Files: Middlebury .flo (data/flow_io.h): float32 magic 202021.25 ("PIEH"), int32 width, int32
height, then (u, v) float32 pairs, row-major, little-endian. Each is written to a temporary
file in the target folder and renamed over the target, so an interrupted run never leaves a
half-written .flo; an existing file is kept (a rerun resumes) unless --force is given.

Needs numpy and OpenCV; when they cannot be imported it pip-installs numpy and
opencv-python-headless (quietly, with --user --break-system-packages as the fallback on
PEP 668 Pythons).
Exit status: 0 done; 2 bad input (a missing folder, no frames, an unreadable image, frames of
different sizes; the message names the file); 3 numpy/OpenCV unavailable and pip could not
install them (offline?).
"""
import argparse
import importlib
import importlib.util
import os
import struct
import subprocess
import sys
import tempfile
import time

FLO_MAGIC = 202021.25
IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".pgm", ".tif", ".tiff", ".webp"}
PRESETS = {"ultrafast": "DISOPTICAL_FLOW_PRESET_ULTRAFAST",
           "fast": "DISOPTICAL_FLOW_PRESET_FAST",
           "medium": "DISOPTICAL_FLOW_PRESET_MEDIUM"}


class InputError(Exception):
    """Bad input; the message names the file and the problem (exit status 2)."""


def ensure_packages():
    """Imports numpy and cv2, pip-installing them when missing; exits 3 when impossible."""
    modules = {"numpy": "numpy", "cv2": "opencv-python-headless"}
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        names = [modules[m] for m in missing]
        print(f"compute_flow: installing {' '.join(names)} with pip", file=sys.stderr)
        base = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        quiet = dict(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if subprocess.call(base + names, **quiet) != 0:
            subprocess.call(base + ["--user", "--break-system-packages"] + names, **quiet)
        importlib.invalidate_caches()
        missing = [m for m in modules if importlib.util.find_spec(m) is None]
        if missing:
            print("compute_flow: error: cannot import " + ", ".join(missing) + " and pip could not "
                  "install " + " ".join(modules[m] for m in missing) + " (offline?). Install them "
                  "with: python3 -m pip install numpy opencv-python-headless", file=sys.stderr)
            sys.exit(3)
    importlib.import_module("numpy")
    cv2 = importlib.import_module("cv2")
    if not hasattr(cv2, "DISOpticalFlow_create"):
        print(f"compute_flow: error: OpenCV {cv2.__version__} has no DISOpticalFlow "
              "(needs OpenCV >= 3.4 from opencv-python-headless)", file=sys.stderr)
        sys.exit(3)


def frame_files(folder):
    """Image files directly in folder, sorted by name."""
    return sorted(f for f in os.listdir(folder)
                  if os.path.splitext(f)[1].lower() in IMAGE_EXTENSIONS
                  and os.path.isfile(os.path.join(folder, f)))


def find_videos(frames_root):
    """[(video name, folder)]: the folder itself when it holds frames, else its subfolders
    that hold frames (a JPEGImages root)."""
    if not os.path.isdir(frames_root):
        raise InputError(f"{frames_root}: not a directory")
    root = os.path.normpath(frames_root)
    if frame_files(root):
        return [(os.path.basename(os.path.abspath(root)), root)]
    videos = []
    for name in sorted(os.listdir(root)):
        sub = os.path.join(root, name)
        if os.path.isdir(sub) and frame_files(sub):
            videos.append((name, sub))
    if not videos:
        raise InputError(f"{frames_root}: no frame images ({', '.join(sorted(IMAGE_EXTENSIONS))}) "
                         "in it or in its subfolders")
    return videos


def flo_bytes(flow):
    """Middlebury .flo bytes of an (H, W, 2) float flow."""
    import numpy as np
    h, w = flow.shape[:2]
    if flow.shape != (h, w, 2) or not np.all(np.isfinite(flow)):
        raise ValueError("flow must be (H, W, 2) and finite")
    return struct.pack("<fii", FLO_MAGIC, w, h) + np.ascontiguousarray(flow, "<f4").tobytes()


def write_atomic(path, data):
    """Writes data to a temporary file beside path and renames it over path."""
    folder = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def read_grey(path):
    import cv2
    img = cv2.imread(path, cv2.IMREAD_GRAYSCALE)
    if img is None:
        raise InputError(f"{path}: cannot read the image (missing, truncated or not an image)")
    return img


def make_dis(preset):
    import cv2
    return cv2.DISOpticalFlow_create(getattr(cv2, PRESETS[preset]))


def process_video(name, folder, out_root, preset="medium", force=False):
    """Writes the flow of one video; returns (flow files written, files kept, seconds)."""
    files = frame_files(folder)
    out_dir = os.path.join(out_root, name)
    os.makedirs(out_dir, exist_ok=True)
    stems = [os.path.splitext(f)[0] for f in files]
    if len(set(stems)) != len(stems):
        raise InputError(f"{folder}: two frame files share a name without extension")
    dis = make_dis(preset)
    written = kept = 0
    start = time.perf_counter()
    prev = None
    for i in range(len(files) - 1):
        fw = os.path.join(out_dir, stems[i] + "_fw.flo")
        bw = os.path.join(out_dir, stems[i + 1] + "_bw.flo")
        if not force and os.path.isfile(fw) and os.path.isfile(bw):
            kept += 2
            prev = None
            continue
        a = prev if prev is not None else read_grey(os.path.join(folder, files[i]))
        b = read_grey(os.path.join(folder, files[i + 1]))
        if a.shape != b.shape:
            raise InputError(f"{os.path.join(folder, files[i + 1])}: frame is {b.shape[1]}x{b.shape[0]} "
                             f"but {files[i]} is {a.shape[1]}x{a.shape[0]}")
        write_atomic(fw, flo_bytes(dis.calc(a, b, None)))
        write_atomic(bw, flo_bytes(dis.calc(b, a, None)))
        written += 2
        prev = b
    return written, kept, time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Forward/backward DIS optical flow (.flo) for a folder of frames or a "
                    "YouTube-VIS JPEGImages root.")
    parser.add_argument("frames", help="a folder of frames, or a folder of video folders")
    parser.add_argument("out", help="flow root: writes OUT/<video>/<frame>_fw.flo and _bw.flo")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="medium",
                        help="OpenCV DIS preset (default medium)")
    parser.add_argument("--force", action="store_true", help="recompute existing .flo files")
    parser.add_argument("--quiet", action="store_true", help="print only errors")
    args = parser.parse_args(argv)
    try:
        videos = find_videos(args.frames)
        ensure_packages()
        total = 0
        for name, folder in videos:
            written, kept, seconds = process_video(name, folder, args.out, args.preset, args.force)
            total += written
            if not args.quiet:
                pairs = written // 2
                rate = f", {pairs / seconds:.1f} frame pairs/s" if pairs and seconds > 0 else ""
                print(f"compute_flow: {name}: {written} .flo written, {kept} kept{rate}")
        if not args.quiet:
            print(f"compute_flow: {len(videos)} video(s), {total} .flo files in {args.out} "
                  f"(DIS preset {args.preset})")
    except InputError as e:
        print(f"compute_flow: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"compute_flow: {e.filename or ''}: {e.strerror or e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
