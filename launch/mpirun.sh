#!/usr/bin/env bash
# Runs carnot on N ranks of this machine: launch/mpirun.sh N train configs/swissroll.yaml [...]
# Ranks × BLAS threads stay within the cores (OPENBLAS_NUM_THREADS = cores / N unless set), ranks
# are not pinned when they share cores, root may run it (containers, CI), and carnot's exit code
# (75: checkpointed for requeue) comes back unchanged. CARNOT overrides the binary.
set -uo pipefail
ranks=${1:?usage: launch/mpirun.sh RANKS carnot-subcommand [args...]}
shift
carnot=${CARNOT:-$(dirname "$0")/../build/carnot}
cores=$(nproc)
threads=${OPENBLAS_NUM_THREADS:-$(( cores / ranks > 0 ? cores / ranks : 1 ))}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 PMIX_MCA_pcompress_base_silence_warning=1
exec mpirun -np "$ranks" --oversubscribe --bind-to none -x OPENBLAS_NUM_THREADS="$threads" "$carnot" "$@"
