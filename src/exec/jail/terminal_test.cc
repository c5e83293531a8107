#include "terminal.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "error.h"

using namespace droot::exec;
using droot::UniqueFd;

TEST_CASE("who gets the pty: interactive runs, -t, never --no-tty, and never a terminal passed through") {
  const bool all[3] = {true, true, true}, none[3] = {false, false, false};
  const bool piped_out[3] = {true, false, true}, piped_in[3] = {false, true, true}, err_file[3] = {true, true, false};

  TerminalPlan p = plan_terminal(TtyMode::Auto, all, true);
  CHECK(p.pty);
  CHECK((p.on_pty[0] && p.on_pty[1] && p.on_pty[2]));
  CHECK(p.relay_input);
  CHECK(p.size_from == 0);
  // In the background, or with stdout going to a pipe or a file (| less, > file): plain stdio.
  CHECK_FALSE(plan_terminal(TtyMode::Auto, all, false).pty);
  CHECK_FALSE(plan_terminal(TtyMode::Auto, piped_out, true).pty);
  CHECK_FALSE(plan_terminal(TtyMode::Auto, piped_in, true).pty);
  CHECK_FALSE(plan_terminal(TtyMode::Auto, none, false).pty);
  CHECK_FALSE(plan_terminal(TtyMode::Off, all, true).pty);
  // 2>file stays a file: only terminals become the pty.
  p = plan_terminal(TtyMode::Auto, err_file, true);
  CHECK((p.pty && p.on_pty[0] && p.on_pty[1] && !p.on_pty[2]));
  // -t without any terminal: stdout and stderr are the pty (docker -t), stdin stays the pipe it is.
  p = plan_terminal(TtyMode::Force, none, false);
  CHECK((p.pty && !p.on_pty[0] && p.on_pty[1] && p.on_pty[2]));
  CHECK_FALSE(p.relay_input);
  CHECK(p.size_from == -1);
  // -t with stdin a pipe and a terminal on stdout: the size comes from there.
  p = plan_terminal(TtyMode::Force, piped_in, true);
  CHECK((p.pty && !p.on_pty[0] && !p.relay_input && p.size_from == 1));
  // Whatever the plan, no terminal is left on a descriptor that is not the pty.
  for (TtyMode mode : {TtyMode::Auto, TtyMode::Force})
    for (int bits = 0; bits < 8; ++bits) {
      bool tty[3] = {(bits & 1) != 0, (bits & 2) != 0, (bits & 4) != 0};
      TerminalPlan plan = plan_terminal(mode, tty, true);
      if (!plan.pty) continue;
      for (int fd = 0; fd <= 2; ++fd)
        if (tty[fd]) CHECK(plan.on_pty[fd]);
    }
}

TEST_CASE("open_pty gives an unlocked pair of the devpts behind the ptmx it is given") {
  Pty pty = open_pty("/dev/ptmx");
  REQUIRE(isatty(pty.slave.get()));
  // O_NOCTTY and O_CLOEXEC both ways.
  CHECK((fcntl(pty.master.get(), F_GETFD) & FD_CLOEXEC));
  CHECK((fcntl(pty.slave.get(), F_GETFD) & FD_CLOEXEC));
  char name[64] = {};
  REQUIRE(ttyname_r(pty.slave.get(), name, sizeof name) == 0);
  CHECK(std::string(name).rfind("/dev/pts/", 0) == 0);
  REQUIRE(write(pty.slave.get(), "x\n", 2) == 2);
  char buf[8] = {};
  CHECK(read(pty.master.get(), buf, sizeof buf) > 0);
  CHECK(buf[0] == 'x');
  CHECK_THROWS_AS(open_pty("/nonexistent/ptmx"), droot::Error);
}

TEST_CASE("a descriptor goes over a unix socket, and EOF means none will") {
  int sv[2];
  REQUIRE(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0);
  UniqueFd a(sv[0]), b(sv[1]);
  int p[2];
  REQUIRE(pipe(p) == 0);
  UniqueFd pr(p[0]), pw(p[1]);
  send_fd(a.get(), pw.get());
  UniqueFd got = receive_fd(b.get());
  REQUIRE(got);
  CHECK((fcntl(got.get(), F_GETFD) & FD_CLOEXEC));
  pw.reset();
  REQUIRE(write(got.get(), "k", 1) == 1);
  char c = 0;
  CHECK(read(pr.get(), &c, 1) == 1);
  CHECK(c == 'k');
  a.reset();
  CHECK_FALSE(receive_fd(b.get()));
}

