// Paths inside a tree that is being built from untrusted input: archive paths are split and checked before
// they touch the filesystem, and every lookup is done by the kernel with openat2(2) so that no symlink (one
// extracted a moment ago, or one planted by someone else) and no ".." can lead a write out of the tree.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "error.h"
#include "fd.h"

namespace droot::exec {

// "./usr//bin/sh" → {"usr", "bin", "sh"}; "." and "./" → {} (the root itself). Throws Error (without the
// entry's name; the caller adds it) for an empty or absolute path or a ".." component.
std::vector<std::string> split_entry_path(std::string_view raw);
std::string join_path(const std::vector<std::string>& parts, size_t count);
inline std::string join_path(const std::vector<std::string>& parts) { return join_path(parts, parts.size()); }

// openat2(root, rel, flags) with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS |
// RESOLVE_NO_XDEV: fails with ELOOP on any symlink component (the last one too), EXDEV on an escape.
// rel "" opens the root itself. Returns an invalid UniqueFd with errno set on failure.
UniqueFd open_beneath(int root, const std::string& rel, int flags, mode_t mode = 0);
// The same, throwing an Error that says `doing` and explains ELOOP/EXDEV/ENOTDIR in terms of the tree.
UniqueFd open_beneath_or_throw(int root, const std::string& rel, int flags, const std::string& doing);

// Reads a small regular file `rel` beneath `root` (no symlink followed); `root_path` names it in errors.
std::string read_file_beneath(int root, const std::string& rel, const std::string& root_path, uint64_t max_size);

// A second entry for a name already in the tree being built (EEXIST in droot's own private directory).
struct NameExists : Error {
  NameExists() : Error("a second entry for the same path: the name already exists, and droot never overwrites") {}
};

// The explanation of an errno from open_beneath, e.g. "a symlink is in the way".
std::string beneath_error_text(int err);

}  // namespace droot::exec
