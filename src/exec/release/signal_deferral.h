// While a release is being built, SIGINT/SIGTERM/SIGHUP are blocked rather than handled: the kernel keeps
// them pending, so no syscall is interrupted half-way and no async handler runs. The extraction loop polls
// for a pending one and turns it into droot::Interrupted, whose unwinding removes the temporary directory.
// A signal that arrives after the last poll is delivered (default action) when the deferral ends, once
// `current` is consistent again.
#pragma once

#include <signal.h>

namespace droot::exec {

class SignalDeferral {
 public:
  SignalDeferral();
  SignalDeferral(const SignalDeferral&) = delete;
  SignalDeferral& operator=(const SignalDeferral&) = delete;
  ~SignalDeferral();

  // Throws droot::Interrupted (consuming the signal) if one of the deferred signals is pending.
  void poll() const;

 private:
  sigset_t deferred_{};
  sigset_t previous_{};
};

}  // namespace droot::exec