TEST_CASE("raw mode lasts as long as the object and the saved mode comes back") {
  int master = -1, slave = -1;
  REQUIRE(openpty(&master, &slave, nullptr, nullptr, nullptr) == 0);
  UniqueFd m(master), s(slave);
  termios before{};
  REQUIRE(tcgetattr(slave, &before) == 0);
  REQUIRE((before.c_lflag & (ICANON | ECHO | ISIG)) == (ICANON | ECHO | ISIG));
  {
    RawMode raw(slave);
    termios now{};
    REQUIRE(tcgetattr(slave, &now) == 0);
    CHECK((now.c_lflag & (ICANON | ECHO | ISIG)) == 0);
    CHECK((now.c_oflag & OPOST) == 0);
    CHECK((now.c_iflag & ICRNL) == 0);
  }
  termios after{};
  REQUIRE(tcgetattr(slave, &after) == 0);
  CHECK(after.c_lflag == before.c_lflag);
  CHECK(after.c_iflag == before.c_iflag);
  CHECK(after.c_oflag == before.c_oflag);
  CHECK(after.c_cflag == before.c_cflag);
  CHECK(std::memcmp(after.c_cc, before.c_cc, sizeof before.c_cc) == 0);
  // Not a terminal: an Error, nothing changed.
  int p[2];
  REQUIRE(pipe(p) == 0);
  UniqueFd pr(p[0]), pw(p[1]);
  CHECK_THROWS_AS(RawMode{pr.get()}, droot::Error);
}

namespace {

// A "host terminal" (an openpty pair: the test types into and reads from `outside`; the relay uses `inside`,
// in raw mode as droot-exec puts it) and the "jail's pty" (another pair), with a shell on the jail's slave in
// a session of its own, as the command runs. The relay runs in the test's thread; a reader thread collects
// everything that reaches the host terminal.
struct RelayRig {
  UniqueFd outside, inside, master, slave;
  std::optional<RawMode> raw;
  std::thread reader;
  std::mutex mutex;
  std::string seen;
  std::atomic<bool> done{false};
  sigset_t signals{}, old_mask{};
  pid_t child = -1;

  RelayRig() {
    int m, s;
    REQUIRE(openpty(&m, &s, nullptr, nullptr, nullptr) == 0);
    outside = UniqueFd(m);
    inside = UniqueFd(s);
    REQUIRE(openpty(&m, &s, nullptr, nullptr, nullptr) == 0);
    master = UniqueFd(m);
    slave = UniqueFd(s);
    raw.emplace(inside.get());
    sigemptyset(&signals);
    sigaddset(&signals, SIGCHLD);
    sigaddset(&signals, SIGWINCH);
    sigaddset(&signals, SIGUSR1);
    // Blocked before the fork, so that no SIGCHLD is lost before the relay's signalfd exists.
    REQUIRE(pthread_sigmask(SIG_BLOCK, &signals, &old_mask) == 0);
  }

  ~RelayRig() {
    done = true;
    if (reader.joinable()) reader.join();
    if (child > 0) {
      kill(child, SIGKILL);
      waitpid(child, nullptr, 0);
    }
    // Whatever the relay did not consume (nothing, normally) must not reach the rest of the test binary.
    timespec zero{};
    while (sigtimedwait(&signals, nullptr, &zero) > 0) {
    }
    pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  }

  void start(const char* script) {
    child = fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      sigset_t none;
      sigemptyset(&none);
      sigprocmask(SIG_SETMASK, &none, nullptr);
      if (setsid() < 0 || ioctl(slave.get(), TIOCSCTTY, 0) < 0) _exit(120);
      for (int fd = 0; fd <= 2; ++fd) dup2(slave.get(), fd);
      for (int fd = 3; fd < 64; ++fd) close(fd);
      execl("/bin/sh", "sh", "-c", script, static_cast<char*>(nullptr));
      _exit(121);
    }
    slave.reset();  // droot-exec holds only the master
    reader = std::thread([this] {
      for (;;) {
        pollfd p{outside.get(), POLLIN, 0};
        int ready = poll(&p, 1, 50);
        if (ready > 0) {
          char buf[4096];
          ssize_t n = read(outside.get(), buf, sizeof buf);
          if (n > 0) {
            std::lock_guard lock(mutex);
            seen.append(buf, static_cast<size_t>(n));
            continue;
          }
        }
        if (done) return;
      }
    });
  }

