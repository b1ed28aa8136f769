#!/usr/bin/env python3
"""Exports torchvision ResNet weights to safetensors with torchvision's state_dict names, so
that wsvis loads them directly (engine/checkpoint.h: load_state_dict / load_state_dict_file).

    # ImageNet weights (downloads through torchvision unless they are in the torch hub cache):
    python3 scripts/export_torchvision.py --arch resnet50 --out resnet50.safetensors
    # from a local .pth (machines without network, e.g. the GPU machine):
    python3 scripts/export_torchvision.py --arch resnet50 --weights-path resnet50-0676ba61.pth \
        --out resnet50.safetensors
    # random initialisation with a seed, for forward/backward parity tests:
    python3 scripts/export_torchvision.py --arch resnet50 --random --seed 0 --out r50_rand.safetensors

Needs torch and torchvision (only here: wsvis builds and tests without them). Without network
torchvision cannot download weights: fetch the .pth elsewhere (the URL is printed) and pass
--weights-path, or put it in the torch hub cache ($TORCH_HOME/hub/checkpoints/, by default
~/.cache/torch/hub/checkpoints/). The file is written with the `safetensors` package when it is
installed and with the numpy-only writer below otherwise (same format; the interop test
tests/python/test_safetensors_interop.py checks that the package reads that writer's files).
Exit status: 0 written, 2 bad arguments or missing torch/weights.
"""
import argparse
import json
import os
import struct
import sys

ARCHS = ("resnet18", "resnet34", "resnet50", "resnet101")

# numpy dtype -> safetensors dtype, for the dtypes wsvis reads.
_NUMPY_TO_ST = {"float32": "F32", "float64": "F64", "int32": "I32", "int64": "I64", "uint8": "U8"}
_ST_SIZE = {"F64": 8, "I64": 8, "F32": 4, "I32": 4, "U8": 1}


def write_safetensors_numpy(path, tensors, metadata=None):
    """Writes {name: numpy array} as safetensors, the way the Rust implementation lays it out:
    tensors sorted by element size (largest first) then name, so each is aligned; the JSON header
    padded with spaces to a multiple of 8; little-endian data. Atomic: path + ".tmp", fsync,
    rename. Only F32, F64, I32, I64 and U8 (what wsvis reads)."""
    import numpy as np

    entries = []
    for name, array in tensors.items():
        array = np.asarray(array)
        kind = _NUMPY_TO_ST.get(array.dtype.name)
        if kind is None:
            raise ValueError(f"{name}: dtype {array.dtype} is not one of {sorted(_NUMPY_TO_ST)}")
        entries.append((name, kind, array))
    entries.sort(key=lambda e: (-_ST_SIZE[e[1]], e[0]))
    header = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    blobs, offset = [], 0
    for name, kind, array in entries:
        data = np.ascontiguousarray(array).astype(array.dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": kind, "shape": list(array.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--arch", choices=ARCHS, required=True)
    p.add_argument("--out", required=True, help="output .safetensors path")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--weights", default="IMAGENET1K_V1",
                     help="torchvision weights enum member (IMAGENET1K_V1, IMAGENET1K_V2); "
                          "default IMAGENET1K_V1, the classic weights detectron2 and IRN start from")
    src.add_argument("--weights-path", help="a local .pth state_dict (no download)")
    src.add_argument("--random", action="store_true",
                     help="torchvision's random initialisation (with --seed) instead of weights")
    p.add_argument("--seed", type=int, default=0, help="torch.manual_seed for --random")
    p.add_argument("--num-classes", type=int, default=1000,
                   help="fc outputs (only with --random; ImageNet weights have 1000)")
    return p.parse_args(argv)


def fail(message):
    print(f"export_torchvision.py: {message}", file=sys.stderr)
    sys.exit(2)


def import_torch():
    try:
        import torch
        import torchvision
    except ImportError as e:
        fail(f"needs torch and torchvision ({e}); install them where "
                 "you export (pip install torch torchvision) - wsvis itself does not need them")
    return torch, torchvision


def build_model(args, torch, torchvision):
    ctor = getattr(torchvision.models, args.arch)
    if args.random:
        torch.manual_seed(args.seed)
        return ctor(weights=None, num_classes=args.num_classes), f"random(seed={args.seed})"
    if args.num_classes != 1000:
        fail("--num-classes applies only with --random")
    model = ctor(weights=None)
    if args.weights_path:
        state = torch.load(args.weights_path, map_location="cpu", weights_only=True)
        for key in ("state_dict", "model"):  # common checkpoint wrappers
            if isinstance(state, dict) and key in state and isinstance(state[key], dict):
                state = state[key]
        model.load_state_dict(state, strict=True)
        return model, os.path.basename(args.weights_path)
    enum = torchvision.models.get_model_weights(args.arch)
    try:
        weights = enum[args.weights]
    except KeyError:
        fail(f"{args.arch} has no weights {args.weights} "
                 f"(choices: {', '.join(w.name for w in enum)})")
    try:
        state = weights.get_state_dict(progress=False)
    except Exception as e:  # no network: urllib raises URLError, wrapped differently by versions
        fail(f"could not obtain {args.arch} {args.weights} ({e}).\n"
                 f"Without network, download {weights.url} elsewhere and pass --weights-path, or "
                 "put the file in the torch hub cache (~/.cache/torch/hub/checkpoints/).")
    model.load_state_dict(state, strict=True)
    return model, f"{args.arch}.{args.weights}"


def main(argv):
    args = parse_args(argv)
    torch, torchvision = import_torch()
    model, source = build_model(args, torch, torchvision)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    params = sum(p.numel() for p in model.parameters())
    metadata = {"source": "torchvision", "arch": args.arch, "weights": source,
                "torch": torch.__version__, "torchvision": torchvision.__version__,
                "parameters": str(params)}
    try:
        from safetensors.torch import save_file
        tmp = args.out + ".tmp"
        save_file(state, tmp, metadata=metadata)
        os.replace(tmp, args.out)
        writer = "safetensors " + __import__("safetensors").__version__
    except ImportError:
        write_safetensors_numpy(args.out, {k: v.numpy() for k, v in state.items()}, metadata)
        writer = "numpy fallback writer"
    print(f"export_torchvision.py: wrote {args.out}: {args.arch} ({source}), {len(state)} tensors, "
          f"{params:,} parameters, with {writer}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
