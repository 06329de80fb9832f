// What the launcher told this process: which launcher, and (when it says) rank and world size.
#pragma once
#include <string>

namespace carnot {

struct LaunchEnv {
  std::string launcher = "none";  // "openmpi", "slurm", "pmi" or "none"
  int rank = -1;                  // -1 where the launcher does not say
  int size = -1;
  int local_rank = -1;
  int local_size = -1;
  bool multi_process() const { return launcher != "none"; }
};

// Reads Open MPI (OMPI_COMM_WORLD_*), Slurm inside srun (SLURM_PROCID, SLURM_NTASKS,
// SLURM_LOCALID) and MPICH/PMI (PMI_RANK, PMI_SIZE, MPI_LOCALRANKID) variables. Throws a clear
// error when they are inconsistent.
LaunchEnv detect_launch_env();

// BLAS threads per rank: OPENBLAS_NUM_THREADS or OMP_NUM_THREADS when set, else the cores this
// process may run on shared among the ranks on this node (at least 1).
int default_threads_per_rank(int local_size);

}  // namespace carnot
