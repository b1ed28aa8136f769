"""PyTorch twin of wsvis_bench's irn entries (bench/bench_irn.cpp): IRN's own methods, rebuilt
in torch on the GPU (jiwoon-ahn/irn misc/indexing.py semantics; the code here is ours).

run(args) -> list of {"name", "time_ms", ...} rows whose names match wsvis_bench's:
  irn_random_walk/21x94x125_s256     IRN's dense random walk on a VOC frame's stride-4 grid
                                     (500x375 -> 125x94): B padded with 1, path affinities,
                                     dense (N, N) affinity (sparse COO -> to_dense), crop, A^10,
                                     column normalisation, 8 squarings (T^256), x . T, in fp32
                                     (torch's default: TF32 off for matmul). IRN builds the sparse
                                     matrix on the CPU and copies 552 MB to the GPU; here it is
                                     built on the GPU, which favours torch. Row carries peak_mem_mb.
  irn_random_walk_tf32/21x94x125_s256 the same with TF32 matmuls (not IRN's setting; for scale)
  irn_affinity_fwd/8x128x128_r10     IRN's edge_to_affinity (gather of every path point with
                                     index_select, max over the path per length group), radius 10,
                                     over IRN's training source crop (119x110 sources per image,
                                     fewer pairs than wsvis's all-in-image 128x128 layout: favours
                                     torch).
The 720p frame (1280x720 -> 320x180, N = 57,600) is not run densely: one N x N fp32 matrix is
13.3 GB (the padded one 14.9 GB), a squaring needs two, and 8 squarings are ~3.1 PFLOP (about a
minute at the fp32 SIMT peak); IRN's users hit out-of-memory already on 11 GB GPUs at VOC size.
Set IRN_DENSE_720P=1 to try it anyway (needs ~45 GB free). Timing as wsvis_bench: CUDA events,
warm-up, a 256 MiB L2 flush before every timed run, median.
"""
import os

from timing import cuda_timer


def directions_and_paths(radius):
    """IRN's half-plane directions within `radius` and the path points of each (offsets from
    the source, destination first), grouped by path length in increasing order."""
    dirs = [(0, x) for x in range(1, radius)]
    dirs += [(y, x) for y in range(1, radius) for x in range(-radius + 1, radius)
             if x * x + y * y < radius * radius]
    out = []
    for dy, dx in dirs:
        pts = [(y, x) for y in range(min(0, dy), max(0, dy) + 1)
               for x in range(min(0, dx), max(0, dx) + 1)
               if (dy * x - dx * y) ** 2 < dy * dy + dx * dx]
        pts.sort(key=lambda p: -(abs(p[0]) + abs(p[1])))
        out.append(((dy, dx), pts))
    out.sort(key=lambda e: len(e[1]))  # stable: scan order inside a length
    return out


def path_gather_indices(torch, radius, height, width, device):
    """Per path length L: a (n_dirs_L, L, S) long tensor of flat pixel indices of every path point
    for the S = (height - rf) * (width - 2 rf) sources of IRN's crop, plus the flat source and
    destination indices (S,) and (D, S)."""
    import numpy as np
    rf = radius - 1
    ch, cw = height - rf, width - 2 * rf
    full = np.arange(height * width, dtype=np.int64).reshape(height, width)
    groups, dsts = {}, []
    for (dy, dx), pts in directions_and_paths(radius):
        idx = np.stack([full[py:py + ch, rf + px:rf + px + cw].reshape(-1) for py, px in pts])
        groups.setdefault(len(pts), []).append(idx)
        dsts.append(idx[0])
    paths = [torch.from_numpy(np.stack(v)).to(device) for _, v in sorted(groups.items())]
    src = torch.from_numpy(full[:ch, rf:rf + cw].reshape(-1)).to(device)
    dst = torch.from_numpy(np.stack(dsts)).to(device)
    return paths, src, dst


def edge_to_affinity(torch, edge_flat, paths):
    """edge_flat (B, P) -> affinity (B, D, S): 1 - max over each path (gathered)."""
    outs = []
    for ind in paths:
        g = torch.index_select(edge_flat, 1, ind.reshape(-1)).view(edge_flat.shape[0], *ind.shape)
        outs.append(1 - g.amax(dim=2))
    return torch.cat(outs, dim=1)


