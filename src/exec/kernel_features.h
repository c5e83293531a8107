// The kernel interfaces droot-exec cannot do without, probed before anything is changed: on an older kernel a
// deploy or a run stops with one error that names every missing interface and the kernel that brought it,
// never with a half-extracted release or a half-built jail.
//
// Oldest kernel supported: Linux 5.12 for `run` (mount_setattr, the last of the mount API it uses), 5.6 for
// `deploy` and `check` (openat2 with RESOLVE_BENEATH). Debian 12 ships 6.1, Ubuntu 22.04 5.15, RHEL 9 5.14.
#pragma once

#include <string>
#include <vector>

namespace droot::exec {

struct KernelInterface {
  const char* name;   // the system call, as a reader of the kernel's changelog knows it
  const char* since;  // "5.12"
  long (*probe)();    // returns -1 with errno (ENOSYS: the kernel lacks it); never changes anything
};

// What each command needs.
const std::vector<KernelInterface>& interfaces_for_run();
const std::vector<KernelInterface>& interfaces_for_deploy();

// The error text for a kernel (`release`, from uname) that answered `errors[i]` to interfaces[i]'s probe, or
// "" when nothing is missing. ENOSYS means missing; EPERM means a seccomp filter around droot-exec (a
// container's) blocks it; any other errno means the call exists (the probes pass invalid arguments).
std::string missing_interfaces_message(const std::string& command, const std::vector<KernelInterface>& interfaces,
                                       const std::vector<int>& errors, const std::string& release);

// Probes `interfaces` and throws Error with missing_interfaces_message() if any is missing.
void require_kernel(const std::string& command, const std::vector<KernelInterface>& interfaces);

}  // namespace droot::exec
