#include "error.h"

#include <cstring>

namespace droot {

std::string errno_text(int err) { return std::strerror(err); }

void throw_errno(const std::string& what) { throw_errno(what, errno); }

void throw_errno(const std::string& what, int err) { throw Error(what + ": " + errno_text(err)); }

}  // namespace droot