def dense_random_walk(torch, x, edge, radius=5, beta=10, exp_times=8, index=None):
    """x (C, H, W), edge (H, W) -> x (1 - edge) . T^(2^exp_times), IRN's dense construction."""
    import torch.nn.functional as F
    C, H, W = x.shape
    Hp, Wp = H + radius, W + 2 * radius
    paths, src, dst = index
    edge_p = F.pad(edge[None, None], (radius, radius, 0, radius), value=1.0).view(1, -1)
    aff = edge_to_affinity(torch, edge_p, paths).view(-1)  # (D * S)
    n = Hp * Wp
    src_rep = src.repeat(dst.shape[0])
    dst_flat = dst.reshape(-1)
    ids = torch.arange(n, device=x.device)
    rows = torch.cat([src_rep, ids, dst_flat])
    cols = torch.cat([dst_flat, ids, src_rep])
    vals = torch.cat([aff, torch.ones(n, device=x.device), aff])
    dense = torch.sparse_coo_tensor(torch.stack([rows, cols]), vals, (n, n)).to_dense()
    dense = dense.view(Hp, Wp, Hp, Wp)[:-radius, radius:-radius, :-radius, radius:-radius]
    dense = dense.reshape(H * W, H * W)
    t = torch.pow(dense, beta)
    t = t / t.sum(dim=0, keepdim=True)
    for _ in range(exp_times):
        t = t @ t
    return (x.view(C, -1) * (1 - edge.view(1, -1))) @ t


def run(args):
    import torch

    if not torch.cuda.is_available():
        raise RuntimeError("scripts/torch_bench/irn.py needs a CUDA device")
    runs = min(getattr(args, "runs", None) or 10, 10)
    time_ms = cuda_timer(torch, runs, warmup=2)
    device = torch.cuda.get_device_name(0)
    g = torch.Generator(device="cuda").manual_seed(7)
    rows = []

    def row(name, shape, precision, timing, **extra):
        rows.append(dict({"name": name, "shape": shape, "device": device, "precision": precision,
                          "time_ms": timing[0], "min_ms": timing[1], "runs": runs,
                          "framework": "torch " + torch.__version__}, **extra))

    C = 21
    sizes = [(94, 125)]
    if os.environ.get("IRN_DENSE_720P") == "1":
        sizes.append((180, 320))
    else:
        print("irn: 720p (320x180 grid, N = 57,600) not run densely: 13.3 GB per N x N fp32 "
              "matrix, ~3.1 PFLOP for 8 squarings (IRN_DENSE_720P=1 to try)")
    for H, W in sizes:
        tag = f"{C}x{H}x{W}_s256"
        shape = f"seeds({C}, {H}, {W}) boundary(1, 1, {H}, {W})"
        edge = torch.rand(H, W, device="cuda", generator=g) * 0.1
        x = torch.rand(C, H, W, device="cuda", generator=g) ** 4
        index = path_gather_indices(torch, 5, H + 5, W + 10, "cuda")
        for tf32, suffix in ((False, ""), (True, "_tf32")):
            old = torch.backends.cuda.matmul.allow_tf32
            torch.backends.cuda.matmul.allow_tf32 = tf32
            try:
                with torch.no_grad():
                    fn = lambda: dense_random_walk(torch, x, edge, index=index)  # noqa: E731
                    torch.cuda.synchronize()
                    torch.cuda.reset_peak_memory_stats()
                    fn()
                    torch.cuda.synchronize()
                    peak = torch.cuda.max_memory_allocated() / 1e6
                    timing = time_ms(fn, n=min(runs, 5))
                n = H * W
                row(f"irn_random_walk{suffix}/{tag}", shape, "tf32" if tf32 else "fp32", timing,
                    peak_mem_mb=peak, flops=8 * 2.0 * n ** 3 + 2.0 * C * n * n,
                    dense_matrix_mb=4.0 * n * n / 1e6)
            finally:
                torch.backends.cuda.matmul.allow_tf32 = old

    # Path affinity at IRN's training shape.
    N, H, W, r = 8, 128, 128, 10
    paths, _, _ = path_gather_indices(torch, r, H, W, "cuda")
    b = torch.rand(N, H * W, device="cuda", generator=g)
    with torch.no_grad():
        row(f"irn_affinity_fwd/{N}x{H}x{W}_r{r}", f"boundary({N}, 1, {H}, {W}) radius {r}", "fp32",
            time_ms(lambda: edge_to_affinity(torch, b, paths)))
    return rows
