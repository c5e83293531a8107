// The rules of --seccomp default, as libseccomp sees them. Only the build uses this file: the generator
// (seccomp_bpf_gen.cc) compiles the rules into the BPF program that droot-exec embeds, so that a run does
// not pay for libseccomp resolving ~60 names and generating the same program again (~2 ms of each start-up)
// and droot-exec does not load libseccomp at all. The unit test rebuilds the program and compares.
//
// A deny-list of system calls that a service has no business making, each failing with EPERM (what
// docker's profile answers) instead of killing the process, so a program that merely probes for a feature
// keeps running. chroot is not on it: after pivot_root and the detach there is no way out through it, and
// sshd or bind use it legitimately (with --cap-add SYS_CHROOT).
//
// The list (seccomp_denied_syscalls(), documented in docs/run.md):
//   kernel and system: kexec_load, kexec_file_load, init_module, finit_module, delete_module, reboot, swapon,
//     swapoff, acct, iopl, ioperm, syslog, settimeofday, clock_settime, clock_adjtime, adjtimex, quotactl,
//     nfsservctl, lookup_dcookie, uselib, _sysctl…
//   the jail itself: mount, umount2, pivot_root, move_mount, open_tree, fsopen, fsconfig, fsmount,
//     fspick, mount_setattr, unshare, setns, clone/clone3 with namespace flags
//   other processes: ptrace, process_vm_readv, process_vm_writev, kcmp, pidfd_getfd
//   kernel attack surface: keyctl, add_key, request_key, bpf, perf_event_open, userfaultfd, io_uring_setup,
//     io_uring_enter, io_uring_register
//   the host's files: open_by_handle_at, name_to_handle_at (CVE "shocker": DAC_READ_SEARCH is kept)
//   terminal input: ioctl TIOCSTI and TIOCLINUX (CVE-2017-5226), the request's low 32 bits compared
#pragma once

#include <linux/filter.h>

#include <cstdint>

#include <string>
#include <vector>

namespace droot::exec {

// The names denied unconditionally (clone's namespace flags are filtered on top of these).
const std::vector<std::string>& seccomp_denied_syscalls();
// The ioctl requests denied (TIOCSTI, TIOCLINUX).
const std::vector<uint64_t>& seccomp_denied_ioctls();

// The default profile compiled to classic BPF for the native ABI and, on x86-64, for the i386 and x32 ABIs
// too: a deny-list that only covered the 64-bit numbers could be walked around with `int 0x80`.
std::vector<sock_filter> build_default_seccomp_program();

}  // namespace droot::exec
