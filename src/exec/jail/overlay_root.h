// The jail's root as an overlayfs, so that `run` never writes into a release (releases share their files as
// hard links, state_dir.h): the lower layer is the release, which overlayfs only reads (its private clone of
// the release's mount is read-only and noatime); the upper layer is the release's state (DEST/state/<release>/upper, RootMode::State) or a tmpfs made here and
// forgotten with the jail (RootMode::Volatile). Made with the new mount API: fsopen("overlay"), fsconfig,
// fsmount, move_mount — on Debian 12's 6.1, where overlayfs still takes its options through the legacy
// fs_context (one "key=value,…" string parsed at FSCONFIG_CMD_CREATE), as on 6.5+, where it parses each one.
//
// Every layer is handed to overlayfs as /proc/self/fd/N of an fd opened beneath DEST without following
// symlinks, never as a path the kernel would walk again (and no ':' or ',' in a name can split the option).
// overlayfs clones each layer's mount privately (clone_private_mount), which before 6.15 requires that mount to
// be attached in the caller's namespace: a release's overlay is mounted by the process that holds it
// (overlay_holder.h), in the host's namespace over the release itself, or with --userns in a namespace of its
// own over the release's idmapped clone; with --volatile, whose tmpfs upper layer is attached in the jail's
// namespace first, by init, there.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "fd.h"
#include "mounts.h"

namespace droot::exec {

// Mounts the overlay over plan.rootfs (in the jail's private namespace; nodev) and returns an fd of its root:
// for a release's state the one the holder made and sends on plan.overlay_sock, for --volatile one made here.
// Throws Error naming the layers, what overlayfs said (its fs_context log; on 6.1 it logs to dmesg only) and,
// when the filesystem holding the release cannot be used, the way out (--volatile, --read-only).
UniqueFd mount_overlay_root(const MountPlan& plan);

// The options given to overlayfs besides the layers. index=off: a copy-up of a file that has other hard links
// in the release (files of the content-addressed store always do) copies that one name, as on a real
// filesystem where the links were separate files in the image — with index=on overlayfs would keep every
// name of the inode together, joining files that only happen to share an object. index, redirect_dir and
// metacopy off also keep the upper layer plain (whole files, whiteouts, opaque directories: what check
// --changes reads) and independent of the kernel's build-time defaults. xino=off: the layers of
// --volatile are on two filesystems, where xino=auto warns about inode numbers it cannot fit.
std::vector<std::pair<std::string, std::string>> overlay_options();

// Everything fsconfig() is given, in order: source, lowerdir, upperdir and workdir (as /proc/self/fd/N of
// `layers`), then overlay_options().
std::vector<std::pair<std::string, std::string>> overlay_config(const OverlayLayers& layers);

// The type of the filesystem `fd` is on, as /proc/self/mountinfo names it ("ext4", "overlay", "tmpfs"; statfs's
// magic cannot tell ext4 from ext2), found by the mount id statx gives; "an unknown filesystem" otherwise.
std::string filesystem_type(int fd);

// `text` with each "/proc/self/fd/N" whose N `names` lists replaced by its name: overlayfs's messages quote
// the layer paths it was given.
std::string name_fd_paths(const std::string& text, const std::vector<std::pair<int, std::string>>& names);

}  // namespace droot::exec
