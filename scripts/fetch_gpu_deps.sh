#!/usr/bin/env bash
# Run HERE (a machine with Debian's registry) before a GPU session: downloads the .deb files of
# the build dependencies the GPU machine lacks (it reaches no registry) into .gpu_deps/, which
# git ignores and the device call carries. scripts/gpu_check.sh unpacks them there.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .gpu_deps
packages=(libgtest-dev googletest libopenblas-dev libopenblas0-pthread libopenblas-pthread-dev
          libgfortran5 nlohmann-json3-dev libstb-dev libstb0)
if [[ $(id -u) -eq 0 ]]; then apt-get update -qq; else sudo apt-get update -qq; fi
(cd .gpu_deps && apt-get download "${packages[@]}")
du -sh .gpu_deps
