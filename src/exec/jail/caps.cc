#include "caps.h"

#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>

#include "error.h"

namespace droot::exec {

namespace {

// Indexed by capability number (linux/capability.h).
constexpr std::array<const char*, 41> kCapNames = {
    "CHOWN",        "DAC_OVERRIDE",     "DAC_READ_SEARCH", "FOWNER",          "FSETID",         "KILL",
    "SETGID",       "SETUID",           "SETPCAP",         "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST",
    "NET_ADMIN",    "NET_RAW",          "IPC_LOCK",        "IPC_OWNER",       "SYS_MODULE",     "SYS_RAWIO",
    "SYS_CHROOT",   "SYS_PTRACE",       "SYS_PACCT",       "SYS_ADMIN",       "SYS_BOOT",       "SYS_NICE",
    "SYS_RESOURCE", "SYS_TIME",         "SYS_TTY_CONFIG",  "MKNOD",           "LEASE",          "AUDIT_WRITE",
    "AUDIT_CONTROL", "SETFCAP",         "MAC_OVERRIDE",    "MAC_ADMIN",       "SYSLOG",         "WAKE_ALARM",
    "BLOCK_SUSPEND", "AUDIT_READ",      "PERFMON",         "BPF",             "CHECKPOINT_RESTORE"};

// ALL → every bit; a name → its bit. Throws on an unknown name.
CapMask parse_list(const std::vector<std::string>& names, const char* flag) {
  CapMask mask = 0;
  for (const auto& n : names) {
    std::string upper = n;
    std::transform(upper.begin(), upper.end(), upper.begin(), [](unsigned char c) { return std::toupper(c); });
    if (upper == "ALL") {
      mask = ~CapMask{0};
      continue;
    }
    auto cap = cap_from_name(n);
    if (!cap)
      throw Error(std::string("run: ") + flag + " " + n +
                  ": unknown capability (names as in capabilities(7), with or without CAP_, e.g. NET_BIND_SERVICE)");
    mask |= cap_bit(*cap);
  }
  return mask;
}

void capset_raw(CapMask permitted, CapMask effective, CapMask inheritable) {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  for (int i = 0; i < 2; ++i) {
    data[i].permitted = static_cast<uint32_t>(permitted >> (32 * i));
    data[i].effective = static_cast<uint32_t>(effective >> (32 * i));
    data[i].inheritable = static_cast<uint32_t>(inheritable >> (32 * i));
  }
  if (syscall(SYS_capset, &header, data) < 0) throw_errno("cannot set the command's capabilities (capset)");
}

}  // namespace

CapMask default_cap_keep() {
  return cap_bit(CAP_CHOWN) | cap_bit(CAP_DAC_OVERRIDE) | cap_bit(CAP_DAC_READ_SEARCH) | cap_bit(CAP_FOWNER) |
         cap_bit(CAP_SETGID) | cap_bit(CAP_SETUID) | cap_bit(CAP_NET_BIND_SERVICE);
}

std::optional<int> cap_from_name(const std::string& name) {
  std::string upper = name;
  std::transform(upper.begin(), upper.end(), upper.begin(), [](unsigned char c) { return std::toupper(c); });
  if (upper.rfind("CAP_", 0) == 0) upper = upper.substr(4);
  for (size_t i = 0; i < kCapNames.size(); ++i)
    if (upper == kCapNames[i]) return static_cast<int>(i);
  return std::nullopt;
}

std::string cap_name(int cap) {
  if (cap >= 0 && static_cast<size_t>(cap) < kCapNames.size()) return kCapNames[cap];
  return "cap" + std::to_string(cap);
}

int kernel_last_cap() {
  // PR_CAPBSET_READ answers EINVAL past the last capability; no need for /proc, which may not be mounted yet.
  // Probed once per process (the kernel's answer cannot change; forked children inherit it).
  static const int last = [] {
    int known = 0, past = 64;  // CAP_CHOWN (0) exists everywhere; capability numbers stop below 64
    while (past - known > 1) {
      int mid = (known + past) / 2;
      (prctl(PR_CAPBSET_READ, mid, 0, 0, 0) >= 0 ? known : past) = mid;
    }
    return known;
  }();
  return last;
}

CapMask own_bounding_set() {
  CapMask mask = 0;
  int last = kernel_last_cap();
  for (int cap = 0; cap <= last; ++cap)
    if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) > 0) mask |= cap_bit(cap);
  return mask;
}

