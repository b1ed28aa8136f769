#!/usr/bin/env bash
# Installs what wsvis needs to build and test, and only what is missing.
# Idempotent and prompt-free: safe to run before every `make` target.
set -euo pipefail

# Debian packages the build needs. Each entry is "package:probe-file"; the probe tells whether
# the package (or an equivalent install) is already there, so a warm machine runs no apt-get.
required=(
  "cmake:/usr/bin/cmake"
  "g++:/usr/bin/g++"
  "make:/usr/bin/make"
  "libopenblas-dev:/usr/include/x86_64-linux-gnu/cblas.h"
  "nlohmann-json3-dev:/usr/include/nlohmann/json.hpp"
  "libstb-dev:/usr/include/stb/stb_image.h"
  "libgtest-dev:/usr/include/gtest/gtest.h"
  # Open MPI: CPU collectives of multi-rank training, scripts/launch.sh and the two-rank test.
  "openmpi-bin:/usr/bin/mpirun.openmpi"
  "libopenmpi-dev:/usr/lib/x86_64-linux-gnu/openmpi/include/mpi.h"
)

missing=()
for entry in "${required[@]}"; do
  pkg="${entry%%:*}"; probe="${entry#*:}"
  if [[ ! -e "$probe" ]] && ! dpkg -s "$pkg" >/dev/null 2>&1; then
    missing+=("$pkg")
  fi
done

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=""
  if [[ $(id -u) -ne 0 ]]; then sudo_cmd="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo_cmd apt-get update -qq
  $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The CUDA toolkit is optional: the build compiles every .cu file whenever nvcc exists
# (even without a GPU) and builds the CPU backend alone otherwise.
if ! command -v nvcc >/dev/null 2>&1 && [[ ! -x /usr/local/cuda/bin/nvcc ]]; then
  echo "setup: nvcc not found; building the CPU backend only"
fi
