"""The timing protocol every torch twin shares with wsvis_bench (bench/harness.h): warm-up runs,
a 256 MiB L2 flush before every timed run, CUDA events on the current stream, median and min.
Imported as `from timing import cuda_timer` (compare_torch.py puts this folder on sys.path;
running a twin directly does so by itself)."""

L2_FLUSH_BYTES = 256 << 20  # several times the 50-60 MiB L2 of an H100/H200


def cuda_timer(torch, runs, warmup=5):
    """Returns time_ms(fn, n=None) -> (median_ms, min_ms) over n (default `runs`) timed runs."""
    flush = torch.empty(L2_FLUSH_BYTES, dtype=torch.uint8, device="cuda")

    def time_ms(fn, n=None):
        n = n or runs
        for _ in range(warmup):
            fn()
        torch.cuda.synchronize()
        start = torch.cuda.Event(enable_timing=True)
        stop = torch.cuda.Event(enable_timing=True)
        times = []
        for i in range(n):
            flush.fill_(i & 0xFF)  # evict the operands: every run reads them from HBM
            start.record()
            fn()
            stop.record()
            stop.synchronize()
            times.append(start.elapsed_time(stop))
        times.sort()
        k = len(times)
        median = times[k // 2] if k % 2 else 0.5 * (times[k // 2 - 1] + times[k // 2])
        return median, times[0]

    return time_ms
