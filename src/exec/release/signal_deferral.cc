#include "signal_deferral.h"

#include <time.h>

#include <cerrno>

#include "error.h"

namespace droot::exec {

SignalDeferral::SignalDeferral() {
  sigemptyset(&deferred_);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&deferred_, sig);
  if (::sigprocmask(SIG_BLOCK, &deferred_, &previous_) != 0) throw_errno("cannot block SIGINT/SIGTERM/SIGHUP");
}

SignalDeferral::~SignalDeferral() { ::sigprocmask(SIG_SETMASK, &previous_, nullptr); }

void SignalDeferral::poll() const {
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
  const long long ms = (now.tv_sec - last_poll_.tv_sec) * 1000LL + (now.tv_nsec - last_poll_.tv_nsec) / 1000000;
  if (ms < 10) return;
  last_poll_ = now;
  poll_now();
}

void SignalDeferral::poll_now() const {
  sigset_t pending;
  if (::sigpending(&pending) != 0) throw_errno("cannot read the pending signals");
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) {
    if (sigismember(&pending, sig) != 1) continue;
    // Take it off the pending set: the error path, not the default action, handles it now.
    const timespec now{0, 0};
    int taken = ::sigtimedwait(&deferred_, nullptr, &now);
    throw Interrupted(taken > 0 ? taken : sig);
  }
}

}  // namespace droot::exec
