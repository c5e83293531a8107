#include "terminal.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "error.h"

namespace droot::exec {

TerminalPlan plan_terminal(TtyMode mode, const bool is_tty[3], bool foreground) {
  TerminalPlan plan;
  bool force = mode == TtyMode::Force;
  plan.pty = force || (mode == TtyMode::Auto && is_tty[0] && is_tty[1] && foreground);
  if (!plan.pty) return plan;
  plan.on_pty[0] = is_tty[0];
  plan.on_pty[1] = true;  // auto needs a terminal there; -t puts the pty there anyway
  plan.on_pty[2] = is_tty[2] || force;
  plan.relay_input = is_tty[0];
  for (int fd = 0; fd <= 2 && plan.size_from < 0; ++fd)
    if (is_tty[fd]) plan.size_from = fd;
  return plan;
}

TerminalPlan plan_terminal_for_stdio(TtyMode mode) {
  bool is_tty[3];
  for (int fd = 0; fd <= 2; ++fd) is_tty[fd] = isatty(fd) == 1;
  // In the background, reading the terminal would stop droot-exec (SIGTTIN) and raw mode would change the
  // terminal under the shell's feet: a background run keeps plain stdio unless -t asks for the pty.
  bool foreground = is_tty[0] && tcgetpgrp(STDIN_FILENO) == getpgrp();
  TerminalPlan plan = plan_terminal(mode, is_tty, foreground);
  winsize ws{};
  if (plan.size_from >= 0 && ioctl(plan.size_from, TIOCGWINSZ, &ws) == 0) plan.size = ws;
  return plan;
}

Pty open_pty(const char* ptmx) {
  Pty pty;
  // O_NOCTTY: init must not make the pty its controlling terminal; the command does, in a session of its own.
  pty.master = UniqueFd(open(ptmx, O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!pty.master) throw_errno(std::string("cannot open ") + ptmx + " (the jail's devpts)");
  // A new pty's slave is locked until unlockpt(3), which is this ioctl.
  int unlock = 0;
  if (ioctl(pty.master.get(), TIOCSPTLCK, &unlock) < 0) throw_errno("cannot unlock the jail's pty");
  // TIOCGPTPEER (Linux 4.13) opens the slave from the master itself: no path to resolve, so nothing mounted
  // over /dev/pts can substitute another file. Older kernels: by name, in the same devpts.
  pty.slave = UniqueFd(ioctl(pty.master.get(), TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!pty.slave && (errno == EINVAL || errno == ENOTTY)) {
    unsigned number = 0;
    if (ioctl(pty.master.get(), TIOCGPTN, &number) < 0) throw_errno("cannot get the number of the jail's pty");
    std::string name = "/dev/pts/" + std::to_string(number);
    pty.slave = UniqueFd(open(name.c_str(), O_RDWR | O_NOCTTY | O_CLOEXEC));
  }
  if (!pty.slave) throw_errno("cannot open the slave of the jail's pty");
  return pty;
}

namespace {

// One byte of data (a message must carry some) and room for one descriptor: what send_fd and receive_fd
// exchange. Not copyable: msg points into the object itself.
struct FdMessage {
  char byte = 't';
  iovec iov{&byte, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr msg{};
  FdMessage() {
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
  }
  FdMessage(const FdMessage&) = delete;
  FdMessage& operator=(const FdMessage&) = delete;
};

}  // namespace

void send_fd(int sock, int fd) {
  FdMessage m;
  cmsghdr* cmsg = CMSG_FIRSTHDR(&m.msg);
  cmsg->cmsg_level = SOL_SOCKET;
  cmsg->cmsg_type = SCM_RIGHTS;
  cmsg->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
  ssize_t n;
  do n = sendmsg(sock, &m.msg, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  if (n != 1) throw_errno("cannot send the pty to droot-exec");
}

UniqueFd receive_fd(int sock) {
  FdMessage m;
  ssize_t n;
  do n = recvmsg(sock, &m.msg, MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  if (n < 0) throw_errno("cannot receive the jail's pty");
  if (n == 0) return UniqueFd();
  cmsghdr* cmsg = CMSG_FIRSTHDR(&m.msg);
  if (!cmsg || cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS ||
      cmsg->cmsg_len != CMSG_LEN(sizeof(int)) || (m.msg.msg_flags & MSG_CTRUNC))
    throw Error("cannot receive the jail's pty: no descriptor in the message");
  int fd = -1;
  std::memcpy(&fd, CMSG_DATA(cmsg), sizeof(int));
  return UniqueFd(fd);
}

RawMode::RawMode(int fd) : fd_(fd) {
  if (tcgetattr(fd_, &saved_) < 0) throw_errno("cannot read the terminal's mode");
  termios raw = saved_;
  // No echo, no line editing, no signals from ^C/^Z, no CR/NL translation either way: every byte typed goes
  // to the jail's pty, whose own line discipline does all of that for the command (and signals its
  // foreground process group on ^C). TCSANOW, not TCSAFLUSH: what was typed ahead still reaches the command.
  cfmakeraw(&raw);
  if (tcsetattr(fd_, TCSANOW, &raw) < 0) throw_errno("cannot put the terminal in raw mode");
}

RawMode::~RawMode() {
  // A process outside the terminal's foreground group gets SIGTTOU for tcsetattr unless it blocks it; the
  // mode must come back whatever happened to the process group meanwhile.
  sigset_t ttou, old;
  sigemptyset(&ttou);
  sigaddset(&ttou, SIGTTOU);
  sigprocmask(SIG_BLOCK, &ttou, &old);
  // TCSADRAIN: the command's last output is written out in raw mode, as it was meant to be.
  while (tcsetattr(fd_, TCSADRAIN, &saved_) < 0 && errno == EINTR) {
  }
  sigprocmask(SIG_SETMASK, &old, nullptr);
}

bool copy_window_size(int from, int to) {
  winsize ws{};
  if (ioctl(from, TIOCGWINSZ, &ws) < 0) return false;
  return ioctl(to, TIOCSWINSZ, &ws) == 0;
}

namespace {

// Bytes read from one side and not yet written to the other. One buffer each way, refilled only when empty:
// a side that does not read (a command ignoring its input, a stalled host terminal) holds back only its own
// direction, never the other, so neither side can block the relay.
struct Buffer {
  char data[16384];
  size_t begin = 0, end = 0;
  bool empty() const { return begin == end; }
  void clear() { begin = end = 0; }
};

// read(2) into an empty buffer: >0 bytes, 0 at EOF, -1 with errno.
ssize_t fill(int fd, Buffer& b) {
  ssize_t n;
  do n = read(fd, b.data, sizeof b.data);
  while (n < 0 && errno == EINTR);
  if (n > 0) {
    b.begin = 0;
    b.end = static_cast<size_t>(n);
  }
  return n;
}

// write(2) what the buffer holds; false if `fd` cannot take any more at all (EIO after a hangup, EPIPE).
bool flush(int fd, Buffer& b) {
  ssize_t n;
  do n = write(fd, b.data + b.begin, b.end - b.begin);
  while (n < 0 && errno == EINTR);
  if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK;
  b.begin += static_cast<size_t>(n);
  if (b.empty()) b.clear();
  return true;
}

}  // namespace

int relay_pty_until_exit(const RelayEnds& ends, pid_t child, const sigset_t& signals) {
  UniqueFd sigfd(signalfd(-1, &signals, SFD_CLOEXEC | SFD_NONBLOCK));
  if (!sigfd) throw_errno("cannot create a signalfd");
  // The master is droot-exec's own descriptor (its only other holder, init, closed it after sending it), so
  // O_NONBLOCK here changes nothing for anyone else. The host's descriptors keep their flags: they share an
  // open file description with the shell, which would be left with a non-blocking terminal.
  int flags = fcntl(ends.master, F_GETFL);
  if (flags < 0 || fcntl(ends.master, F_SETFL, flags | O_NONBLOCK) < 0) throw_errno("cannot make the pty non-blocking");

  Buffer to_pty, to_host;
  bool input_open = ends.input >= 0, output_open = ends.output >= 0, master_open = true;
  std::optional<int> status;
  // After the child: every holder of the slave is gone (init's exit tore the PID namespace down), so the
  // master reads what is left and then EIO. The deadline only guards against a kernel that never says so.
  constexpr int kDrainTimeoutMs = 5000;
  for (;;) {
    if (status && (!master_open || !output_open) && to_host.empty()) break;
    pollfd fds[4] = {};
    enum { kSignals, kMaster, kInput, kOutput };
    fds[kSignals] = {status ? -1 : sigfd.get(), POLLIN, 0};
    short master_events = 0;
    if (master_open && to_host.empty()) master_events |= POLLIN;
    if (master_open && !to_pty.empty() && !status) master_events |= POLLOUT;
    fds[kMaster] = {master_events ? ends.master : -1, master_events, 0};
    fds[kInput] = {input_open && to_pty.empty() && !status ? ends.input : -1, POLLIN, 0};
    fds[kOutput] = {output_open && !to_host.empty() ? ends.output : -1, POLLOUT, 0};
    int ready = poll(fds, 4, status ? kDrainTimeoutMs : -1);
    if (ready < 0) {
      if (errno == EINTR) continue;
      throw_errno("cannot poll the terminal");
    }
    if (ready == 0) break;  // draining, and the pty said nothing for kDrainTimeoutMs

    if (fds[kSignals].revents & POLLIN) {
      signalfd_siginfo info{};
      while (read(sigfd.get(), &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
        int sig = static_cast<int>(info.ssi_signo);
        if (sig == SIGCHLD) {
          int wstatus = 0;
          pid_t pid;
          do pid = waitpid(child, &wstatus, WNOHANG);
          while (pid < 0 && errno == EINTR);
          if (pid == child) status = wstatus;
        } else if (sig == SIGWINCH && ends.size_from >= 0) {
          copy_window_size(ends.size_from, ends.master);
        } else {
          kill(child, sig);  // ESRCH: the child is exiting; its SIGCHLD is on the way
        }
      }
      if (status) to_pty.clear();  // nobody is left to read it
    }
    if (fds[kMaster].revents & (POLLIN | POLLHUP | POLLERR)) {
      if (to_host.empty()) {
        ssize_t n = fill(ends.master, to_host);
        // EIO: no slave is open any more (the jail is gone); 0 never comes from a pty master, but means the same.
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) master_open = false;
        if (!output_open) to_host.clear();
      }
    }
    if ((fds[kMaster].revents & POLLOUT) && !to_pty.empty() && !flush(ends.master, to_pty)) to_pty.clear();
    if (fds[kInput].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n = fill(ends.input, to_pty);
      // EOF or EIO: the host terminal hung up (a closed ssh session); the command gets SIGHUP relayed, if
      // the kernel sent droot-exec one, and keeps its output going out as long as there is an output.
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) input_open = false;
    }
    if (fds[kOutput].revents & (POLLOUT | POLLHUP | POLLERR)) {
      if (!flush(ends.output, to_host)) {
        output_open = false;  // keep reading the master, or a command writing to a full pty would hang
        to_host.clear();
      }
    }
  }
  return *status;  // the loop ends only once the child's status is known
}

}  // namespace droot::exec
