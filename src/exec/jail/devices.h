// The jail's /dev: a small tmpfs with the usual character devices, a private devpts instance, /dev/shm and
// the /proc/self/fd links. Nothing of the host's /dev is visible.
#pragma once

#include <string>
#include <vector>

namespace droot::exec {

// Mounts and fills /dev in the rootfs open at `root` (creating the directory if the image has none).
// Appends what it had to create in the rootfs to `created`.
void build_dev(int root, std::vector<std::string>& created);

}  // namespace droot::exec
