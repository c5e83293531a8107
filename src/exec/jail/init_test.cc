#include "init.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fd.h"

using namespace droot::exec;

namespace {

int wait_for(pid_t pid) {
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  return status;
}

}  // namespace

TEST_CASE("a spawned command's exit status and its exec reach the parent") {
  pid_t pid = spawn_command([] { _exit(7); });
  REQUIRE(pid > 0);
  CHECK(exit_code_of(wait_for(pid)) == 7);

  pid = spawn_command([] {
    char arg0[] = "sh", arg1[] = "-c", arg2[] = "exit 3";
    char* argv[] = {arg0, arg1, arg2, nullptr};
    execv("/bin/sh", argv);
    _exit(99);
  });
  REQUIRE(pid > 0);
  CHECK(exit_code_of(wait_for(pid)) == 3);
}

TEST_CASE("what the command's process changes before exec stays its own") {
  // The jail's child drops credentials, capabilities and signal handlers, and closes descriptors, in memory it
  // shares with PID 1: none of it may reach PID 1, which still has to relay signals and reap.
  int fds[2];
  REQUIRE(pipe2(fds, O_CLOEXEC) == 0);
  droot::UniqueFd read_end(fds[0]), write_end(fds[1]);
  struct sigaction before {};
  REQUIRE(sigaction(SIGUSR1, nullptr, &before) == 0);
  rlimit nofile_before{};
  REQUIRE(getrlimit(RLIMIT_NOFILE, &nofile_before) == 0);
  mode_t umask_before = umask(022);
  umask(umask_before);

  int raw_write_end = write_end.get();
  pid_t pid = spawn_command([raw_write_end] {
    signal(SIGUSR1, SIG_IGN);
    close(raw_write_end);
    rlimit low{64, 64};
    setrlimit(RLIMIT_NOFILE, &low);
    umask(077);
    _exit(0);
  });
  REQUIRE(pid > 0);
  CHECK(exit_code_of(wait_for(pid)) == 0);

  struct sigaction after {};
  REQUIRE(sigaction(SIGUSR1, nullptr, &after) == 0);
  bool same_disposition = after.sa_handler == before.sa_handler;
  CHECK(same_disposition);
  CHECK(fcntl(write_end.get(), F_GETFD) >= 0);  // still open here
  CHECK(write(write_end.get(), "x", 1) == 1);
  rlimit nofile_after{};
  REQUIRE(getrlimit(RLIMIT_NOFILE, &nofile_after) == 0);
  CHECK(nofile_after.rlim_cur == nofile_before.rlim_cur);
  mode_t umask_after = umask(umask_before);
  CHECK(umask_after == umask_before);
}

TEST_CASE("the parent resumes only once the command has exec'd or exited") {
  // What PID 1 does next (relay signals, reap) must never run beside the child in the same memory.
  int marker = 0;
  pid_t pid = spawn_command([&marker] {
    usleep(50 * 1000);
    marker = 1;  // shared memory in the default build, a copy in ASan builds (which fork)
    _exit(0);
  });
  REQUIRE(pid > 0);
#if defined(__SANITIZE_ADDRESS__)
  CHECK(marker == 0);  // ASan builds fork: the child wrote to its own copy
#else
  CHECK(marker == 1);  // written 50 ms after the child started, and seen: the parent waited for it
#endif
  CHECK(exit_code_of(wait_for(pid)) == 0);
}
