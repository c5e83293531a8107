// Abstract unix sockets of the host, out of the jail's reach. They live in the network namespace, not in the
// filesystem: with `--net host` (the default) a jailed process sees the host's in /proc/net/unix and can
// connect to them, whatever the mount namespace hides (containerd's CVE-2020-15257 was a shim listening on
// one). Landlock's scope LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET (ABI 6, Linux 6.12) makes the kernel refuse a
// connect() to an abstract socket created outside the caller's Landlock domain with EPERM; sockets the jail
// makes itself keep working. On older kernels (Debian 12's 6.1) only `--net none` closes this (README, threat
// model; docs/run.md).
#pragma once

namespace droot::exec {

// The running kernel's Landlock ABI version, 0 without Landlock (not built, or not enabled at boot).
int landlock_abi();

// In the command's process, after no_new_privs, before execve: scopes abstract unix sockets to the jail where
// the kernel can (ABI >= 6); returns whether it did. Throws Error if the kernel offers the scope and refuses
// to apply it.
bool scope_abstract_unix_sockets();

}  // namespace droot::exec
