// While a release is being built, SIGINT/SIGTERM/SIGHUP are blocked rather than handled: the kernel keeps
// them pending, so no syscall is interrupted half-way and no async handler runs. The extraction loop polls
// for a pending one and turns it into droot::Interrupted, whose unwinding removes the temporary directory.
// A signal that arrives after the last poll is delivered (default action) when the deferral ends, once
// `current` is consistent again.
#pragma once

#include <signal.h>
#include <time.h>

namespace droot::exec {

class SignalDeferral {
 public:
  SignalDeferral();
  SignalDeferral(const SignalDeferral&) = delete;
  SignalDeferral& operator=(const SignalDeferral&) = delete;
  ~SignalDeferral();

  // Throws droot::Interrupted (consuming the signal) if one of the deferred signals is pending. Asks the
  // kernel at most every 10 ms (the clock is read in the vDSO, without a syscall): poll() runs for every
  // entry and data block, and an image of 200,000 small files would otherwise cost 400,000 sigpending calls.
  void poll() const;
  // The same, asking the kernel now (before a step that cannot be undone).
  void poll_now() const;

 private:
  sigset_t deferred_{};
  sigset_t previous_{};
  mutable timespec last_poll_{};
};

}  // namespace droot::exec
