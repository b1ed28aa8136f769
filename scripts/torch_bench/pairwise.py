"""PyTorch twin of wsvis_bench's pairwise entries (bench/bench_pairwise.cpp): the BoxInst losses
as AdelaiDet computes them (adet/modeling/condinst: unfold_wo_center, compute_pairwise_term,
the (sim >= 0.3) * bitmask weighting, dice_coefficient, compute_project_term), under autograd.

run(args) -> list of {"name", "time_ms", ...} rows whose names match wsvis_bench's:
  pairwise_fwd/2x64x200x336             forward only (no_grad is not used: the graph is built)
  pairwise_fwd_bwd/2x64x200x336         forward + backward to the logits
  pairwise_motion_fwd_bwd/2x64x200x336  the same with the flow condition (flow_sim >= 0.6) in
                                        the weights (Ikeda & Mori; no public code: the natural
                                        extension of AdelaiDet's weighting)
  pairwise_fullbox_fwd_bwd/...          whole-map boxes (the unfold cost does not depend on the
                                        boxes; listed to pair with wsvis's worst case)
  projection_fwd_bwd/2x64x200x336       compute_project_term forward + backward to the probs
  colour_similarity/2x800x1344          avg-pool 4, BGR->RGB, .byte(), Lab (skimage's formula
                                        written in torch, float32, on the GPU: AdelaiDet itself
                                        calls skimage on the CPU), unfold similarity per image
Each row carries "peak_extra_mb": torch.cuda.max_memory_allocated() during one call minus the
memory allocated before it (the inputs), with the logits' .grad cleared first so that the
gradient counts on both sides. The similarity is stored per image and gathered per instance
inside the timed region, as AdelaiDet does (image_color_similarity[gt_inds]).
Timing as wsvis_bench: CUDA events, warm-up, a 256 MiB L2 flush before every timed run,
median of `runs`. Inputs come from torch's generator with wsvis's distributions and sizes;
the boxes come from the same formula (bench_rects in bench/bench_pairwise.cpp).
"""

from timing import cuda_timer


def _peak_extra_mb(torch, fn):
    torch.cuda.synchronize()
    base = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    fn()
    torch.cuda.synchronize()
    return (torch.cuda.max_memory_allocated() - base) / 1e6


def bench_rects(N, per_image, H, W, full=False):
    """(x0, y0, x1, y1) inclusive per instance, image-major: bench/bench_pairwise.cpp's formula."""
    rects = []
    for _ in range(N):
        for k in range(per_image):
            if full:
                rects.append((0, 0, W - 1, H - 1))
                continue
            fw = 0.15 + 0.7 * ((k * 37) % 64) / 64
            fh = 0.15 + 0.7 * ((k * 53) % 64) / 64
            w = max(1, int(fw * W))
            h = max(1, int(fh * H))
            x0 = int(((k * 29) % 64) / 64 * (W - w))
            y0 = int(((k * 41) % 64) / 64 * (H - h))
            rects.append((x0, y0, x0 + w - 1, y0 + h - 1))
    return rects


def rect_bitmasks(torch, rects, H, W, device):
    masks = torch.zeros(len(rects), 1, H, W, device=device)
    for i, (x0, y0, x1, y1) in enumerate(rects):
        masks[i, 0, y0:y1 + 1, x0:x1 + 1] = 1.0
    return masks


# ---- AdelaiDet's formulation (restated) --------------------------------------------------------

def unfold_wo_center(F, torch, x, kernel_size=3, dilation=2):
    # (B, C, H, W) -> (B, C, k*k - 1, H, W): SAME zero padding, the centre tap dropped.
    pad = (kernel_size + (dilation - 1) * (kernel_size - 1)) // 2
    cols = F.unfold(x, kernel_size=kernel_size, padding=pad, dilation=dilation)
    cols = cols.reshape(x.size(0), x.size(1), -1, x.size(2), x.size(3))
    mid = kernel_size * kernel_size // 2
    return torch.cat((cols[:, :, :mid], cols[:, :, mid + 1:]), dim=2)


def pairwise_term(F, torch, logits):
    # -log P(same label) for every pixel and neighbour: (K, 8, H, W).
    log_fg = F.logsigmoid(logits)
    log_bg = F.logsigmoid(-logits)
    same_fg = log_fg[:, :, None] + unfold_wo_center(F, torch, log_fg)
    same_bg = log_bg[:, :, None] + unfold_wo_center(F, torch, log_bg)
    m = torch.max(same_fg, same_bg)
    log_same = torch.log(torch.exp(same_fg - m) + torch.exp(same_bg - m)) + m
    return -log_same[:, 0]


def pairwise_loss(F, torch, logits, sim_img, im_inds, bitmasks, flow_img=None, tc=0.3, tf=0.6):
    sim = sim_img[im_inds]
    weights = (sim >= tc).float() * bitmasks
    if flow_img is not None:
        weights = weights * (flow_img[im_inds] >= tf).float()
    loss_map = pairwise_term(F, torch, logits)
    return (loss_map * weights).sum() / weights.sum().clamp(min=1.0)


def dice_coefficient(x, target, eps=1e-5):
    n = x.size(0)
    x = x.reshape(n, -1)
    target = target.reshape(n, -1)
    inter = (x * target).sum(dim=1)
    union = (x ** 2.0).sum(dim=1) + (target ** 2.0).sum(dim=1) + eps
    return 1.0 - 2 * inter / union


