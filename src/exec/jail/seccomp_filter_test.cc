#include "seccomp_filter.h"

#include <doctest/doctest.h>
#include <linux/keyctl.h>
#include <linux/seccomp.h>
#include <sched.h>
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
