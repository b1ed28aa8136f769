"""Shared by the Python comparison tests in tests/python (run by scripts/run_python_tests.sh):
installing the reference packages, and finding the build's helper tools.

Each test imports it before the reference packages:
    from wsvis_testing import require_packages, tool_path
    require_packages(["numpy", "pycocotools"])      # pip-installs or exits 77 (skipped)
"""
import importlib
import importlib.util
import os
import subprocess
import sys

SKIP_EXIT_CODE = 77  # scripts/run_python_tests.sh and ctest (SKIP_RETURN_CODE) report it as skipped


def require_packages(modules, pip_names=None):
    """Makes the modules importable, pip-installing them quietly when missing; exits with
    SKIP_EXIT_CODE when pip cannot (an offline machine). pip_names defaults to the module names."""
    def missing():
        return [m for m in modules if importlib.util.find_spec(m) is None]
    if not missing():
        return
    names = pip_names or list(modules)
    base = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    quiet = dict(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if subprocess.call(base + names, **quiet) != 0:
        # Debian-style system Pythons (PEP 668) need --user and the override.
        subprocess.call(base + ["--user", "--break-system-packages"] + names, **quiet)
    importlib.invalidate_caches()
    if missing():
        print(f"SKIP: {', '.join(missing())} not installed and pip cannot install them (offline?)")
        sys.exit(SKIP_EXIT_CODE)


def build_dir():
    """The build directory: argv[1], else $WSVIS_BUILD_DIR, else ./build."""
    return sys.argv[1] if len(sys.argv) > 1 else os.environ.get("WSVIS_BUILD_DIR", "build")


def tool_path(name):
    """<build>/tests/<name>: the helper executables built from tests/tools/<name>.cpp."""
    return os.path.join(build_dir(), "tests", name)
