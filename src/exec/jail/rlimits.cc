#include "rlimits.h"

#include <sys/resource.h>

#include "error.h"

namespace droot::exec {

namespace {

std::string value_text(rlim_t v) { return v == RLIM_INFINITY ? "unlimited" : std::to_string(v); }

}  // namespace

void apply_rlimits(const std::vector<RlimitSpec>& limits) {
  for (const auto& l : limits) {
    rlimit r{l.soft, l.hard};
    if (setrlimit(l.resource, &r) == 0) continue;
    int err = errno;
    std::string what = "cannot set --rlimit " + l.name + "=" + value_text(l.soft) + ":" + value_text(l.hard);
    rlimit cur{};
    if (err == EPERM && getrlimit(l.resource, &cur) == 0 && l.hard > cur.rlim_max)
      throw Error(what + ": the hard limit would be raised above droot-exec's own (" + value_text(cur.rlim_max) +
                  "), which needs CAP_SYS_RESOURCE");
    throw_errno(what, err);
  }
}

}  // namespace droot::exec
