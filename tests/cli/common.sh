# Shared by the CLI tests: arguments are the carnot binary, the source tree and a scratch folder.
set -euo pipefail
CARNOT=$1
SRC=$2
WORK=$3
rm -rf "$WORK" && mkdir -p "$WORK" && cd "$WORK"
MPIEXEC=${MPIEXEC:-mpirun}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
mpi() { local np=$1; shift; "$MPIEXEC" -np "$np" --oversubscribe --bind-to none "$@"; }
fail() { echo "FAIL: $*" >&2; exit 1; }
# The value of a key in the last line of a metrics.jsonl that has it (diagnostics lines lack the loss).
last_metric() { grep "\"$2\":" "$1" | tail -n 1 | grep -o "\"$2\":[^,}]*" | cut -d: -f2; }
