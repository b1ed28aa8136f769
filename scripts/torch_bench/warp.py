"""PyTorch twin of wsvis_bench's warp entries (bench/bench_warp.cpp): torch.nn.functional.grid_sample
(bilinear, zeros padding, align_corners=False) on the same sizes.

run(args) -> list of {"name", "time_ms", ...} rows whose names match wsvis_bench's:
  warp_fwd/1x256x200x336        grid_sample forward of a (1, 256, 200, 336) fp32 map
  warp_bwd/1x256x200x336        grid_sampler_2d_backward: input and grid gradients in one call
                                (wsvis: warp_bwd_input atomic + warp_bwd_flow, timed together)
  warp_masks_u8/100x200x336     uint8 masks -> float, grid_sample, >= 0.5, tight boxes and areas
  warp_masks_f32/100x200x336    the same from float masks
The pixel flow is turned into grid_sample's normalised grid once, outside the timing (that
favours torch: wsvis reads the pixel flow directly). Timing as wsvis_bench: CUDA events,
warm-up, a 256 MiB L2 flush before every timed run, median of `runs` runs. Inputs come from
torch's generator: same distributions and sizes as wsvis's, different values.
"""

from timing import cuda_timer


def _grid_from_flow(torch, flow):
    # flow: (N, 2, H, W) pixels -> grid (N, H, W, 2) with align_corners=False normalisation.
    N, _, H, W = flow.shape
    ys, xs = torch.meshgrid(torch.arange(H, device=flow.device, dtype=flow.dtype),
                            torch.arange(W, device=flow.device, dtype=flow.dtype), indexing="ij")
    gx = (2 * (xs + flow[:, 0]) + 1) / W - 1
    gy = (2 * (ys + flow[:, 1]) + 1) / H - 1
    return torch.stack((gx, gy), dim=-1).contiguous()


def _mask_boxes(torch, fg):
    # fg: (K, H, W) bool -> boxes (K, 4) int32 (x0, y0, x1 exclusive, y1 exclusive; 0 if empty)
    # and areas (K), as wsvis's warp_masks.
    K, H, W = fg.shape
    cols = fg.any(dim=1)  # (K, W)
    rows = fg.any(dim=2)  # (K, H)
    xs = torch.arange(W, device=fg.device)
    ys = torch.arange(H, device=fg.device)
    big = max(H, W) + 1
    x0 = torch.where(cols, xs, big).min(dim=1).values
    x1 = torch.where(cols, xs, -1).max(dim=1).values + 1
    y0 = torch.where(rows, ys, big).min(dim=1).values
    y1 = torch.where(rows, ys, -1).max(dim=1).values + 1
    empty = x1 == 0
    boxes = torch.stack((x0, y0, x1, y1), dim=1).masked_fill(empty[:, None], 0).int()
    return boxes, fg.sum(dim=(1, 2), dtype=torch.int32)


def run(args):
    import torch
    import torch.nn.functional as F

    if not torch.cuda.is_available():
        raise RuntimeError("scripts/torch_bench/warp.py needs a CUDA device")
    runs = getattr(args, "runs", None) or 50
    time_ms = cuda_timer(torch, runs)
    device = torch.cuda.get_device_name(0)
    g = torch.Generator(device="cuda").manual_seed(41)
    rows = []

    def row(name, shape, precision, timing):
        rows.append({"name": name, "shape": shape, "device": device, "precision": precision,
                     "time_ms": timing[0], "min_ms": timing[1], "runs": runs,
                     "framework": "torch " + torch.__version__})

    N, C, H, W = 1, 256, 200, 336
    tag = f"{N}x{C}x{H}x{W}"
    shape = f"x({N}, {C}, {H}, {W}) flow({N}, 2, {H}, {W})"
    x = torch.rand(N, C, H, W, device="cuda", generator=g) * 2 - 1
    flow = torch.rand(N, 2, H, W, device="cuda", generator=g) * 12 - 6
    gy = torch.rand(N, C, H, W, device="cuda", generator=g) * 2 - 1
    grid = _grid_from_flow(torch, flow)
    with torch.no_grad():
        row("warp_fwd/" + tag, shape, "fp32", time_ms(
            lambda: F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros",
                                  align_corners=False)))
        # interpolation 0 = bilinear, padding 0 = zeros; output_mask: input and grid gradients.
        row("warp_bwd/" + tag, shape, "fp32", time_ms(
            lambda: torch.ops.aten.grid_sampler_2d_backward(gy, x, grid, 0, 0, False,
                                                            [True, True])))

    K = 100
    mshape = f"masks({K}, {H}, {W}) flow(2, {H}, {W})"
    yy, xx = torch.meshgrid(torch.arange(H, device="cuda", dtype=torch.float32),
                            torch.arange(W, device="cuda", dtype=torch.float32), indexing="ij")
    k = torch.arange(K, device="cuda", dtype=torch.float32)[:, None, None]
    cx, cy = 20 + (k * 37) % 300, 15 + (k * 53) % 170
    rx, ry = 8 + k % 40, 6 + k % 30
    d = (xx - cx) ** 2 / rx ** 2 + (yy - cy) ** 2 / ry ** 2
    soft = torch.where(d < 1, torch.ones_like(d), torch.clamp(3 - 2 * d, min=0) * (d < 1.5))
    binary = (soft >= 0.5).to(torch.uint8)
    mflow = torch.rand(1, 2, H, W, device="cuda", generator=g) * 12 - 6
    mgrid = _grid_from_flow(torch, mflow)

    def warp_masks(masks):
        m = masks.float() if masks.dtype == torch.uint8 else masks
        warped = F.grid_sample(m[None], mgrid, mode="bilinear", padding_mode="zeros",
                               align_corners=False)[0]
        fg = warped >= 0.5
        boxes, areas = _mask_boxes(torch, fg)
        return fg.to(torch.uint8), boxes, areas

    with torch.no_grad():
        row(f"warp_masks_u8/{K}x{H}x{W}", mshape, "u8", time_ms(lambda: warp_masks(binary)))
        row(f"warp_masks_f32/{K}x{H}x{W}", mshape, "fp32", time_ms(lambda: warp_masks(soft)))
    return rows


if __name__ == "__main__":
    import argparse
    import json

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=50)
    for r in run(parser.parse_args()):
        print(json.dumps(r))
