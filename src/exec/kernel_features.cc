#include "kernel_features.h"

#include <errno.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "error.h"

namespace droot::exec {

namespace {

// Each probe passes arguments the kernel rejects before doing anything (a NULL or too-small struct, fd -1),
// so it answers EINVAL/EFAULT/EBADF where the call exists and ENOSYS where it does not.
long probe_openat2() { return syscall(SYS_openat2, -1, nullptr, nullptr, 0); }
long probe_fsopen() { return syscall(SYS_fsopen, nullptr, 0); }
long probe_open_tree() { return syscall(SYS_open_tree, -1, nullptr, ~0u); }
long probe_move_mount() { return syscall(SYS_move_mount, -1, nullptr, -1, nullptr, ~0u); }
long probe_mount_setattr() { return syscall(SYS_mount_setattr, -1, nullptr, 0, nullptr, 0); }

}  // namespace

const std::vector<KernelInterface>& interfaces_for_deploy() {
  static const std::vector<KernelInterface> list = {{"openat2", "5.6", probe_openat2}};
  return list;
}

const std::vector<KernelInterface>& interfaces_for_run() {
  static const std::vector<KernelInterface> list = {{"openat2", "5.6", probe_openat2},
                                                    {"fsopen", "5.2", probe_fsopen},
                                                    {"open_tree", "5.2", probe_open_tree},
                                                    {"move_mount", "5.2", probe_move_mount},
                                                    {"mount_setattr", "5.12", probe_mount_setattr}};
  return list;
}

std::string missing_interfaces_message(const std::string& command, const std::vector<KernelInterface>& interfaces,
                                       const std::vector<int>& errors, const std::string& release) {
  std::string missing, blocked, oldest;
  auto newer = [](const std::string& a, const std::string& b) {  // "5.12" > "5.6"
    auto major = [](const std::string& v) { return std::stoi(v.substr(0, v.find('.'))); };
    auto minor = [](const std::string& v) { return std::stoi(v.substr(v.find('.') + 1)); };
    return major(a) != major(b) ? major(a) > major(b) : minor(a) > minor(b);
  };
  for (const auto& i : interfaces) oldest = oldest.empty() || newer(i.since, oldest) ? i.since : oldest;
  for (size_t n = 0; n < interfaces.size() && n < errors.size(); ++n) {
    std::string item = std::string(interfaces[n].name) + " (Linux " + interfaces[n].since + ")";
    if (errors[n] == ENOSYS) missing += (missing.empty() ? "" : ", ") + item;
    if (errors[n] == EPERM) blocked += (blocked.empty() ? "" : ", ") + item;
  }
  if (!missing.empty())
    return command + " needs Linux " + oldest + " or newer, and this kernel (" + release + ") lacks " + missing +
           "; upgrade the kernel (Debian 12's 6.1, Ubuntu 22.04's 5.15 and RHEL 9's 5.14 all work)";
  if (!blocked.empty())
    return command + ": the kernel (" + release + ") refuses " + blocked +
           " with EPERM: run droot-exec as root, on the host (a seccomp filter around it, as in a container, blocks these calls)";
  return {};
}

void require_kernel(const std::string& command, const std::vector<KernelInterface>& interfaces) {
  std::vector<int> errors;
  for (const auto& i : interfaces) errors.push_back(i.probe() < 0 ? errno : 0);
  utsname u {};
  uname(&u);
  std::string message = missing_interfaces_message(command, interfaces, errors, std::string("uname -r: ") + u.release);
  if (!message.empty()) throw Error(message);
}

}  // namespace droot::exec
