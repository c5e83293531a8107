#include "landlock.h"

#include <errno.h>
#include <linux/types.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>

#include "error.h"
#include "fd.h"

namespace droot::exec {

namespace {

// Debian 12's kernel headers (6.1) predate the fields and flag used here; the kernel's ABI is stable, so they
// are spelled out (include/uapi/linux/landlock.h of 6.12).
struct RulesetAttr {
  uint64_t handled_access_fs;
  uint64_t handled_access_net;  // ABI 4
  uint64_t scoped;              // ABI 6
};
constexpr unsigned kCreateRulesetVersion = 1U << 0;
constexpr uint64_t kScopeAbstractUnixSocket = 1ULL << 0;
constexpr int kAbiWithScopes = 6;

}  // namespace

int landlock_abi() {
  long abi = syscall(SYS_landlock_create_ruleset, nullptr, 0, kCreateRulesetVersion);
  return abi < 0 ? 0 : static_cast<int>(abi);
}

bool scope_abstract_unix_sockets() {
  if (landlock_abi() < kAbiWithScopes) return false;
  // A ruleset that handles no file system or network access, only the scope: nothing else is restricted.
  RulesetAttr attr{0, 0, kScopeAbstractUnixSocket};
  UniqueFd ruleset(static_cast<int>(syscall(SYS_landlock_create_ruleset, &attr, sizeof attr, 0)));
  if (!ruleset) throw_errno("cannot create the Landlock ruleset that keeps the host's abstract unix sockets out");
  // Needs no_new_privs (set by the caller): the domain then holds for the command and all it starts.
  if (syscall(SYS_landlock_restrict_self, ruleset.get(), 0) < 0)
    throw_errno("cannot keep the host's abstract unix sockets out of the jail (landlock_restrict_self)");
  return true;
}

}  // namespace droot::exec
