// `droot-exec check`: what a deployed tree holds now, compared with the manifest it was deployed with.
#pragma once

#include <string>
#include <vector>

#include "manifest_diff.h"

namespace droot::exec {

// Describes every node under `root_fd` like a manifest line (files hashed), without following symlinks or
// entering other filesystems; the root's own .droot/ and .drootenv (droot's metadata) are left out.
Manifest scan_tree(int root_fd, const std::string& root_path);

struct TreeCheck {
  std::vector<Difference> differences;
  std::vector<std::string> run_mountpoints;  // empty placeholders `run` made, not counted (run_mountpoints.h)
};

// Reads ROOT/.droot/manifest.mtree and returns every difference between it and the tree.
TreeCheck check_tree(int root_fd, const std::string& root_path);

}  // namespace droot::exec
