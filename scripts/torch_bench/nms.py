"""PyTorch/torchvision twins of wsvis_bench's boxes-family entries (bench/bench_nms.cpp and
bench/bench_boxes.cpp), on the same sizes and the same distributions (not the same values:
torch's generator draws them).

run(args) -> list of {"name", "time_ms", ...} rows whose names match wsvis_bench's, so the two
logs join into ratios. Timing: CUDA events around each call, an L2 flush (256 MiB fill) before
each timed run, warm-up first, median of `runs`. Host work the torch version needs (the
greedy loop of IoM-NMS, torchvision's per-group loop for large batched_nms inputs) is inside
the timed region, as it is inside a training step.

Rows:
  nms_batched/8x5000_rpn      torchvision.ops.batched_nms over all 8 images at once, idxs =
                              image * 5 + level, IoU 0.7, then keep[:1000] per image
  nms_batched/8x5000_rpn_d2loop  detectron2's find_top_rpn_proposals form: one batched_nms per
                              image (idxs = level), keep[:1000]
  nms_batched/8x5000_cls80    one batched_nms call, idxs = image * 80 + class, IoU 0.5, keep[:100]
  nms/1x1000                  torchvision.ops.nms, IoU 0.5
  mask_iom_nms/100x200x336    IoM matrix by a float matmul on the GPU, greedy loop on the host
  box_iou/2048x2048           torchvision.ops.box_iou
  mask_overlap/100x100x200x336  intersections by a float matmul, IoU and IoM matrices
  box_decode/8000x80          detectron2 Box2BoxTransform.apply_deltas, weights (10, 10, 5, 5)
  anchors/p2_200x336          detectron2 DefaultAnchorGenerator._grid_anchors for P2
"""
import math

from timing import cuda_timer


class _Timer:
    def __init__(self, torch, runs):
        self.torch = torch
        self.runs = runs
        self.time = cuda_timer(torch, runs)  # time(fn) -> (median_ms, min_ms)
        self.device = torch.cuda.get_device_name(0)

    def row(self, name, shape, precision, timing):
        median, best = timing
        return {"name": name, "shape": shape, "device": self.device, "precision": precision,
                "time_ms": median, "min_ms": best, "runs": self.runs,
                "framework": "torch " + self.torch.__version__}


def _boxes(torch, g, batch, per_image):
    """Detector-like boxes jittered around 60 objects per image (bench_nms.cpp's recipe)."""
    dev = "cuda"
    obj = torch.stack([torch.rand(batch, 60, device=dev, generator=g) * 1333,
                       torch.rand(batch, 60, device=dev, generator=g) * 800,
                       16 + torch.rand(batch, 60, device=dev, generator=g) * 384,
                       16 + torch.rand(batch, 60, device=dev, generator=g) * 384], dim=-1)
    pick = torch.randint(0, 60, (batch, per_image), device=dev, generator=g)
    o = torch.gather(obj, 1, pick[..., None].expand(-1, -1, 4))
    j = torch.randn(batch, per_image, 4, device=dev, generator=g) * 0.12
    w, h = o[..., 2] * j[..., 2].exp(), o[..., 3] * j[..., 3].exp()
    cx, cy = o[..., 0] + j[..., 0] * o[..., 2], o[..., 1] + j[..., 1] * o[..., 3]
    boxes = torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], dim=-1)
    scores = torch.rand(batch, per_image, device=dev, generator=g)
    return boxes, scores


def _top_per_image(torch, keep, image_of, batch, cap):
    # keep is sorted by score; take the first `cap` of each image (a stable sort by image).
    img = image_of[keep]
    order = torch.sort(img, stable=True).indices
    keep, img = keep[order], img[order]
    first = torch.searchsorted(img, torch.arange(batch, device=img.device))
    rank = torch.arange(keep.numel(), device=img.device) - first[img]
    return keep[rank < cap]


