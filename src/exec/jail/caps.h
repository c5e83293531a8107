// Capabilities of the jailed command: the keep-list yuuki/droot used (and docker's short list), every other
// capability removed from all five sets. The raw capget/capset/prctl syscalls are enough; no libcap.
//
// Decision for a non-root --user (docker's behaviour, made explicit): it gets no capabilities from the
// keep-list — the bounding set still holds the keep-list, but permitted, effective, inheritable and ambient are
// empty, and no_new_privs stops setuid and file-capability binaries from filling them. A capability named
// with --cap-add, though, is what the operator asked for that user, so it is raised as an *ambient*
// capability: `--user app --cap-add NET_BIND_SERVICE` lets a non-root server bind port 80, and nothing else.
// Inheritable stays empty for root too: an inheritable set combined with file-inheritable bits is how
// CVE-2022-24769 handed capabilities to non-root processes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace droot::exec {

using CapMask = uint64_t;
constexpr CapMask cap_bit(int cap) { return CapMask{1} << cap; }

// CHOWN, DAC_OVERRIDE, DAC_READ_SEARCH, FOWNER, SETGID, SETUID, NET_BIND_SERVICE.
CapMask default_cap_keep();
// "NET_BIND_SERVICE", "net_bind_service" and "CAP_NET_BIND_SERVICE" are the same; nullopt if unknown.
std::optional<int> cap_from_name(const std::string& name);
std::string cap_name(int cap);
// The highest capability number of the running kernel.
int kernel_last_cap();
// The capabilities droot-exec itself may hold (its bounding set): all it can pass on.
CapMask own_bounding_set();

struct CapState {
  CapMask bounding = 0;
  CapMask permitted = 0;
  CapMask effective = 0;
  CapMask inheritable = 0;
  CapMask ambient = 0;
};

// The five sets for the command, from the keep-list changed by --cap-drop (CAP or ALL, applied first) and
// --cap-add (CAP or ALL), for a root or a non-root user; `available` is what droot-exec can give
// (own_bounding_set()). Throws Error on an unknown name or one droot-exec does not have.
CapState plan_caps(const std::vector<std::string>& add, const std::vector<std::string>& drop, bool root_user,
                   CapMask available);

// `run --userns`: why --cap-add of `cap` would give the jail nothing, or "" if it means something there. The
// kernel checks most capabilities against the user namespace that owns the object (ns_capable): the jail's
// files, its own UTS/IPC namespaces, its own network namespace with --net none (`own_net`). Some it checks
// only against the host's (capable(): loading modules, raw I/O, the clock, reboot, device nodes, mlock
// beyond the rlimit, the audit and MAC subsystems, BPF, perf), and with --net host the network namespace is
// the host's too (NET_ADMIN, NET_RAW, NET_BROADCAST; not NET_BIND_SERVICE, which is on the keep-list itself).
// Asking for those is a mistake worth an error, not a silent no-op.
std::string cap_meaningless_in_userns(int cap, bool own_net);

// Step 1, while still fully privileged (PR_CAPBSET_DROP needs CAP_SETPCAP): shrink the bounding set, clear
// ambient, and ask the kernel to keep the permitted set across the uid change if it will be needed.
void drop_bounding_and_prepare(const CapState& caps, bool changing_uid);
// Step 2, after setresuid: set permitted/effective/inheritable, then raise ambient.
void apply_caps(const CapState& caps);

}  // namespace droot::exec
