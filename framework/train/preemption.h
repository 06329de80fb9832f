// Preemption: SIGTERM or SIGUSR1 (Slurm's `--signal=B:USR1@120`, forwarded by the batch script)
// only sets a flag. The trainer folds the flag into the all-reduce it already does at the end of
// every step, so all ranks learn of a signal on any of them at the same step boundary, write one
// checkpoint there and leave with exit code 75 ("requeue me"); resuming continues bitwise.
#pragma once

namespace carnot {

// Installs the handlers (idempotent).
void install_preemption_handlers();
// The signal number received since installation, or 0.
int preemption_signal();
// "SIGTERM", "SIGUSR1" or "signal N".
const char* signal_name(int signal);

}  // namespace carnot