def projection_loss(probs, bitmasks):
    along_x = dice_coefficient(probs.max(dim=2, keepdim=True)[0], bitmasks.max(dim=2, keepdim=True)[0])
    along_y = dice_coefficient(probs.max(dim=3, keepdim=True)[0], bitmasks.max(dim=3, keepdim=True)[0])
    return (along_x + along_y).mean()


def rgb_to_lab(torch, rgb):
    # rgb: (B, 3, H, W) in [0, 1] -> Lab with skimage's constants (sRGB, D65, 2 degrees).
    lin = torch.where(rgb > 0.04045, ((rgb + 0.055) / 1.055) ** 2.4, rgb / 12.92)
    m = torch.tensor([[0.412453, 0.357580, 0.180423], [0.212671, 0.715160, 0.072169],
                      [0.019334, 0.119193, 0.950227]], dtype=rgb.dtype, device=rgb.device)
    white = torch.tensor([0.95047, 1.0, 1.08883], dtype=rgb.dtype, device=rgb.device)
    xyz = torch.einsum("ij,bjhw->bihw", m, lin) / white[None, :, None, None]
    f = torch.where(xyz > 0.008856, xyz.clamp(min=0) ** (1.0 / 3.0), 7.787 * xyz + 16.0 / 116.0)
    L = 116.0 * f[:, 1] - 16.0
    a = 500.0 * (f[:, 0] - f[:, 1])
    b = 200.0 * (f[:, 1] - f[:, 2])
    return torch.stack((L, a, b), dim=1)


def colour_similarity(F, torch, images_bgr, image_masks):
    # images_bgr: (N, 3, H, W) float 0..255; image_masks (N, H/4, W/4) -> (N, 8, H/4, W/4).
    small = F.avg_pool2d(images_bgr, kernel_size=4, stride=4)[:, [2, 1, 0]].byte()
    lab = rgb_to_lab(torch, small.float() / 255.0)
    out = []
    for i in range(lab.size(0)):  # AdelaiDet: one image at a time
        img = lab[i:i + 1]
        diff = img[:, :, None] - unfold_wo_center(F, torch, img)
        sim = torch.exp(-torch.norm(diff, dim=1) * 0.5)
        w = unfold_wo_center(F, torch, image_masks[i][None, None]).max(dim=1)[0]
        out.append(sim * w)
    return torch.cat(out, dim=0)


def run(args):
    import torch
    import torch.nn.functional as F

    if not torch.cuda.is_available():
        raise RuntimeError("scripts/torch_bench/pairwise.py needs a CUDA device")
    runs = getattr(args, "runs", None) or 30
    time_ms = cuda_timer(torch, runs)
    device = torch.cuda.get_device_name(0)
    g = torch.Generator(device="cuda").manual_seed(61)
    rows = []

    def row(name, shape, precision, timing, peak_mb=None):
        r = {"name": name, "shape": shape, "device": device, "precision": precision,
             "time_ms": timing[0], "min_ms": timing[1], "runs": runs,
             "framework": "torch " + torch.__version__}
        if peak_mb is not None:
            r["peak_extra_mb"] = peak_mb
        rows.append(r)

    N, per, H, W = 2, 64, 200, 336
    K = N * per
    tag = f"{N}x{per}x{H}x{W}"
    shape = f"logits({K}, {H}, {W}) sim({N}, 8, {H}, {W})"
    logits = (torch.rand(K, 1, H, W, device="cuda", generator=g) * 8 - 4).requires_grad_(True)
    sim_img = torch.rand(N, 8, H, W, device="cuda", generator=g)
    flow_img = torch.rand(N, 8, H, W, device="cuda", generator=g)
    im_inds = torch.arange(K, device="cuda") // per
    masks = {full: rect_bitmasks(torch, bench_rects(N, per, H, W, full), H, W, "cuda")
             for full in (False, True)}

    def step(backward, flow=None, full=False):
        def fn():
            logits.grad = None
            loss = pairwise_loss(F, torch, logits, sim_img, im_inds, masks[full], flow)
            if backward:
                loss.backward()
            return loss
        return fn

    fwd = step(False)
    row("pairwise_fwd/" + tag, shape, "fp32", time_ms(fwd), _peak_extra_mb(torch, fwd))
    for name, fn in (("pairwise_fwd_bwd", step(True)),
                     ("pairwise_motion_fwd_bwd", step(True, flow_img)),
                     ("pairwise_fullbox_fwd_bwd", step(True, None, True))):
        row(f"{name}/{tag}", shape, "fp32", time_ms(fn), _peak_extra_mb(torch, fn))

    probs = torch.rand(K, 1, H, W, device="cuda", generator=g).requires_grad_(True)

    def proj():
        probs.grad = None
        projection_loss(probs, masks[False]).backward()

    row("projection_fwd_bwd/" + tag, f"probs({K}, {H}, {W})", "fp32", time_ms(proj),
        _peak_extra_mb(torch, proj))

    Hf, Wf = 4 * H, 4 * W
    images = torch.floor(torch.rand(N, 3, Hf, Wf, device="cuda", generator=g) * 256)
    image_masks = torch.ones(N, H, W, device="cuda")
    with torch.no_grad():
        col = lambda: colour_similarity(F, torch, images, image_masks)  # noqa: E731
        row(f"colour_similarity/{N}x{Hf}x{Wf}", f"image({N}, 3, {Hf}, {Wf}) sim({N}, 8, {H}, {W})",
            "fp32", time_ms(col), _peak_extra_mb(torch, col))
    return rows


if __name__ == "__main__":
    import argparse
    import json

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=30)
    for r in run(parser.parse_args()):
        print(json.dumps(r))
