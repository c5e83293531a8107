// What an archive entry gives the node the deploy makes of it besides its content and type.
#pragma once

#include <time.h>

#include <cstdint>

namespace droot::exec {

struct NodeAttrs {
  uint32_t perm = 0;  // permission bits with setuid/setgid/sticky
  uint64_t uid = 0;
  uint64_t gid = 0;
  timespec mtime{};
};

}  // namespace droot::exec
