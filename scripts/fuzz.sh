#!/usr/bin/env bash
# Builds the libFuzzer targets of the data-layer parsers (fuzz/, clang with ASan + UBSan) and
# runs each one for a while on a scratch copy of its seed corpus (fuzz/corpus/<target>).
#
#   scripts/fuzz.sh [seconds-per-target] [target...]     default: 60 s, all four targets
#
# Environment: WSVIS_FUZZ_BUILD (build dir, default build-fuzz), WSVIS_FUZZ_WORK (scratch
# dir for corpora and findings, default a fresh mktemp dir), WSVIS_FUZZ_JOBS (parallel
# fuzzing processes per target, default 1), WSVIS_FUZZ_KEEP_GOING=1 (libFuzzer fork mode:
# keep fuzzing past a finding and collect them all). The seeds named regress-* reproduce
# findings that were fixed (fuzz/README.md): they are replayed, not fuzzed from.
# Exit status: 0 when no target found anything; 1 otherwise, after printing each reproducer
# path and the command that replays it. Not part of `make test` (it takes minutes).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
seconds=${1:-60}
shift || true
targets=("$@")
if ((${#targets[@]} == 0)); then
  targets=(fuzz_ytvis_json fuzz_coco_json fuzz_rle_string fuzz_flo)
fi
build=${WSVIS_FUZZ_BUILD:-$repo/build-fuzz}
jobs=${WSVIS_FUZZ_JOBS:-1}

# ---- clang, libFuzzer and the sanitizer runtimes: installed only when missing -------------
required=(
  "clang-14:/usr/bin/clang++-14"
  "libclang-rt-14-dev:/usr/lib/llvm-14/lib/clang/14.0.6/lib/linux/libclang_rt.fuzzer-x86_64.a"
  "nlohmann-json3-dev:/usr/include/nlohmann/json.hpp"
  "cmake:/usr/bin/cmake"
)
missing=()
for entry in "${required[@]}"; do
  pkg="${entry%%:*}"; probe="${entry#*:}"
  if [[ ! -e "$probe" ]] && ! dpkg -s "$pkg" >/dev/null 2>&1; then missing+=("$pkg"); fi
done
if ((${#missing[@]})); then
  echo "fuzz: installing ${missing[*]}"
  sudo_cmd=""
  if [[ $(id -u) -ne 0 ]]; then sudo_cmd="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo_cmd apt-get update -qq
  $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
cxx=$(command -v clang++-14 || command -v clang++)

# ---- build: fuzz/ is its own CMake project, so the main library's options do not matter ----
if [[ ! -f "$build/CMakeCache.txt" ]]; then
  CXX=$cxx cmake -S "$repo/fuzz" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build "$build" -j"$(nproc)" --target "${targets[@]}" >/dev/null

# ---- run ------------------------------------------------------------------------------------
work=${WSVIS_FUZZ_WORK:-$(mktemp -d "${TMPDIR:-/tmp}/wsvis-fuzz.XXXXXX")}
mkdir -p "$work"
# Keywords of the formats, so mutations can splice them in.
cat >"$work/json.dict" <<'DICT'
"{"
"}"
"["
"]"
":"
","
"null"
"true"
"false"
"-1"
"1e400"
"2147483648"
"9223372036854775808"
"\"videos\""
"\"images\""
"\"annotations\""
"\"categories\""
"\"id\""
"\"width\""
"\"height\""
"\"length\""
"\"file_names\""
"\"file_name\""
"\"name\""
"\"supercategory\""
"\"video_id\""
"\"image_id\""
"\"category_id\""
"\"iscrowd\""
"\"segmentations\""
"\"segmentation\""
"\"bboxes\""
"\"bbox\""
"\"areas\""
"\"area\""
"\"score\""
"\"size\""
"\"counts\""
DICT

max_len_of() {
  case $1 in
    fuzz_ytvis_json|fuzz_coco_json) echo 4096 ;;
    fuzz_rle_string) echo 512 ;;
    fuzz_flo) echo 2048 ;;  # up to ~250 pixels: every header/size/NaN path, quickly
  esac
}

failed=()
for t in "${targets[@]}"; do
  corpus="$work/$t/corpus"; artifacts="$work/$t/findings/"
  mkdir -p "$corpus" "$artifacts"
  # 1. Replay every seed once, whole (fuzzing truncates inputs to -max_len): the regress-*
  # reproducers of past findings are regression tests and fail here until they are fixed.
  seeds=()
  for f in "$repo/fuzz/corpus/$t/"*; do
    [[ -f $f ]] || continue
    seeds+=("$f")
  done
  replay_failed=0
  for f in "${seeds[@]}"; do
    if ! "$build/$t" -timeout=5 -rss_limit_mb=2048 "$f" >"$work/$t/replay.txt" 2>&1; then
      replay_failed=1
      echo "fuzz: $t FAILS ON SEED $f"
      grep -E 'ERROR: |runtime error:|SUMMARY:|fuzz invariant failed|what\(\)' \
        "$work/$t/replay.txt" | head -3 | sed 's/^/  /' || true
      echo "  reproducer: $f   (replay: $build/$t $f)"
    fi
  done
  if ((replay_failed)); then failed+=("$t"); fi
  # 2. Fuzz from a scratch copy of the seeds, so the repository's corpus stays as it is.
  for f in "${seeds[@]}"; do
    [[ $(basename "$f") == regress-* ]] || cp -n "$f" "$corpus/"
  done
  args=(-max_total_time="$seconds" -max_len="$(max_len_of "$t")" -timeout=5 -rss_limit_mb=2048
        -artifact_prefix="$artifacts" -print_final_stats=1)
  [[ $t == *json ]] && args+=(-dict="$work/json.dict")
  if [[ ${WSVIS_FUZZ_KEEP_GOING:-0} == 1 ]]; then
    args+=(-fork="$jobs" -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1)
  elif ((jobs > 1)); then
    args+=(-jobs="$jobs" -workers="$jobs")
  fi
  echo "fuzz: $t for ${seconds}s (log $work/$t/log.txt)"
  set +e
  (cd "$work/$t" && "$build/$t" "${args[@]}" "$corpus" >"$work/$t/log.txt" 2>&1)
  rc=$?
  set -e
  # The last status line (coverage, features, corpus, exec/s) and the final stats.
  grep -E '^#[0-9]+' "$work/$t/log.txt" | tail -1 | sed 's/^/  /' || true
  grep -E '^stat::' "$work/$t/log.txt" | sed 's/^/  /' || true
  echo "  corpus: $(ls "$corpus" | wc -l) inputs"
  mapfile -t found < <(find "$artifacts" -type f 2>/dev/null | sort)
  if ((rc != 0 || ${#found[@]} > 0)); then
    [[ " ${failed[*]} " == *" $t "* ]] || failed+=("$t")
    echo "fuzz: $t FOUND SOMETHING (exit $rc); log: $work/$t/log.txt"
    grep -E 'ERROR: |runtime error:|SUMMARY:|fuzz invariant failed|uncaught exception' \
      "$work/$t/log.txt" | head -5 | sed 's/^/  /' || true
    for f in "${found[@]}"; do
      echo "  reproducer: $f   (replay: $build/$t $f)"
    done
  fi
done

if ((${#failed[@]})); then
  echo "fuzz: findings in ${failed[*]} (scratch dir $work)"
  exit 1
fi
echo "fuzz: no findings in ${targets[*]} (${seconds}s each; scratch dir $work)"
