#include "framework/dist/launcher.h"

#include <sched.h>

#include <cstdlib>
#include <string>
#include <thread>

#include "framework/core/error.h"

namespace carnot {

namespace {

// The integer value of an environment variable, or -1 when unset. Garbage is an error.
int env_int(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return -1;
  char* end = nullptr;
  const long x = std::strtol(v, &end, 10);
  if (*end != '\0' || x < 0 || x > 1 << 30)
    throw Error(str_cat("launcher variable ", name, "='", v, "' is not a non-negative integer"));
  return int(x);
}

}  // namespace

LaunchEnv detect_launch_env() {
  LaunchEnv env;
  if (env_int("OMPI_COMM_WORLD_SIZE") >= 0) {
    env.launcher = "openmpi";
    env.rank = env_int("OMPI_COMM_WORLD_RANK");
    env.size = env_int("OMPI_COMM_WORLD_SIZE");
    env.local_rank = env_int("OMPI_COMM_WORLD_LOCAL_RANK");
    env.local_size = env_int("OMPI_COMM_WORLD_LOCAL_SIZE");
  } else if (std::getenv("SLURM_STEP_ID") && env_int("SLURM_NTASKS") >= 0 &&
             env_int("SLURM_PROCID") >= 0) {
    // Inside an srun step (the batch script itself also has SLURM_NTASKS but is one process).
    env.launcher = "slurm";
    env.rank = env_int("SLURM_PROCID");
    env.size = env_int("SLURM_NTASKS");
    env.local_rank = env_int("SLURM_LOCALID");
  } else if (env_int("PMI_SIZE") >= 0 || env_int("PMIX_RANK") >= 0) {
    env.launcher = "pmi";
    env.rank = env_int("PMI_RANK");
    env.size = env_int("PMI_SIZE");
    env.local_rank = env_int("MPI_LOCALRANKID");
    env.local_size = env_int("MPI_LOCALNRANKS");
  }
  if (env.multi_process()) {
    if (env.size == 0) throw Error(str_cat(env.launcher, " launcher says the world has 0 ranks"));
    if (env.rank >= 0 && env.size > 0 && env.rank >= env.size)
      throw Error(str_cat(env.launcher, " launcher gives rank ", env.rank, " in a world of ",
                          env.size, " ranks"));
  }
  return env;
}

int default_threads_per_rank(int local_size) {
  for (const char* name : {"OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"})
    if (const int n = env_int(name); n > 0) return n;
  cpu_set_t set;
  int cores = int(std::thread::hardware_concurrency());
  if (sched_getaffinity(0, sizeof set, &set) == 0) cores = CPU_COUNT(&set);
  return std::max(1, cores / std::max(1, local_size));
}

}  // namespace carnot
