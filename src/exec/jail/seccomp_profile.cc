#include "seccomp_profile.h"

#include <seccomp.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <memory>

#include "error.h"
#include "fd.h"

namespace droot::exec {

namespace {

struct FilterDeleter {
  void operator()(scmp_filter_ctx ctx) const { seccomp_release(ctx); }
};
using Filter = std::unique_ptr<void, FilterDeleter>;

void check(int rc, const std::string& what) {
  if (rc < 0) throw_errno("cannot build the seccomp filter: " + what, -rc);
}

constexpr uint64_t kNamespaceFlags = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID |
                                     CLONE_NEWNET | CLONE_NEWCGROUP | CLONE_NEWTIME;

Filter build_default_filter() {
  Filter ctx(seccomp_init(SCMP_ACT_ALLOW));
  if (!ctx) throw Error("cannot build the seccomp filter: seccomp_init failed");
  // droot-exec sets no_new_privs itself, earlier; the embedded program must not depend on libseccomp doing it.
  check(seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_NNP, 0), "no_new_privs attribute");
  // A binary search over the syscall numbers instead of one comparison per denied call in a row. Loading the
  // filter costs the kernel a run of it for every syscall number of every ABI (seccomp_cache_prepare, with
  // interrupts off), to find the calls it lets through unconditionally and may then skip: with the row, ~70
  // comparisons each before "allow"; with the tree, ~8. The program allows and denies exactly the same.
  check(seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_OPTIMIZE, 2), "binary-tree optimization");
#if defined(__x86_64__)
  for (uint32_t arch : {SCMP_ARCH_X86, SCMP_ARCH_X32}) {
    int rc = seccomp_arch_add(ctx.get(), arch);
    if (rc < 0 && rc != -EEXIST) check(rc, "adding a compat ABI");
  }
#endif
  const auto deny = SCMP_ACT_ERRNO(EPERM);
  for (const auto& name : seccomp_denied_syscalls()) {
    int nr = seccomp_syscall_resolve_name(name.c_str());
    if (nr == __NR_SCMP_ERROR) continue;  // not a system call on this architecture
    int rc = seccomp_rule_add(ctx.get(), deny, nr, 0);
    // libseccomp refuses a rule for a call that exists on none of the ABIs in the filter; nothing to deny.
    if (rc < 0 && rc != -EDOM && rc != -EFAULT) check(rc, name);
  }
  // clone with any CLONE_NEW* flag would make namespaces (a user namespace gives back every capability inside
  // it). clone3 passes its flags in memory that seccomp cannot read: ENOSYS makes glibc fall back to clone.
  for (uint64_t flag = 1; flag; flag <<= 1)
    if (kNamespaceFlags & flag)
      check(seccomp_rule_add(ctx.get(), deny, SCMP_SYS(clone), 1, SCMP_A0(SCMP_CMP_MASKED_EQ, flag, flag)), "clone");
  check(seccomp_rule_add(ctx.get(), SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0), "clone3");
  // Typing into a terminal from inside: TIOCSTI pushes a byte into its input queue as if typed, TIOCLINUX's
  // selection paste does the same on a virtual console. A jail holding the host's terminal could make the
  // host's shell run commands after droot-exec exits (bubblewrap's CVE-2017-5226; docker's and flatpak's
  // profiles deny these too). The kernel takes the request as an unsigned int and ignores the register's
  // upper half, so only the low 32 bits are compared: (1 << 32) | TIOCSTI must not pass.
  for (uint64_t request : seccomp_denied_ioctls())
    check(seccomp_rule_add(ctx.get(), deny, SCMP_SYS(ioctl), 1, SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffULL, request)),
          "ioctl");
  return ctx;
}

}  // namespace

const std::vector<std::string>& seccomp_denied_syscalls() {
  static const std::vector<std::string> names = {
      // loading code into, or replacing, the kernel
      "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module", "create_module",
      "query_module", "get_kernel_syms",
      // the machine as a whole
      "reboot", "swapon", "swapoff", "acct", "iopl", "ioperm", "syslog", "settimeofday", "clock_settime",
      "clock_adjtime", "adjtimex", "stime", "quotactl", "quotactl_fd", "nfsservctl", "lookup_dcookie", "uselib",
      "_sysctl", "sysfs", "ustat", "vm86", "vm86old",
      // re-shaping the jail: its mounts were made before this filter and stay as they are
      "mount", "umount", "umount2", "pivot_root", "move_mount", "open_tree", "fsopen", "fsconfig",
      "fsmount", "fspick", "mount_setattr", "unshare", "setns",
      // other processes' memory
      "ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd",
      // large kernel attack surface a service does not need
      "keyctl", "add_key", "request_key", "bpf", "perf_event_open", "userfaultfd", "io_uring_setup",
      "io_uring_enter", "io_uring_register",
      // files by handle, past every mount and chroot (docker's "shocker")
      "open_by_handle_at", "name_to_handle_at"};
  return names;
}

const std::vector<uint64_t>& seccomp_denied_ioctls() {
  static const std::vector<uint64_t> requests = {TIOCSTI, TIOCLINUX};
  return requests;
}

std::vector<sock_filter> build_default_seccomp_program() {
  Filter ctx = build_default_filter();
  // libseccomp 2.5 exports only to a file descriptor.
  UniqueFd out(memfd_create("droot-seccomp", MFD_CLOEXEC));
  if (!out) throw_errno("cannot create a memfd for the seccomp program");
  check(seccomp_export_bpf(ctx.get(), out.get()), "exporting it");
  off_t size = lseek(out.get(), 0, SEEK_END);
  if (size < 0 || size % sizeof(sock_filter) != 0) throw Error("cannot build the seccomp filter: odd program size");
  std::vector<sock_filter> program(size / sizeof(sock_filter));
  if (pread(out.get(), program.data(), size, 0) != size) throw_errno("cannot read the seccomp program back");
  return program;
}

}  // namespace droot::exec
