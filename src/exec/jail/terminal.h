// The jail's own terminal (`run -t`, automatic for interactive runs): a pty of the jail's devpts, relayed by
// droot-exec, so that no descriptor of the host's terminal ever enters the jail.
//
// Why: a process that holds a terminal can push bytes into its input queue with ioctl(TIOCSTI) (or paste a
// selection with TIOCLINUX on a virtual console). When the jail's command held the host's terminal and was in
// its session, what it pushed was read by the host's shell once droot-exec exited (bubblewrap's
// CVE-2017-5226). With a pty of its own, the command's controlling terminal is the pty: what it injects lands
// in the jail's own input queue and goes nowhere. Besides, `tty` inside answers /dev/pts/0 instead of
// "not a tty", since the jail's devpts can name its own pty.
//
//   droot-exec (host)                         init (PID 1 of the jail)           the command
//     socketpair ─────── fork ───────────────▶ opens /dev/ptmx of its devpts,
//     ◀──── the master (SCM_RIGHTS) ────────── sends the master, keeps the slave
//     host terminal raw; relays bytes          as its own 0/1/2                   setsid, TIOCSCTTY,
//     both ways, SIGWINCH → TIOCSWINSZ                                            the slave as 0/1/2
//
// The master is opened inside the jail's mount namespace because a pty belongs to the devpts instance whose
// ptmx made it: one from the host's /dev/ptmx could not be named (/dev/pts/N) in the jail's devpts.
#pragma once

#include <signal.h>
#include <sys/ioctl.h>
#include <sys/types.h>
#include <termios.h>

#include <optional>

#include "fd.h"
#include "run_options.h"

namespace droot::exec {

// What a run does with terminals, decided by droot-exec from its own stdin/stdout/stderr before the fork.
struct TerminalPlan {
  bool pty = false;                // the command gets a pty of the jail's devpts
  bool on_pty[3] = {};             // which of the command's stdin, stdout, stderr is the pty; the others are
                                   // droot-exec's own, passed through (files and pipes, never a terminal)
  bool relay_input = false;        // droot-exec's stdin is a terminal: put in raw mode, relayed into the pty
  int size_from = -1;              // the host terminal whose window size the pty follows, or -1
  std::optional<winsize> size;     // its size when the plan was made, given to the pty before the command runs
};

// The rules, as a pure function of `mode` and which of fds 0-2 are terminals:
//   off (--no-tty): no pty, stdio passed as it is.
//   auto: a pty when stdin and stdout are terminals and droot-exec is in the foreground of stdin's terminal
//     (an interactive run). `droot-exec run … | less` or `> file` keep plain stdio: droot-exec reading the
//     terminal would steal less's keys, and a pty would turn a file's \n into \r\n.
//   force (-t): a pty even without a terminal (for programs that want one), as `docker run -t`.
// With a pty, each of stdin/stdout/stderr that is a terminal is the pty; with -t, stdout and stderr are the
// pty anyway (docker -t); stdin that is not a terminal (a pipe) is passed through, so its EOF still works.
TerminalPlan plan_terminal(TtyMode mode, const bool is_tty[3], bool foreground);
// The same for droot-exec's own fds 0-2, with the window size read from the host terminal.
TerminalPlan plan_terminal_for_stdio(TtyMode mode);

// Jail side. A new pty of the devpts mounted at /dev/pts (through /dev/ptmx), unlocked. Throws Error.
struct Pty {
  UniqueFd master;
  UniqueFd slave;
};
Pty open_pty(const char* ptmx = "/dev/ptmx");

// One descriptor over a unix socket (SCM_RIGHTS). receive_fd returns an invalid fd at EOF (the peer exited
// without sending) and throws Error otherwise.
void send_fd(int sock, int fd);
UniqueFd receive_fd(int sock);

// Host side: the terminal at `fd` in raw mode for as long as this object lives. The destructor puts the
// saved mode back (also during unwinding after an error); droot-exec blocks and relays SIGTERM, SIGINT,
// SIGHUP…, so those end the command and return through here too. Only SIGKILL leaves the terminal raw.
class RawMode {
 public:
  explicit RawMode(int fd);  // throws Error
  ~RawMode();
  RawMode(const RawMode&) = delete;
  RawMode& operator=(const RawMode&) = delete;

 private:
  int fd_;
  termios saved_{};
};

// Copies the window size of terminal `from` to the pty master `to`; false if `from` has none. The kernel
// signals SIGWINCH to the pty's foreground process group when the size changes.
bool copy_window_size(int from, int to);

struct RelayEnds {
  int master = -1;     // the pty master (set non-blocking by the relay)
  int input = -1;      // read and written into the master (the raw host terminal), or -1
  int output = -1;     // what the command writes to the pty goes here, or -1 to discard it
  int size_from = -1;  // SIGWINCH copies this terminal's size to the master, or -1 (SIGWINCH is relayed)
};

// Relays bytes between `ends` until `child` has exited, then drains what the pty still holds (the slave's
// last writers are gone by then, so the master reads to EIO). Meanwhile every signal of `signals` (which the
// caller has blocked) is relayed to `child` with kill(), except SIGCHLD (reaps `child`) and, with a size
// source, SIGWINCH. Returns the child's wait status. Throws Error on failures of its own.
int relay_pty_until_exit(const RelayEnds& ends, pid_t child, const sigset_t& signals);

}  // namespace droot::exec