CapState plan_caps(const std::vector<std::string>& add, const std::vector<std::string>& drop, bool root_user,
                   CapMask available) {
  CapMask dropped = parse_list(drop, "--cap-drop");
  CapMask added = parse_list(add, "--cap-add");
  // A capability droot-exec does not hold itself cannot be handed on: refuse it by name, but let ALL mean
  // "all that there are" (a host or a container may lack some, e.g. SYS_RESOURCE).
  bool all = added == ~CapMask{0};
  if (all) added = available;
  for (int cap = 0; cap < 64; ++cap)
    if ((added & cap_bit(cap)) && !(available & cap_bit(cap)))
      throw Error("run: --cap-add " + cap_name(cap) + ": droot-exec does not have this capability itself " +
                  "(not in its bounding set, or unknown to this kernel), so it cannot give it to the command");
  CapState s;
  s.bounding = ((default_cap_keep() & available) & ~dropped) | added;
  if (root_user)
    s.permitted = s.effective = s.bounding;
  else  // ambient needs the capability in permitted and inheritable as well
    s.permitted = s.effective = s.inheritable = s.ambient = added;
  return s;
}

void drop_bounding_and_prepare(const CapState& caps, bool changing_uid) {
  int last = kernel_last_cap();
  for (int cap = 0; cap <= last; ++cap) {
    if (caps.bounding & cap_bit(cap)) continue;
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0)
      throw_errno("cannot drop " + cap_name(cap) + " from the bounding set");
  }
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0) throw_errno("cannot clear the ambient capabilities");
  // setresuid away from 0 empties the permitted set unless keep-caps is on; it is needed only when an
  // ambient capability must survive the switch.
  if (changing_uid && caps.permitted != 0 && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
    throw_errno("cannot keep capabilities across the uid change");
}

void apply_caps(const CapState& caps) {
  capset_raw(caps.permitted, caps.effective, caps.inheritable);
  if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0) throw_errno("cannot reset keep-caps");
  for (int cap = 0; cap < 64; ++cap)
    if ((caps.ambient & cap_bit(cap)) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0)
      throw_errno("cannot raise " + cap_name(cap) + " as an ambient capability");
}

std::string cap_meaningless_in_userns(int cap, bool own_net) {
  switch (cap) {
    case CAP_SYS_MODULE: case CAP_SYS_RAWIO: case CAP_SYS_TIME: case CAP_SYS_BOOT: case CAP_MKNOD:
    case CAP_LINUX_IMMUTABLE: case CAP_SYS_PACCT: case CAP_IPC_LOCK: case CAP_SYS_NICE: case CAP_SYS_RESOURCE:
    case CAP_AUDIT_CONTROL: case CAP_AUDIT_READ: case CAP_AUDIT_WRITE: case CAP_MAC_ADMIN: case CAP_MAC_OVERRIDE:
    case CAP_SYSLOG: case CAP_WAKE_ALARM: case CAP_BLOCK_SUSPEND: case CAP_SYS_TTY_CONFIG: case CAP_LEASE:
    case CAP_BPF: case CAP_PERFMON:
      return "the kernel checks " + cap_name(cap) + " against the host's user namespace only, so inside the jail's "
             "it grants nothing";
    case CAP_NET_ADMIN: case CAP_NET_RAW: case CAP_NET_BROADCAST:
      if (own_net) return "";
      return "with --net host the network namespace is the host's, which the jail's user namespace does not own, "
             "so " + cap_name(cap) + " grants nothing there; --net none gives the jail a network namespace of its own";
    default:
      return "";
  }
}

}  // namespace droot::exec
