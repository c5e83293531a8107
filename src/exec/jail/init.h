// Process supervision, tini-style: PID 1 of the jail (droot-exec's own code, no binary from the image), and
// the same signal relay in droot-exec outside, so that a supervisor's SIGTERM reaches the command.
//
// Every signal except SIGCHLD, the synchronous faults (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP, SIGSYS,
// SIGABRT) and SIGTTIN/SIGTTOU is blocked and taken with sigwaitinfo: blocked signals are queued even for a
// namespace's init, which the kernel otherwise shields from every signal it has no handler for.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <functional>

namespace droot::exec {

// The signals relayed to the command (plus SIGCHLD, handled by the loop).
sigset_t relayed_signals();
// Blocks relayed_signals() in the calling process; call before forking so no signal is lost in between.
void block_relayed_signals();
// In the command's process, before execve: default dispositions, nothing blocked (both survive execve).
void reset_signals_for_exec();

// Waits for `child` while forwarding every relayed signal to it. With `reap_all` (PID 1) any other child —
// an orphan reparented to the jail's init — is reaped as well. Returns the child's wait status.
int relay_signals_until_exit(pid_t child, bool reap_all);

// A wait status as an exit code: the code itself, or 128+N after signal N (the shell's convention).
int exit_code_of(int wait_status);

// Starts `child` (which must execve or _exit, never return) in a process that shares the caller's memory until
// it does, the caller suspended meanwhile (posix_spawn's technique; a plain fork in ASan builds). Its
// credentials, capabilities, signal dispositions, descriptor table and seccomp filter are its own. Returns the
// pid once the child has exec'd or exited, or -1 with errno.
pid_t spawn_command(const std::function<void()>& child);

// Runs as PID 1 of the jail: starts `command` with spawn_command (so `command` must exec or _exit and must not
// touch what PID 1 is using), then relays signals, reaps orphans, and exits with the command's exit code.
// When the command is gone, so is the namespace: the kernel kills whatever is left once PID 1 exits.
[[noreturn]] void run_init(const std::function<void()>& command);

// Closes (or, with cloexec, marks close-on-exec) every descriptor above 2.
void close_fds_above_stderr(bool cloexec_only);

}  // namespace droot::exec
