#include "signals.h"

#include <signal.h>

#include <atomic>

#include "error.h"

namespace droot::pack {
namespace {

std::atomic<int> g_signal{0};

void on_signal(int sig) {
  int expected = 0;
  g_signal.compare_exchange_strong(expected, sig);
}

}  // namespace

void install_interrupt_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  for (int sig : {SIGINT, SIGTERM, SIGHUP})
    if (sigaction(sig, &sa, nullptr) != 0) throw_errno("cannot install a handler for signal " + std::to_string(sig));
  signal(SIGPIPE, SIG_IGN);
}

int pending_interrupt() { return g_signal.load(); }

void throw_if_interrupted() {
  if (int sig = g_signal.load()) throw Interrupted(sig);
}

}  // namespace droot::pack
