#include "framework/train/preemption.h"

#include <csignal>
#include <cstdio>

namespace carnot {

namespace {

volatile std::sig_atomic_t g_signal = 0;

extern "C" void on_stop_signal(int signal) { g_signal = signal; }

}  // namespace

void install_preemption_handlers() {
  std::signal(SIGTERM, on_stop_signal);
  std::signal(SIGUSR1, on_stop_signal);
}

int preemption_signal() { return int(g_signal); }

const char* signal_name(int signal) {
  if (signal == SIGTERM) return "SIGTERM";
  if (signal == SIGUSR1) return "SIGUSR1";
  static char buf[32];
  std::snprintf(buf, sizeof buf, "signal %d", signal);
  return buf;
}

}  // namespace carnot
