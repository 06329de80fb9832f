#!/usr/bin/env bash
# Command 1: install what is missing, build carnot (Release), train the Swiss-roll job on 2 MPI
# ranks, sample 10,000 points, print the sample-quality figure and draw the samples beside data.
# Run it again and training resumes from its last checkpoint (here: already finished).
set -euo pipefail
cd "$(dirname "$0")/.."
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

./launch/deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release ${CARNOT_CMAKE_ARGS:-} >/dev/null
cmake --build build --target carnot

ranks=${CARNOT_RANKS:-2}
# Ranks share the cores (each takes cores/ranks BLAS threads), so no binding to one core each.
mpirun -np "$ranks" --oversubscribe --bind-to none ./build/carnot train configs/swissroll.yaml \
  --run-dir runs/quickstart
mpirun -np "$ranks" --oversubscribe --bind-to none ./build/carnot sample --ckpt runs/quickstart \
  -n 10000 --out runs/quickstart/samples.npy --out runs/quickstart/samples.png --quality-gate 2
echo "picture: runs/quickstart/samples.png (left: samples, right: fresh data)"
