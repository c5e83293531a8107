// The jail's /dev: a small tmpfs with the usual character devices, a private devpts instance, /dev/shm and
// the /proc/self/fd links. Nothing of the host's /dev is visible.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "fd.h"
#include "mounts.h"

namespace droot::exec {

// /dev is made in two steps. make_dev() makes its filesystems and fills /dev (nodes, links, the directories
// pts/ and shm/, the --copy files) while nothing of it is attached anywhere: a filesystem fsmount() made can be
// written through its fd before it is attached, and none of it needs the rootfs. So over a release, init does
// this while the holder is still mounting the release's overlay (overlay_holder.h) instead of waiting for it.
// attach_dev() then attaches /dev in the rootfs and pts and shm below it (a mount can only be attached below an
// attached one before Linux 6.15).
struct DevFilesystems {
  UniqueFd dev;  // the tmpfs
  UniqueFd pts;  // a new devpts instance
  UniqueFd shm;  // /dev/shm's tmpfs
};

// `copies`: staged in /dev under staged_copy_name(i), with room for them beyond /dev's 64 MiB; install_copies
// (mounts.cc) binds each over its place and unlinks it from /dev.
DevFilesystems make_dev(const std::vector<FileCopy>& copies);
std::string staged_copy_name(size_t i);

// Attaches /dev in the rootfs open at `root` (creating the directory if the image has none). Appends what it
// had to create in the rootfs to `created`.
void attach_dev(int root, const DevFilesystems& fs, std::vector<std::string>& created);

}  // namespace droot::exec
