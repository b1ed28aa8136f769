#!/usr/bin/env bash
# Runs every Python comparison test (tests/python/test_*.py) against a build directory.
#   scripts/run_python_tests.sh [build-dir [test-file-glob]]
#   build-dir defaults to <repo>/build; the glob (default test_*.py) picks tests by file name,
#   e.g. test_rle_pycocotools.py, so ctest can register each script as its own test.
# Each test gets the build directory as its argument and in WSVIS_BUILD_DIR, and finds its
# helper executable under <build-dir>/tests/. pycocotools and numpy are pip-installed
# (quietly) when missing; tests install anything else they need themselves.
# Exit status: 0 all passed; 1 a test failed; 77 nothing failed but a test skipped because
# its Python packages cannot be installed (offline machine) - ctest shows that as skipped
# with SKIP_RETURN_CODE 77.
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-$root/build}"
[[ "$build" = /* ]] || build="$PWD/$build"
pattern="${2:-test_*.py}"
python="${PYTHON:-python3}"
if ! command -v "$python" >/dev/null 2>&1; then
  echo "run_python_tests: SKIP: $python not found" >&2
  exit 77
fi

if ! "$python" -c "import pycocotools.mask, numpy" >/dev/null 2>&1; then
  echo "run_python_tests: installing pycocotools and numpy with pip"
  "$python" -m pip install --quiet --disable-pip-version-check pycocotools numpy >/dev/null 2>&1 ||
    "$python" -m pip install --quiet --disable-pip-version-check --user --break-system-packages \
      pycocotools numpy >/dev/null 2>&1 ||
    echo "run_python_tests: pip could not install pycocotools/numpy; the tests that need them skip"
fi

failed=() skipped=() passed=()
shopt -s nullglob
tests=()
for f in "$root"/tests/python/$pattern; do [[ -f "$f" ]] && tests+=("$f"); done
if ((${#tests[@]} == 0)); then
  echo "run_python_tests: no tests/python/$pattern" >&2
  exit 1
fi
for test in "${tests[@]}"; do
  name="$(basename "$test")"
  echo "== $name"
  WSVIS_BUILD_DIR="$build" "$python" "$test" "$build"
  rc=$?
  case $rc in
    0) passed+=("$name") ;;
    77) skipped+=("$name") ;;
    *) failed+=("$name (exit $rc)") ;;
  esac
done
echo "run_python_tests: ${#passed[@]} passed, ${#skipped[@]} skipped, ${#failed[@]} failed"
for f in "${failed[@]}"; do echo "  FAILED: $f"; done
for s in "${skipped[@]}"; do echo "  skipped: $s"; done
((${#failed[@]})) && exit 1
((${#skipped[@]})) && exit 77
exit 0
