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
#include <cstdio>

#include "error.h"
#include "io.h"

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
  int ready[2], done[2];
  if (pipe2(ready, O_CLOEXEC) < 0) throw_errno("cannot create a pipe");
  UniqueFd ready_r(ready[0]), ready_w(ready[1]);
  if (pipe2(done, O_CLOEXEC) < 0) throw_errno("cannot create a pipe");
  UniqueFd done_r(done[0]), done_w(done[1]);
  std::fflush(nullptr);
  pid_t pid = fork();
  if (pid < 0) throw_errno("cannot fork to create the jail's user namespace");
  if (pid == 0) {
    // The child only holds the namespace while droot-exec maps it and opens it; it sends unshare's errno (0
    // on success) and waits for the pipe to close.
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    ready_r.reset();
    done_w.reset();  // or the read below never sees EOF
    int err = unshare(CLONE_NEWUSER) == 0 ? 0 : errno;
    if (write(ready_w.get(), &err, sizeof err) != sizeof err) _exit(1);
    char byte;
    while (read(done_r.get(), &byte, 1) < 0 && errno == EINTR) {
    }
    _exit(0);
  }
  ready_w.reset();
  done_r.reset();
  auto reap = [&] {
    done_w.reset();
    while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
  };
  try {
    int err = 0;
    ssize_t n;
    while ((n = read(ready_r.get(), &err, sizeof err)) < 0 && errno == EINTR) {
    }
    if (n != sizeof err) throw Error("cannot create the jail's user namespace: the helper process died");
    if (err != 0) throw Error("cannot create the jail's user namespace (--userns): " + unshare_error(err));
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
