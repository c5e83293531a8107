// --seccomp default: the deny-list of seccomp_profile.h, compiled to BPF when droot-exec was built. It is
// loaded last, right before execve, after the jail's own mounts are done; with no_new_privs set, no
// privilege is needed to load it.
#pragma once

#include <linux/filter.h>

#include <span>

namespace droot::exec {

// The program embedded at build time.
std::span<const sock_filter> default_seccomp_program();

// Installs it on the calling thread (the jail's command is single-threaded at that point).
void load_seccomp_filter();

}  // namespace droot::exec
