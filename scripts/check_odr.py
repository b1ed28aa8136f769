#!/usr/bin/env python3
"""Finds types defined twice in the same namespace in different files (a one-definition-rule
violation the compiler and linker do not report without LTO).

Two structs of one qualified name but different layouts link silently: the linker keeps one
copy of each inline member function (vector<T>::push_back, the implicit destructor...) and
code built against the other layout then reads and writes past its objects. wsvis once had
two wsvis::data::FrameInstance (data/split.h and data/temporal_consistency.h); `wsvis eval
--flow-dir` smashed its stack in release builds only.

The scan relies on the project's layout (clang-format, Google style): namespaces open with
`namespace a::b {` and close with `}  // namespace a::b`, and a type defined at namespace
scope starts its line with `struct`, `class`, `union` or `enum`. Types in anonymous namespaces
have internal linkage and are left out; so are forward declarations.

Usage: check_odr.py ROOT   (exit 1 and one line per collision when there is any)
"""
import os
import re
import sys

SOURCE_DIRS = ["apps", "bench", "data", "engine", "kernels", "layers", "models", "pipeline",
               "video", "tests", "fuzz"]
EXTENSIONS = (".h", ".cpp", ".cu", ".cuh")

OPEN_NS = re.compile(r"^\s*(?:inline\s+)?namespace\s*([A-Za-z_][\w:]*)?\s*\{")
CLOSE_NS = re.compile(r"^\}\s*//\s*namespace")
# At column 0: a definition (followed by `{`, `:` or `final`), not `struct X;`.
TYPE_DEF = re.compile(
    r"^(?:template\s*<[^>]*>\s*)?(?:struct|class|union|enum(?:\s+class|\s+struct)?)\s+"
    r"(?:alignas\([^)]*\)\s+)?(?:\[\[[^\]]*\]\]\s+)?([A-Za-z_]\w*)\s*(?:final\s*)?(?:\{|:(?!:)|$)")


def definitions(path):
    """(namespace, type name, line) of every namespace-scope type defined in `path`."""
    stack = []  # namespace names; "" for an anonymous one
    found = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for number, line in enumerate(f, 1):
            opened = OPEN_NS.match(line)
            if opened and not line.rstrip().endswith("}"):  # `namespace x {}` opens nothing
                stack.append(opened.group(1) or "")
                continue
            if CLOSE_NS.match(line):
                if stack:
                    stack.pop()
                continue
            defined = TYPE_DEF.match(line)
            if defined and line.rstrip().endswith(";") and "{" not in line:
                continue  # forward declaration
            if defined and "" not in stack:
                found.append(("::".join(stack), defined.group(1), number))
    return found


def main(root):
    seen = {}  # (namespace, name) -> [(file, line)]
    for top in SOURCE_DIRS:
        for dirpath, _, files in os.walk(os.path.join(root, top)):
            for name in sorted(files):
                if not name.endswith(EXTENSIONS):
                    continue
                path = os.path.join(dirpath, name)
                for namespace, type_name, line in definitions(path):
                    seen.setdefault((namespace, type_name), []).append(
                        (os.path.relpath(path, root), line))
    collisions = 0
    for (namespace, type_name), places in sorted(seen.items()):
        files = {f for f, _ in places}
        if len(files) < 2:
            continue
        # Test files are separate executables; two of them may reuse a helper's name.
        if all(f.startswith(("tests/", "bench/", "fuzz/")) for f in files):
            continue
        collisions += 1
        where = ", ".join(f"{f}:{n}" for f, n in places)
        print(f"check_odr: {namespace or '(global)'}::{type_name} is defined in {where}")
    if collisions:
        print(f"check_odr: {collisions} type(s) defined more than once in one namespace; rename one "
              "of each pair (or move a file-local type into an anonymous namespace)")
        return 1
    print("check_odr: no type is defined twice in one namespace")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "."))