  std::string output() {
    std::lock_guard lock(mutex);
    return seen;
  }

  // Waits (up to 20 s, for a loaded machine) until the host terminal has shown `text`.
  bool wait_for(const std::string& text) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
      if (output().find(text) != std::string::npos) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }

  int relay() {
    RelayEnds ends{master.get(), inside.get(), inside.get(), inside.get()};
    int status = relay_pty_until_exit(ends, child, signals);
    child = -1;
    done = true;
    reader.join();
    return status;
  }
};

winsize size(unsigned short rows, unsigned short cols) {
  winsize ws{};
  ws.ws_row = rows;
  ws.ws_col = cols;
  return ws;
}

}  // namespace

TEST_CASE("the relay carries keystrokes in and output out, with the size, and returns the child's status") {
  RelayRig rig;
  winsize ws = size(31, 101);
  REQUIRE(ioctl(rig.inside.get(), TIOCSWINSZ, &ws) == 0);
  REQUIRE(copy_window_size(rig.inside.get(), rig.master.get()));
  // Typed before the command reads: the pty's line discipline keeps it. \r as a raw terminal sends Enter;
  // the jail's pty turns it into \n (ICRNL).
  REQUIRE(write(rig.outside.get(), "hello jail\r", 11) == 11);
  rig.start("stty size; read -r line; echo \"got:$line\"; tty; exit 3");
  int status = rig.relay();
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 3);
  std::string out = rig.output();
  CHECK(out.find("31 101") != std::string::npos);
  CHECK(out.find("got:hello jail") != std::string::npos);
  CHECK(out.find("/dev/pts/") != std::string::npos);
}

TEST_CASE("SIGWINCH makes the relay copy the host terminal's size, and the command sees the change") {
  RelayRig rig;
  winsize ws = size(24, 80);
  REQUIRE(ioctl(rig.inside.get(), TIOCSWINSZ, &ws) == 0);
  REQUIRE(copy_window_size(rig.inside.get(), rig.master.get()));
  // The trap runs between two sleeps; the pty's kernel side sends SIGWINCH to its foreground group (the shell)
  // when the relay changes the size, never because of the host terminal's own change.
  rig.start("trap 'stty size; exit 4' WINCH; echo ready; while :; do sleep 0.05; done");
  std::thread resizer([&rig] {
    if (!rig.wait_for("ready")) {
      kill(rig.child, SIGKILL);  // the CHECKs below fail instead of the relay waiting for ever
      return;
    }
    winsize bigger = size(50, 132);
    ioctl(rig.inside.get(), TIOCSWINSZ, &bigger);
    kill(getpid(), SIGWINCH);  // what the kernel sends droot-exec, in the foreground of the host terminal
  });
  int status = rig.relay();
  resizer.join();
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 4);
  CHECK(rig.output().find("50 132") != std::string::npos);
}

TEST_CASE("other signals reach the child, and output written just before it exits is drained") {
  RelayRig rig;
  rig.start("trap 'i=0; while [ $i -lt 3000 ]; do echo line-$i; i=$((i+1)); done; exit 5' USR1; echo ready; "
            "while :; do sleep 0.05; done");
  std::thread sender([&rig] {
    if (rig.wait_for("ready"))
      kill(getpid(), SIGUSR1);
    else
      kill(rig.child, SIGKILL);  // the CHECKs below fail instead of the relay waiting for ever
  });
  int status = rig.relay();
  sender.join();
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 5);
  // ~35 kB: more than a pty buffers, so most of it went through while the command ran, and the last lines
  // after it exited.
  std::string out = rig.output();
  CHECK(out.find("line-0\r\n") != std::string::npos);
  CHECK(out.find("line-2999\r\n") != std::string::npos);
}
