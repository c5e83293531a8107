#include "seccomp_filter.h"

#include <doctest/doctest.h>
#include <linux/keyctl.h>
#include <pty.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>

#include "seccomp_profile.h"

using namespace droot::exec;

TEST_CASE("the embedded program is what libseccomp builds from the profile now") {
  auto embedded = default_seccomp_program();
  auto fresh = build_default_seccomp_program();
  REQUIRE(embedded.size() == fresh.size());
  CHECK(std::memcmp(embedded.data(), fresh.data(), fresh.size() * sizeof(sock_filter)) == 0);
  // It opens by loading the ABI of the call: every rule is per architecture.
  REQUIRE(!embedded.empty());
  CHECK(embedded[0].code == (BPF_LD | BPF_W | BPF_ABS));
  CHECK(embedded[0].k == offsetof(seccomp_data, arch));
}

namespace {

// Runs body in a child that loads the filter first; the child's exit status is body's answer.
int in_filtered_child(int (*body)()) {
  pid_t pid = fork();
  if (pid == 0) {
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) _exit(100);
    try {
      load_seccomp_filter();
    } catch (...) {
      _exit(101);
    }
    _exit(body());
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 200 + WTERMSIG(status);
}

int errno_of(long rc) { return rc < 0 ? errno : 0; }

}  // namespace

TEST_CASE("the loaded filter denies the list with EPERM, clone3 with ENOSYS, and lets the rest through") {
  CHECK(in_filtered_child([] { return errno_of(syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_PROCESS_KEYRING, 1)); }) == EPERM);
  CHECK(in_filtered_child([] { return errno_of(unshare(CLONE_NEWUSER)); }) == EPERM);
  CHECK(in_filtered_child([] { return errno_of(syscall(SYS_clone3, nullptr, 0)); }) == ENOSYS);
  // x32 numbers (bit 30) go through the same list; without the x32 ABI in the program they would reach the
  // kernel (ENOSYS where x32 is compiled out, the real call where it is not).
  CHECK(in_filtered_child([] { return errno_of(syscall(0x40000000 | SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_PROCESS_KEYRING, 1)); }) == EPERM);
  CHECK(in_filtered_child([] { return getppid() > 0 && errno_of(syscall(SYS_getpid)) == 0 ? 0 : 1; }) == 0);
  // Control: the same calls without the filter.
  CHECK(errno_of(syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_PROCESS_KEYRING, 1)) == 0);
  CHECK(errno_of(syscall(SYS_clone3, nullptr, 0)) != ENOSYS);
}

namespace {

int g_tty = -1;  // the slave of a pty, for the children below (in_filtered_child takes a plain function)

// Makes g_tty the child's controlling terminal first: the kernel itself refuses TIOCSTI on any other terminal
// (without CAP_SYS_ADMIN), and only the filter may be the reason for an EPERM here.
int own_terminal() { return setsid() >= 0 && ioctl(g_tty, TIOCSCTTY, 0) == 0 ? 0 : 150; }
int tiocsti() {
  char c = '#';
  return own_terminal() ? 150 : errno_of(ioctl(g_tty, TIOCSTI, &c));
}
int tiocsti_upper_bits() {
  char c = '#';
  return own_terminal() ? 150 : errno_of(syscall(SYS_ioctl, g_tty, (1UL << 32) | TIOCSTI, &c));
}
int tioclinux() {
  char subcode = 6;  // TIOCL_GETSHIFTSTATE: harmless, and not a virtual console's anyway
  return errno_of(ioctl(g_tty, TIOCLINUX, &subcode));
}
int tiocgwinsz() {
  winsize ws{};
  return errno_of(ioctl(g_tty, TIOCGWINSZ, &ws));
}

int in_unfiltered_child(int (*body)()) {
  pid_t pid = fork();
  if (pid == 0) _exit(body());
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 200 + WTERMSIG(status);
}

}  // namespace

TEST_CASE("the loaded filter denies TIOCSTI and TIOCLINUX, on the request's low 32 bits, and other ioctls pass") {
  int master = -1, slave = -1;
  REQUIRE(openpty(&master, &slave, nullptr, nullptr, nullptr) == 0);
  g_tty = slave;
  CHECK(in_filtered_child(tiocsti) == EPERM);
  // The kernel takes the request as an unsigned int: the upper half of the register is ignored by it, and so
  // must be by the filter.
  CHECK(in_filtered_child(tiocsti_upper_bits) == EPERM);
  CHECK(in_filtered_child(tioclinux) == EPERM);
  CHECK(in_filtered_child(tiocgwinsz) == 0);
  // Control: without the filter the kernel lets a process type into its own terminal, upper bits or not (this
  // machine may forbid TIOCSTI altogether with dev.tty.legacy_tiocsti=0, but root keeps it), and TIOCLINUX on
  // a pty is merely not a virtual console's.
  CHECK(in_unfiltered_child(tiocsti) == 0);
  CHECK(in_unfiltered_child(tiocsti_upper_bits) == 0);
  CHECK(in_unfiltered_child(tioclinux) != EPERM);
  close(master);
  close(slave);
}
