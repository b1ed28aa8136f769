"""torchvision twin of wsvis_bench's roi_align entries (bench/bench_roi_align.cpp): ROIAlignV2
(torchvision.ops.roi_align with aligned=True, sampling_ratio=0) on the same sizes.

run(args) -> list of {"name", "time_ms", ...} rows whose names match wsvis_bench's:
  roi_align_fwd/2x256x100x168_r1024_7x7    torchvision.ops.roi_align on one stride-8 map
  roi_align_bwd/2x256x100x168_r1024_7x7    torch.ops.torchvision._roi_align_backward
  roi_align_multilevel_{fwd,bwd}/fpn_2x256_r1024_7x7    detectron2's ROIPooler over P2..P5
  roi_align_multilevel_{fwd,bwd}/fpn_2x256_r128_14x14   (level assignment, one roi_align per
                                                        level, scatter into the output; the
                                                        backward through autograd)
Timing as wsvis_bench: CUDA events, warm-up, a 256 MiB L2 flush before every timed run, median
of `runs` runs. Boxes: sizes log-uniform in [16, 640] pixels, uniform positions, images
alternating; the same distribution as wsvis's, drawn by torch's generator (different boxes).
"""
from timing import cuda_timer


def _rois(torch, R, N, img_w, img_h, g):
    u = torch.rand(R, 4, device="cuda", generator=g, dtype=torch.float64)
    w = 16 * torch.pow(40.0, u[:, 0])
    h = 16 * torch.pow(40.0, u[:, 1])
    x1 = u[:, 2] * (img_w - torch.clamp(w, max=img_w))
    y1 = u[:, 3] * (img_h - torch.clamp(h, max=img_h))
    b = (torch.arange(R, device="cuda") % N).double()
    return torch.stack((b, x1, y1, x1 + w, y1 + h), dim=1).float().contiguous()


def _pooler(torch, roi_align, maps, scales, rois, P):
    # detectron2 ROIPooler: assign_boxes_to_levels, then roi_align per level into one output.
    wh = rois[:, 3:5] - rois[:, 1:3]
    size = torch.sqrt(wh[:, 0] * wh[:, 1])
    levels = torch.floor(4 + torch.log2(size / 224 + 1e-8)).clamp(2, 5).long() - 2
    out = rois.new_zeros(rois.shape[0], maps[0].shape[1], P, P)
    for level, (m, s) in enumerate(zip(maps, scales)):
        idx = torch.nonzero(levels == level, as_tuple=True)[0]
        out.index_put_((idx,), roi_align(m, rois[idx], (P, P), s, 0, True))
    return out


def run(args):
    import torch
    from torchvision.ops import roi_align

    if not torch.cuda.is_available():
        raise RuntimeError("scripts/torch_bench/roi_align.py needs a CUDA device")
    runs = getattr(args, "runs", None) or 50
    time_ms = cuda_timer(torch, runs)
    device = torch.cuda.get_device_name(0)
    rows = []

    def row(name, shape, timing):
        rows.append({"name": name, "shape": shape, "device": device, "precision": "fp32",
                     "time_ms": timing[0], "min_ms": timing[1], "runs": runs,
                     "framework": "torch " + torch.__version__})

    # Single level: the box head on a stride-8 map of an 800x1344 frame.
    g = torch.Generator(device="cuda").manual_seed(51)
    N, C, H, W, R, P, scale = 2, 256, 100, 168, 1024, 7, 1.0 / 8
    tag = f"{N}x{C}x{H}x{W}_r{R}_{P}x{P}"
    shape = f"x({N}, {C}, {H}, {W}) rois({R}, 5)"
    x = torch.rand(N, C, H, W, device="cuda", generator=g) * 2 - 1
    rois = _rois(torch, R, N, W / scale, H / scale, g)
    gy = torch.rand(R, C, P, P, device="cuda", generator=g) * 2 - 1
    with torch.no_grad():
        row("roi_align_fwd/" + tag, shape,
            time_ms(lambda: roi_align(x, rois, (P, P), scale, 0, True)))
        row("roi_align_bwd/" + tag, shape, time_ms(
            lambda: torch.ops.torchvision._roi_align_backward(gy, rois, scale, P, P, N, C, H, W,
                                                              0, True)))

    # FPN pooler over P2..P5 of an 800x1344 frame.
    img_h, img_w = 800, 1344
    for R, P in ((1024, 7), (128, 14)):
        g = torch.Generator(device="cuda").manual_seed(61)
        maps = [(torch.rand(N, C, img_h // (4 << l), img_w // (4 << l), device="cuda",
                            generator=g) * 2 - 1).requires_grad_(True) for l in range(4)]
        scales = [1.0 / (4 << l) for l in range(4)]
        rois = _rois(torch, R, N, img_w, img_h, g)
        gy = torch.rand(R, C, P, P, device="cuda", generator=g) * 2 - 1
        tag = f"fpn_{N}x{C}_r{R}_{P}x{P}"
        shape = f"P2({N}, {C}, {img_h // 4}, {img_w // 4}) rois({R}, 5)"
        with torch.no_grad():
            row("roi_align_multilevel_fwd/" + tag, shape,
                time_ms(lambda: _pooler(torch, roi_align, maps, scales, rois, P)))
        out = _pooler(torch, roi_align, maps, scales, rois, P)
        row("roi_align_multilevel_bwd/" + tag, shape, time_ms(
            lambda: torch.autograd.grad(out, maps, gy, retain_graph=True)))
    return rows


if __name__ == "__main__":
    import argparse
    import json

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=50)
    for r in run(parser.parse_args()):
        print(json.dumps(r))
