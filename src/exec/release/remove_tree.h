// Recursive removal that never follows a symlink: used on temporary directories left by killed deploys and
// on pruned releases, both of which may contain anything an image (or an attacker) put there.
#pragma once

#include <string>

namespace droot::exec {

// Removes `name` in the directory `parent_fd`: a symlink or file is unlinked, a directory is emptied and
// removed. Symlinks are removed, never followed; a mount point inside stops the removal with an error.
// `what` names the tree in errors. A missing `name` is not an error.
void remove_tree(int parent_fd, const std::string& name, const std::string& what);

}  // namespace droot::exec
