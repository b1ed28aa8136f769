#!/usr/bin/env bash
# Everything a session with a lent GPU needs, in one call (run from the repository root):
#   1. preflight: GPU, driver, nvcc, where cuDNN/NCCL live (the image may carry them only
#      inside its Python environment), PyTorch;
#   2. unpack the carried .gpu_deps/*.deb (gtest, OpenBLAS, nlohmann-json, stb) into a prefix;
#   3. configure and build for sm_90 (override with CUDA_ARCHS=...);
#   4. the whole test suite, CUDA parity tests included;
#   5. compute-sanitizer memcheck and racecheck over the CUDA tests;
#   6. the benchmarks, and their PyTorch twins in the same run;
# and writes the log to $OUT when set (the device tool brings it back), else bench/results/.
# Usage on the device:  bash scripts/gpu_check.sh            (carry: .gpu_deps)
set -uo pipefail
cd "$(dirname "$0")/.."

stamp=$(date -u +%Y-%m-%d)
gpu_name=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)
gpu_slug=$(echo "${gpu_name:-nogpu}" | tr -cs 'A-Za-z0-9' '-' | sed 's/-$//' | tr 'A-Z' 'a-z')
log_dir=${OUT:-bench/results}
mkdir -p "$log_dir"
log="$log_dir/$stamp-$gpu_slug.md"
exec > >(tee "$log") 2>&1
status=0
section() { printf '\n## %s\n\n' "$1"; }
fail() { echo "FAILED: $1"; status=1; }

echo "# wsvis GPU check, $stamp, ${gpu_name:-no GPU}"
echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (+ uncommitted changes)')"

section "Preflight"
echo '```'
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv || fail "nvidia-smi"
nvcc --version | tail -2
python3 - <<'PY' || echo "python3/torch unavailable"
import importlib, os, glob
try:
    import torch
    print("torch", torch.__version__, "cuda", torch.version.cuda, "cudnn", torch.backends.cudnn.version())
except Exception as e:
    print("torch: not importable:", e)
for mod in ("nvidia.cudnn", "nvidia.nccl"):
    try:
        m = importlib.import_module(mod)
        print(mod, "at", list(m.__path__)[0])
    except Exception as e:
        print(mod, "not found:", e)
PY
echo '```'

# ---- dependencies: cuDNN from the toolkit or the Python wheel; host libraries from .debs ----
cmake_args=(-DCMAKE_BUILD_TYPE=Release "-DCMAKE_CUDA_ARCHITECTURES=${CUDA_ARCHS:-90}")
cuda_root=$(dirname "$(dirname "$(command -v nvcc)")")
if [[ ! -f "$cuda_root/include/cudnn.h" ]]; then
  cudnn_root=$(python3 -c "import nvidia.cudnn as m; print(list(m.__path__)[0])" 2>/dev/null || true)
  if [[ -n "$cudnn_root" ]]; then
    cudnn_lib=$(ls "$cudnn_root"/lib/libcudnn.so* 2>/dev/null | head -1)
    cmake_args+=("-DCUDNN_INCLUDE_DIR=$cudnn_root/include" "-DCUDNN_LIBRARY=$cudnn_lib")
    export LD_LIBRARY_PATH="$cudnn_root/lib:${LD_LIBRARY_PATH:-}"
    echo "cuDNN from the Python wheel: $cudnn_lib"
  fi
fi
prefix=/tmp/wsvis_deps
if compgen -G ".gpu_deps/*.deb" >/dev/null; then
  mkdir -p "$prefix"
  for deb in .gpu_deps/*.deb; do dpkg -x "$deb" "$prefix"; done
  multiarch=$prefix/usr/lib/x86_64-linux-gnu
  cmake_args+=("-DCBLAS_INCLUDE_DIR=$prefix/usr/include/x86_64-linux-gnu/openblas-pthread"
               "-DOPENBLAS_LIBRARY=$multiarch/openblas-pthread/libopenblas.so"
               "-DGTest_DIR=$multiarch/cmake/GTest"
               "-DCMAKE_PREFIX_PATH=$prefix/usr")
  export CPATH="$prefix/usr/include:${CPATH:-}"
  export LD_LIBRARY_PATH="$multiarch/openblas-pthread:$multiarch:${LD_LIBRARY_PATH:-}"
  # Debian's libopenblas.so is a symlink into /etc/alternatives: point it at the real file.
  real=$(ls "$multiarch"/openblas-pthread/libopenblasp-r*.so 2>/dev/null | head -1)
  [[ -n "$real" ]] && ln -sf "$real" "$multiarch/openblas-pthread/libopenblas.so" &&
    ln -sf "$real" "$multiarch/openblas-pthread/libopenblas.so.0"
  echo "host dependencies unpacked from .gpu_deps into $prefix"
else
  echo "no .gpu_deps/: relying on installed gtest/OpenBLAS (run scripts/fetch_gpu_deps.sh here first)"
fi

section "Build (sm_${CUDA_ARCHS:-90})"
echo '```'
start=$(date +%s)
cmake -S . -B build-gpu "${cmake_args[@]}" 2>&1 | grep -E "wsvis|Error|error" || true
if ! cmake --build build-gpu -j "$(nproc)" > /tmp/wsvis_build.log 2>&1; then fail "build"; fi
grep -E "error|warning" /tmp/wsvis_build.log | head -50
echo "build took $(( $(date +%s) - start )) s"
echo '```'

section "Tests (CUDA parity included)"
echo '```'
(cd build-gpu && ctest --output-on-failure -j 4 2>&1 | tail -40) || fail "tests"
skipped=$(cd build-gpu && ctest -j 4 2>&1 | grep -c "Skipped" || true)
echo "ctest entries reporting skips: $skipped (0 expected with a GPU present)"
echo '```'

section "compute-sanitizer (memcheck, racecheck) over the CUDA tests"
echo '```'
if command -v compute-sanitizer >/dev/null; then
  for bin in build-gpu/tests/*; do
    [[ -x "$bin" ]] || continue
    for tool in memcheck racecheck; do
      if compute-sanitizer --tool "$tool" --error-exitcode 9 "$bin" --gtest_filter='*Cuda*:*CUDA*:*Parity*:*Gpu*' \
          > /tmp/san.log 2>&1; then
        echo "$tool $(basename "$bin"): clean"
      else
        echo "$tool $(basename "$bin"): ERRORS"; tail -30 /tmp/san.log; status=1
      fi
    done
  done
else
  fail "compute-sanitizer not on PATH"
fi
echo '```'

section "Benchmarks (wsvis, then PyTorch on the same shapes)"
echo '```'
build-gpu/bench/wsvis_bench --json "$log_dir/bench-wsvis.jsonl" || fail "wsvis_bench"
python3 scripts/compare_torch.py --json "$log_dir/bench-torch.jsonl" || fail "compare_torch.py"
echo '```'
python3 scripts/bench_report.py "$log_dir/bench-wsvis.jsonl" "$log_dir/bench-torch.jsonl" \
  --gpu "${gpu_name:-unknown}" --date "$stamp" --summary bench/results/SUMMARY.md || fail "bench_report.py"
cp bench/results/SUMMARY.md "$log_dir/SUMMARY.md" 2>/dev/null || true

section "Result"
if [[ $status -eq 0 ]]; then echo "ALL PASSED"; else echo "SOME STEPS FAILED (see above)"; fi
exit $status
