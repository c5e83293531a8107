// --rlimit NAME=SOFT[:HARD]: resource limits of the command, set before its credentials change (raising a
// hard limit needs CAP_SYS_RESOURCE, which the command never has).
#pragma once

#include <vector>

#include "run_options.h"

namespace droot::exec {

void apply_rlimits(const std::vector<RlimitSpec>& limits);

}  // namespace droot::exec