def _nms_rows(timer, torch, tv):
    rows = []
    g = torch.Generator(device="cuda").manual_seed(7)
    B, M = 8, 5000
    boxes, scores = _boxes(torch, g, B, M)
    flat_b, flat_s = boxes.reshape(-1, 4), scores.reshape(-1)
    image_of = torch.arange(B, device="cuda").repeat_interleave(M)
    level = (torch.arange(M, device="cuda") * 5 // M).repeat(B)
    cls = torch.randint(0, 80, (B * M,), device="cuda", generator=g)
    shape = f"boxes({B}, {M}, 4)"

    def rpn_one_call():
        keep = tv.batched_nms(flat_b, flat_s, image_of * 5 + level, 0.7)
        return _top_per_image(torch, keep, image_of, B, 1000)

    def rpn_d2_loop():
        return [tv.batched_nms(boxes[b], scores[b], level[:M], 0.7)[:1000] for b in range(B)]

    def cls_one_call():
        keep = tv.batched_nms(flat_b, flat_s, image_of * 80 + cls, 0.5)
        return _top_per_image(torch, keep, image_of, B, 100)

    rows.append(timer.row(f"nms_batched/{B}x{M}_rpn", shape, "fp32", timer.time(rpn_one_call)))
    rows.append(timer.row(f"nms_batched/{B}x{M}_rpn_d2loop", shape, "fp32",
                          timer.time(rpn_d2_loop)))
    rows.append(timer.row(f"nms_batched/{B}x{M}_cls80", shape, "fp32", timer.time(cls_one_call)))
    b1, s1 = _boxes(torch, g, 1, 1000)
    rows.append(timer.row("nms/1x1000", "boxes(1, 1000, 4)", "fp32",
                          timer.time(lambda: tv.nms(b1[0], s1[0], 0.5))))

    # IoM-NMS over 100 masks at 200x336: rectangles like bench_nms.cpp's.
    n, h, w = 100, 200, 336
    ys, xs = torch.arange(h, device="cuda"), torch.arange(w, device="cuda")
    y0 = (torch.rand(n, device="cuda", generator=g) * h * 0.6).long()
    x0 = (torch.rand(n, device="cuda", generator=g) * w * 0.6).long()
    y1 = y0 + 1 + (torch.rand(n, device="cuda", generator=g) * h * 0.4).long()
    x1 = x0 + 1 + (torch.rand(n, device="cuda", generator=g) * w * 0.4).long()
    masks = (((ys[None, :, None] >= y0[:, None, None]) & (ys[None, :, None] < y1[:, None, None])) &
             ((xs[None, None, :] >= x0[:, None, None]) & (xs[None, None, :] < x1[:, None, None])))
    masks = masks.to(torch.uint8)
    mscores = torch.rand(n, device="cuda", generator=g)

    def iom_nms():
        f = masks.flatten(1).float()
        inter = f @ f.t()
        area = f.sum(1)
        iom = inter / torch.minimum(area[:, None], area[None, :]).clamp(min=1)
        order = torch.sort(mscores, descending=True, stable=True).indices
        sup = (iom[order][:, order] > 0.5).cpu().tolist()  # host greedy, as MaskConsist code does
        order = order.tolist()
        removed = [False] * n
        keep = []
        for i in range(n):
            if removed[i]:
                continue
            keep.append(order[i])
            row = sup[i]
            for j in range(i + 1, n):
                if row[j]:
                    removed[j] = True
        return keep

    rows.append(timer.row(f"mask_iom_nms/{n}x{h}x{w}", f"masks({n}, {h}, {w})", "u8",
                          timer.time(iom_nms)))
    return rows, masks


def _boxes_rows(timer, torch, tv, masks):
    rows = []
    g = torch.Generator(device="cuda").manual_seed(3)
    n = 2048
    a, _ = _boxes(torch, g, 1, n)
    b, _ = _boxes(torch, g, 1, n)
    rows.append(timer.row(f"box_iou/{n}x{n}", f"a({n}, 4) b({n}, 4)", "fp32",
                          timer.time(lambda: tv.box_iou(a[0], b[0]))))

    k, (h, w) = masks.shape[0], masks.shape[1:]
    other = torch.roll(masks, shifts=(7, 11), dims=(1, 2))

    def mask_overlap():
        fa, fb = masks.flatten(1).float(), other.flatten(1).float()
        inter = fa @ fb.t()
        aa, ab = fa.sum(1)[:, None], fb.sum(1)[None, :]
        union = aa + ab - inter
        iou = torch.where(union > 0, inter / union.clamp(min=1), torch.zeros_like(inter))
        small = torch.minimum(aa, ab)
        iom = torch.where(small > 0, inter / small.clamp(min=1), torch.zeros_like(inter))
        return iou, iom

    rows.append(timer.row(f"mask_overlap/{k}x{k}x{h}x{w}", f"a({k}, {h}, {w}) b({k}, {h}, {w})",
                          "u8", timer.time(mask_overlap)))

    R, C = 8000, 80
    boxes, _ = _boxes(torch, g, 1, R)
    boxes = boxes[0]
    deltas = torch.randn(R, C * 4, device="cuda", generator=g)
    clamp = math.log(1000.0 / 16)

    def decode():  # detectron2 Box2BoxTransform.apply_deltas
        widths = boxes[:, 2] - boxes[:, 0]
        heights = boxes[:, 3] - boxes[:, 1]
        ctr_x = boxes[:, 0] + 0.5 * widths
        ctr_y = boxes[:, 1] + 0.5 * heights
        dx, dy = deltas[:, 0::4] / 10.0, deltas[:, 1::4] / 10.0
        dw = torch.clamp(deltas[:, 2::4] / 5.0, max=clamp)
        dh = torch.clamp(deltas[:, 3::4] / 5.0, max=clamp)
        px = dx * widths[:, None] + ctr_x[:, None]
        py = dy * heights[:, None] + ctr_y[:, None]
        pw = torch.exp(dw) * widths[:, None]
        ph = torch.exp(dh) * heights[:, None]
        x1, y1, x2, y2 = px - 0.5 * pw, py - 0.5 * ph, px + 0.5 * pw, py + 0.5 * ph
        return torch.stack((x1, y1, x2, y2), dim=-1).reshape(deltas.shape)

    rows.append(timer.row(f"box_decode/{R}x{C}", f"boxes({R}, 4) deltas({R}, {C * 4})", "fp32",
                          timer.time(decode)))

    H, W, stride = 200, 336, 4
    cell = []
    for ratio in (0.5, 1.0, 2.0):  # detectron2 generate_cell_anchors, size 32
        aw = math.sqrt(32 ** 2.0 / ratio)
        ah = ratio * aw
        cell.append([-aw / 2.0, -ah / 2.0, aw / 2.0, ah / 2.0])
    base = torch.tensor(cell, device="cuda")

    def anchors():  # detectron2 _grid_anchors
        sx = torch.arange(0, W * stride, step=stride, dtype=torch.float32, device="cuda")
        sy = torch.arange(0, H * stride, step=stride, dtype=torch.float32, device="cuda")
        yy, xx = torch.meshgrid(sy, sx, indexing="ij")
        xx, yy = xx.reshape(-1), yy.reshape(-1)
        shifts = torch.stack((xx, yy, xx, yy), dim=1)
        return (shifts.view(-1, 1, 4) + base.view(1, -1, 4)).reshape(-1, 4)

    rows.append(timer.row(f"anchors/p2_{H}x{W}", f"anchors({H * W * 3}, 4)", "fp32",
                          timer.time(anchors)))
    return rows


def run(args):
    import torch
    import torchvision.ops as tv
    if not torch.cuda.is_available():
        raise RuntimeError("scripts/torch_bench/nms.py needs a CUDA device")
    timer = _Timer(torch, getattr(args, "runs", None) or 30)
    with torch.no_grad():
        rows, masks = _nms_rows(timer, torch, tv)
        rows += _boxes_rows(timer, torch, tv, masks)
    return rows


if __name__ == "__main__":
    import argparse
    import json
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=30)
    for r in run(parser.parse_args()):
        print(json.dumps(r))
