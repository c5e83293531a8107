// The names in a directory (without "." and ".."), read in full and sorted, with the stream closed again:
// callers may then unlink or recurse without readdir walking a directory that changes under it, and a
// recursion holds one fd per level only.
#pragma once

#include <string>
#include <vector>

namespace droot::exec {

// `dir_fd` is not consumed; `what` names the directory in errors.
std::vector<std::string> dir_names(int dir_fd, const std::string& what);

}  // namespace droot::exec
