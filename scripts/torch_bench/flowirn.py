"""PyTorch twin of wsvis_bench's flowirn entries (bench/bench_flowirn.cpp), in torch on the GPU.
No public flowIRN code exists (spec section 7), so these are the plain torch formulations of the
same maths (the code here is ours):

run(args) -> list of {"name", "time_ms", ...} rows whose names match wsvis_bench's:
  percentile_select/720x1280_q0.8           torch.kthvalue of the flattened magnitude map
                                            (k = floor(0.8 (n - 1)) + 1: kthvalue is 1-based)
  flow_magnitude_percentile/720x1280_q0.8   torch.linalg.vector_norm over the flow channels,
                                            then the same kthvalue
  fcam/40x180x320, fcam/3x720x1280          torch.where(magnitude > T, 2 * cams, cams)
  flow_gradient/{94x125,180x320}            forward differences of both channels, / 4, zero
                                            across the last column / row
  flow_boundary_fwd/..., _bwd/..., _fwd_bwd/...
                                            the loss over IRN's radius-10 training pairs with
                                            alpha (1, 152, H, W): a gather of F' at every pair's
                                            destination (one index tensor per direction, built
                                            once outside the timing), norm, mean; backward by
                                            autograd with respect to alpha
  irn_centroids/180x320_300steps            IRN's find_centroids_with_refinement loop ported to
                                            torch on the GPU (float32 positions; IRN runs it in
                                            numpy on the CPU, with float64 arithmetic)
Timing as wsvis_bench: CUDA events, warm-up, a 256 MiB L2 flush before every timed run, median.
Inputs come from torch's generator: same distributions and sizes, different values.
"""

from timing import cuda_timer


def _irn_directions(radius):
    # IRN's order: (0, x), then (y, x) in the lower half-plane, grouped by path length.
    dirs = [(0, x) for x in range(1, radius)]
    dirs += [(y, x) for y in range(1, radius) for x in range(-radius + 1, radius)
             if x * x + y * y < radius * radius]

    def path_length(d):
        dy, dx = d
        n = 0
        for y in range(min(0, dy), max(0, dy) + 1):
            for x in range(min(0, dx), max(0, dx) + 1):
                if (dy * x - dx * y) ** 2 < dy * dy + dx * dx:
                    n += 1
        return n

    return sorted(dirs, key=path_length)  # sorted() is stable


def _synthetic_flow(torch, H, W, g):
    ys = torch.arange(H, device="cuda", dtype=torch.float32)[:, None] / H
    xs = torch.arange(W, device="cuda", dtype=torch.float32)[None, :] / W
    obj = (xs - 0.4) ** 2 + (ys - 0.5) ** 2 < 0.04
    u = torch.where(obj, torch.full_like(obj, 12.0, dtype=torch.float32), 1.5 * xs.expand(H, W))
    v = torch.where(obj, torch.full_like(obj, -5.0, dtype=torch.float32), 0.5 * ys.expand(H, W))
    noise = torch.rand(2, H, W, device="cuda", generator=g) - 0.5
    return torch.stack((u, v)) + noise


