// Mount points that `run` had to create in a release. The jail mounts /dev, /proc, the --copy files and the
// --bind/--tmpfs targets over paths of the image; when the image lacks one (podman's export has no /dev or
// /proc, a --bind /data names a directory the image never had) it is created, empty, in the release itself,
// as bubblewrap and runc do with a plain directory rootfs. They are listed in the release's
// .droot/run-mountpoints (droot's metadata directory, outside the manifest), so that `check` can tell these
// empty placeholders from drift instead of reporting every run of such an image as tampering.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "manifest_diff.h"

namespace droot::exec {

inline constexpr const char* kRunMountpointsFile = ".droot/run-mountpoints";

// Appends `paths` ("etc/hosts", no leading /) to ROOT/.droot/run-mountpoints. A rootfs without .droot/ (not a
// deployed release: nothing to check it against) gets no record.
void record_run_mountpoints(int root_fd, const std::vector<std::string>& paths);

// The recorded paths; empty when there is no record.
std::set<std::string> read_run_mountpoints(int root_fd, const std::string& root_path);

// Moves out of `diffs` the "extra" entries that run recorded and that are still empty placeholders (an
// empty directory or an empty regular file); returns their paths. Anything with content stays drift.
std::vector<std::string> set_aside_run_mountpoints(std::vector<Difference>& diffs, const Manifest& observed,
                                                   const std::set<std::string>& recorded);

}  // namespace droot::exec
