#include "seccomp_filter.h"

#include <linux/seccomp.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "error.h"
#include "seccomp_default_bpf.h"

namespace droot::exec {

std::span<const sock_filter> default_seccomp_program() { return kDefaultSeccompProgram; }

void load_seccomp_filter() {
  auto program = default_seccomp_program();
  sock_fprog prog{static_cast<unsigned short>(program.size()), const_cast<sock_filter*>(program.data())};
  // glibc has no wrapper for seccomp(2). Without no_new_privs (set by the caller) the kernel would demand
  // CAP_SYS_ADMIN, which the command no longer has.
  if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0) throw_errno("cannot load the seccomp filter");
}

}  // namespace droot::exec