def run(args):
    import torch

    if not torch.cuda.is_available():
        raise RuntimeError("scripts/torch_bench/flowirn.py needs a CUDA device")
    runs = getattr(args, "runs", None) or 50
    time_ms = cuda_timer(torch, runs)
    device = torch.cuda.get_device_name(0)
    g = torch.Generator(device="cuda").manual_seed(51)
    rows = []

    def row(name, shape, precision, timing):
        rows.append({"name": name, "shape": shape, "device": device, "precision": precision,
                     "time_ms": timing[0], "min_ms": timing[1], "runs": runs,
                     "framework": "torch " + torch.__version__})

    with torch.no_grad():
        H, W = 720, 1280
        n = H * W
        k = int((0.8 * (n - 1)) // 1) + 1
        flow = _synthetic_flow(torch, H, W, g)
        mag = torch.linalg.vector_norm(flow, dim=0)
        row("percentile_select/720x1280_q0.8", f"magnitude({H}, {W})", "fp32",
            time_ms(lambda: torch.kthvalue(mag.reshape(-1), k).values))
        row("flow_magnitude_percentile/720x1280_q0.8", f"flow(2, {H}, {W})", "fp32",
            time_ms(lambda: torch.kthvalue(torch.linalg.vector_norm(flow, dim=0).reshape(-1),
                                           k).values))

        for C, h, w in ((40, 180, 320), (3, 720, 1280)):
            f = _synthetic_flow(torch, h, w, g)
            m = torch.linalg.vector_norm(f, dim=0)
            thr = torch.kthvalue(m.reshape(-1), int((0.8 * (h * w - 1)) // 1) + 1).values
            cams = torch.rand(C, h, w, device="cuda", generator=g)
            row(f"fcam/{C}x{h}x{w}", f"cams({C}, {h}, {w}) magnitude({h}, {w})", "fp32",
                time_ms(lambda: torch.where(m > thr, cams * 2, cams)))

    dirs = _irn_directions(10)
    D, rf = len(dirs), 9
    for H, W in ((94, 125), (180, 320)):
        tag = f"{H}x{W}"
        flow = _synthetic_flow(torch, H, W, g)[None]

        def gradient():
            gx = torch.zeros(1, 2, H, W, device="cuda")
            gy = torch.zeros(1, 2, H, W, device="cuda")
            gx[..., :, :-1] = (flow[..., :, 1:] - flow[..., :, :-1]) * 0.25
            gy[..., :-1, :] = (flow[..., 1:, :] - flow[..., :-1, :]) * 0.25
            return torch.stack((gx[:, 0], gy[:, 0], gx[:, 1], gy[:, 1]), dim=1)

        with torch.no_grad():
            row(f"flow_gradient/{tag}", f"flow(1, 2, {H}, {W})", "fp32", time_ms(gradient))
            fg = gradient()
        # Pairs of IRN's training crop: sources rows [0, H - rf), columns [rf, W - rf).
        hs, ws = H - rf, W - 2 * rf
        src = (torch.arange(hs, device="cuda")[:, None] * W
               + torch.arange(rf, W - rf, device="cuda")[None, :]).reshape(-1)
        dst = torch.stack([src + dy * W + dx for dy, dx in dirs])              # (D, S)
        alpha_full = torch.rand(1, D, H, W, device="cuda", generator=g)
        alpha_full.requires_grad_(True)
        fgf = fg.reshape(4, H * W)
        lam = 2.0

        def forward():
            a = alpha_full.reshape(D, H * W)[:, src]                           # (D, S)
            diff = fgf[:, src][:, None, :] - fgf[:, dst]                       # (4, D, S)
            dist = torch.linalg.vector_norm(diff, dim=0)
            return (dist * a + lam * (1 - a).abs()).mean()

        shape = f"flow_grad(1, 4, {H}, {W}) alpha(1, {D}, {H}, {W})"
        with torch.no_grad():
            row(f"flow_boundary_fwd/{tag}", shape, "fp32", time_ms(forward))
        loss = forward()
        row(f"flow_boundary_bwd/{tag}", shape, "fp32",
            time_ms(lambda: torch.autograd.grad(loss, alpha_full, retain_graph=True)))
        row(f"flow_boundary_fwd_bwd/{tag}", shape, "fp32",
            time_ms(lambda: torch.autograd.grad(forward(), alpha_full)))
        del loss

    with torch.no_grad():
        H, W = 180, 320
        ys = torch.arange(H, device="cuda", dtype=torch.float32)[:, None].expand(H, W)
        xs = torch.arange(W, device="cuda", dtype=torch.float32)[None, :].expand(H, W)
        cy = torch.where(xs < W / 2, 0.4 * H, 0.6 * H)
        cx = torch.where(xs < W / 2, 0.25 * W, 0.75 * W)
        disp = torch.stack((0.3 * (cy - ys), 0.3 * (cx - xs)))
        disp += torch.rand(2, H, W, device="cuda", generator=g) - 0.5

        def centroids():
            py, px = ys.clone(), xs.clone()
            d0, d1 = disp[0].reshape(-1), disp[1].reshape(-1)
            for _ in range(300):
                uy, ly = torch.ceil(py).long(), torch.floor(py).long()
                ux, lx = torch.ceil(px).long(), torch.floor(px).long()
                fy, fx = py - ly, px - lx
                i_uu, i_lu, i_ul, i_ll = uy * W + ux, ly * W + ux, uy * W + lx, ly * W + lx
                sy = (d0[i_uu] * fy * fx + d0[i_lu] * (1 - fy) * fx + d0[i_ul] * fy * (1 - fx)
                      + d0[i_ll] * (1 - fy) * (1 - fx))
                sx = (d1[i_uu] * fy * fx + d1[i_lu] * (1 - fy) * fx + d1[i_ul] * fy * (1 - fx)
                      + d1[i_ll] * (1 - fy) * (1 - fx))
                py = torch.clamp(py + sy, 0, H - 1)
                px = torch.clamp(px + sx, 0, W - 1)
            return torch.round(py), torch.round(px)

        row(f"irn_centroids/{H}x{W}_300steps", f"disp(2, {H}, {W})", "fp32", time_ms(centroids))
    return rows


if __name__ == "__main__":
    import argparse
    import json

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=50)
    for r in run(parser.parse_args()):
        print(json.dumps(r))
