#include "user_namespace.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <linux/capability.h>
#include <sys/fsuid.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>

#include "error.h"
#include "io.h"
#include "raw_syscall.h"

namespace droot::exec {

namespace {

std::string unshare_error(int err) {
  std::string max = "?";
  try {
    max = read_file("/proc/sys/user/max_user_namespaces", 64);
    while (!max.empty() && max.back() == '\n') max.pop_back();
  } catch (const Error&) {
  }
  if (err == ENOSPC)
    return "the kernel's limit of user namespaces is reached (user.max_user_namespaces = " + max +
           (max == "0" ? ": user namespaces are disabled on this host; sysctl -w user.max_user_namespaces=15000 "
                         "enables them" : "") + ")";
  if (err == EPERM)
    return "not permitted (a seccomp filter or LSM around droot-exec — a container's — forbids user namespaces)";
  if (err == EINVAL) return "this kernel has no user namespaces (CONFIG_USER_NS)";
  return errno_text(err);
}

void write_map(pid_t pid, const char* file, const IdRange& range) {
  const std::string path = "/proc/" + std::to_string(pid) + "/" + file;
  const std::string line = "0 " + std::to_string(range.base) + " " + std::to_string(range.count) + "\n";
  UniqueFd fd(open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) throw_errno("cannot open " + path);
  // One write, as the kernel requires: the map is set once and for all by the first write.
  if (write(fd.get(), line.data(), line.size()) != static_cast<ssize_t>(line.size()))
    throw_errno("cannot write the jail's " + std::string(file) + " (" + line.substr(0, line.size() - 1) + ")");
}

// The process that holds the new namespace while droot-exec maps and opens it: it waits for the pipe's write
// end to close — droot-exec closes it when done, or dies — and exits. Raw syscalls only (raw_syscall.h).
int hold_namespace(void* arg) {
  const auto fds = reinterpret_cast<uintptr_t>(arg);
  const long done_r = static_cast<long>(fds & 0xffffffffu), done_w = static_cast<long>(fds >> 32);
  // If droot-exec dies first, its copy of the write end closes with it and the read below ends too.
  raw_syscall(SYS_close, done_w, 0, 0);  // or the read never sees EOF
  char byte;
  while (raw_syscall(SYS_read, done_r, reinterpret_cast<long>(&byte), 1) == -EINTR) {
  }
  return 0;
}

}  // namespace

UserNamespace& UserNamespace::operator=(UserNamespace&& o) noexcept {
  if (this != &o) {
    reap();
    fd_ = std::move(o.fd_);
    holder_ = o.holder_;
    o.holder_ = -1;
  }
  return *this;
}

void UserNamespace::reap() noexcept {
  if (holder_ <= 0) return;
  while (waitpid(holder_, nullptr, 0) < 0 && errno == EINTR) {
  }
  holder_ = -1;
}

UserNamespace make_user_namespace(const IdRange& range) {
  int done[2];
  if (pipe2(done, O_CLOEXEC) < 0) throw_errno("cannot create a pipe");
  UniqueFd done_r(done[0]), done_w(done[1]);
  const auto fds = static_cast<uintptr_t>(static_cast<unsigned>(done[0])) |
                   (static_cast<uintptr_t>(static_cast<unsigned>(done[1])) << 32);
  // The process is made in the new namespace (clone's CLONE_NEWUSER: no unshare, and clone's errno is the
  // answer), sharing droot-exec's memory (CLONE_VM: no page tables copied, as a fork would, for a process that
  // only waits) on a stack of its own. droot-exec needs no word from it: /proc/PID/uid_map can be written as
  // soon as clone returns, whether or not the process has run yet.
  std::fflush(nullptr);
  pid_t pid;
  if (kShareMemory) {
    // Static: run_jail makes one namespace, and the process may run on it until reap().
    alignas(64) static char stack[16 * 1024];
    pid = clone(hold_namespace, stack + sizeof stack, CLONE_VM | CLONE_NEWUSER | SIGCHLD, reinterpret_cast<void*>(fds));
  } else {
    // A fork's copy (raw_syscall.h): clone's syscall with a null stack returns in both processes, here.
    pid = static_cast<pid_t>(syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0));
    if (pid == 0) _exit(hold_namespace(reinterpret_cast<void*>(fds)));
  }
  if (pid < 0) throw Error("cannot create the jail's user namespace (--userns): " + unshare_error(errno));
  done_r.reset();
  auto reap = [&] {
    done_w.reset();
    while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
  };
  try {
    write_map(pid, "uid_map", range);
    write_map(pid, "gid_map", range);
    const std::string ns = "/proc/" + std::to_string(pid) + "/ns/user";
    UniqueFd fd(open(ns.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) throw_errno("cannot open " + ns);
    done_w.reset();  // the holder exits now; the namespace lives on `fd`
    return UserNamespace(std::move(fd), pid);
  } catch (...) {
    reap();
    throw;
  }
}

void act_as_jail_root(uint32_t host_id) {
  // setfs[ug]id report nothing but the previous value: ask again to see whether it took.
  setfsgid(host_id);
  if (static_cast<uint32_t>(setfsgid(static_cast<gid_t>(-1))) != host_id) throw Error("cannot set the fsgid to the jail's root");
  setfsuid(host_id);
  if (static_cast<uint32_t>(setfsuid(static_cast<uid_t>(-1))) != host_id) throw Error("cannot set the fsuid to the jail's root");
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2]{};
  if (syscall(SYS_capget, &header, data) < 0) throw_errno("cannot read droot-exec's capabilities");
  for (auto& d : data) d.effective = d.permitted;
  if (syscall(SYS_capset, &header, data) < 0) throw_errno("cannot raise droot-exec's capabilities again");
}

void enter_user_namespace(int userns_fd) {
  if (setns(userns_fd, CLONE_NEWUSER) < 0) throw_errno("cannot enter the jail's user namespace");
}

}  // namespace droot::exec
