#!/usr/bin/env bash
# Command 2: install what is missing, build everything and run the whole test suite through ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

./launch/deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release ${CARNOT_CMAKE_ARGS:-}
cmake --build build
cd build
ctest --output-on-failure -j "$(nproc)"
