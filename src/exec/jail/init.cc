#include "init.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <vector>

#include "error.h"

namespace droot::exec {

sigset_t relayed_signals() {
  sigset_t set;
  sigfillset(&set);
  for (int sig : {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP, SIGSYS, SIGABRT, SIGTTIN, SIGTTOU, SIGKILL, SIGSTOP})
    sigdelset(&set, sig);
  return set;
}

void block_relayed_signals() {
  sigset_t set = relayed_signals();
  if (sigprocmask(SIG_BLOCK, &set, nullptr) < 0) throw_errno("cannot block signals");
}

void reset_signals_for_exec() {
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) sigaction(sig, &dfl, nullptr);  // EINVAL for KILL/STOP and glibc's own
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
}

int exit_code_of(int wait_status) {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return 125;
}

int relay_signals_until_exit(pid_t child, bool reap_all) {
  sigset_t waited = relayed_signals();
  for (;;) {
    siginfo_t info{};
    int sig = sigwaitinfo(&waited, &info);
    if (sig < 0) {
      if (errno == EINTR) continue;
      throw_errno("cannot wait for signals");
    }
    if (sig != SIGCHLD) {
      // ESRCH: the child is exiting; its SIGCHLD is on the way.
      kill(child, sig);
      continue;
    }
    // SIGCHLDs coalesce: one may stand for many exits, so reap until nothing is left.
    for (;;) {
      int status = 0;
      pid_t pid = waitpid(reap_all ? -1 : child, &status, WNOHANG);
      if (pid < 0 && errno == EINTR) continue;
      if (pid <= 0) break;
      if (pid == child) return status;
    }
  }
}

namespace {

int command_entry(void* command) {
  (*static_cast<const std::function<void()>*>(command))();
  _exit(125);
}

}  // namespace

#if defined(__SANITIZE_ADDRESS__)
// ASan cannot follow a process running on a stack it did not allocate (false reports at every noreturn call,
// LeakSanitizer aborts): sanitizer builds fork.
pid_t spawn_command(const std::function<void()>& command) {
  pid_t pid = fork();
  if (pid == 0) command_entry(const_cast<std::function<void()>*>(&command));
  return pid;
}
#else
// posix_spawn's technique: the child borrows PID 1's memory instead of copying it, and PID 1 is suspended until
// the child has called execve (or exited). A fork would copy the page tables of droot-exec's whole address space
// only for execve to throw them away — the largest single cost of a start-up. Nothing but droot-exec's own code
// runs in the shared memory (the image's code comes with execve's new address space), and since PID 1 does
// nothing meanwhile, the child may allocate as a continuation of it would. Credentials, capabilities,
// no_new_privs, the seccomp filter, the signal dispositions and the file table are per task (no CLONE_SIGHAND,
// no CLONE_FILES): each change the child makes stays its own.
pid_t spawn_command(const std::function<void()>& command) {
  // Ample for the child's C++ (error messages, PATH search); a guard page below turns an overflow into a
  // fault instead of a write into PID 1's heap.
  constexpr size_t kGuard = 4096, kStack = 256 * 1024;
  void* area = mmap(nullptr, kGuard + kStack, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (area == MAP_FAILED) return -1;
  pid_t pid = -1;
  if (mprotect(area, kGuard, PROT_NONE) == 0) {
    char* stack_top = static_cast<char*>(area) + kGuard + kStack;
    pid = clone(command_entry, stack_top, CLONE_VM | CLONE_VFORK | SIGCHLD, const_cast<std::function<void()>*>(&command));
  }
  // CLONE_VFORK: back here, the child has exec'd into memory of its own or exited; its stack is free.
  int saved = errno;
  munmap(area, kGuard + kStack);
  errno = saved;
  return pid;
}
#endif

void run_init(const std::function<void()>& command) {
  // tini ignores these so that a background read or write to the terminal never stops PID 1.
  signal(SIGTTIN, SIG_IGN);
  signal(SIGTTOU, SIG_IGN);
  pid_t pid = spawn_command(command);
  if (pid < 0) {
    std::fprintf(stderr, "droot-exec: error: cannot fork the command: %s\n", errno_text(errno).c_str());
    _exit(125);
  }
  try {
    _exit(exit_code_of(relay_signals_until_exit(pid, true)));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "droot-exec: error: init: %s\n", e.what());
    kill(pid, SIGKILL);
    _exit(125);
  }
}

void close_fds_above_stderr(bool cloexec_only) {
  if (syscall(SYS_close_range, 3U, ~0U, cloexec_only ? CLOSE_RANGE_CLOEXEC : 0U) == 0) return;
  // Before Linux 5.9 (5.11 for CLOSE_RANGE_CLOEXEC): walk /proc/self/fd.
  std::vector<int> fds;
  if (DIR* dir = opendir("/proc/self/fd")) {
    while (dirent* e = readdir(dir)) {
      int fd = std::atoi(e->d_name);
      if (fd > 2 && fd != dirfd(dir)) fds.push_back(fd);
    }
    closedir(dir);
  } else {
    throw_errno("cannot list the open file descriptors (/proc/self/fd)");
  }
  for (int fd : fds) {
    if (cloexec_only)
      fcntl(fd, F_SETFD, FD_CLOEXEC);
    else
      close(fd);
  }
}

}  // namespace droot::exec
