#include "overlay_root.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>

#include "error.h"
#include "io.h"
#include "overlay_holder.h"
#include "state_dir.h"

namespace droot::exec {

namespace {

std::string fd_path(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

// What overlayfs said: a context made by fsopen keeps the messages of its filesystem, one per read(), as
// "e overlayfs: …" (6.5+, where overlayfs uses the fs_context API itself). 6.1's legacy path prints them to the
// kernel log only, and this one is empty.
std::string context_log(int fs) {
  std::string out;
  char buf[512];
  for (int i = 0; i < 8; ++i) {
    ssize_t n = read(fs, buf, sizeof buf);
    if (n <= 0) break;
    std::string message(buf, static_cast<size_t>(n));
    if (message.size() > 2 && message[1] == ' ') message.erase(0, 2);
    out += (out.empty() ? "" : "; ") + message;
  }
  return out;
}

struct Layers {
  UniqueFd lower;    // the release, bound read-only in this namespace
  UniqueFd scratch;  // --volatile: the tmpfs holding upper and work
  UniqueFd upper;
  UniqueFd work;
  std::string upper_text;  // for messages
};

// The tmpfs of --volatile, attached (stacked over the release, under the overlay that will cover both) before
// overlayfs takes layers from it: see the header. Its pages are charged to the memory cgroup of whoever writes,
// so --memory bounds it too.
void make_volatile_layers(Layers& l, const struct stat& release_root, uint32_t shift) {
  l.scratch = new_filesystem("tmpfs", {{"mode", "0700"}}, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, "the tmpfs of --volatile");
  if (mkdirat(l.scratch.get(), "upper", 0700) < 0 || mkdirat(l.scratch.get(), "work", 0700) < 0)
    throw_errno("cannot make the upper and work directories of --volatile");
  // The upper root is the jail's "/" to overlayfs: it must look like the release's root (state_dir.h).
  if (fchownat(l.scratch.get(), "upper", release_root.st_uid + shift, release_root.st_gid + shift, AT_SYMLINK_NOFOLLOW) < 0 ||
      fchmodat(l.scratch.get(), "upper", release_root.st_mode & 07777, 0) < 0)
    throw_errno("cannot give the upper directory of --volatile the mode and owner of the release's root");
  attach_mount(l.scratch.get(), l.lower.get(), "the tmpfs of --volatile");
  for (auto [name, fd] : {std::pair{"upper", &l.upper}, std::pair{"work", &l.work}}) {
    *fd = UniqueFd(openat(l.scratch.get(), name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!*fd) throw_errno(std::string("cannot open the ") + name + " directory of --volatile");
  }
  l.upper_text = "a tmpfs (--volatile)";
}

// `release`: the release's directory as the host's mount has it (not the mounts stacked over it here).
std::string advice(const MountPlan& plan, int release) {
  const std::string fs = filesystem_type(release);
  if (plan.root == RootMode::Volatile)
    return "; the release is on " + fs + ": if overlayfs cannot take that as its lower layer, run with --read-only";
  const std::string way_out = "run with --volatile (the service's writes in memory, forgotten at exit) or, if that "
                              "fails too, --read-only";
  // Filesystems overlayfs takes as an upper layer (xattrs, RENAME_WHITEOUT, d_type): the cause is elsewhere.
  for (const char* known : {"ext4", "ext3", "ext2", "xfs", "btrfs", "tmpfs", "f2fs"})
    if (fs == known) return "; " + plan.dest + " is on " + fs + ", which overlayfs supports as an upper layer: " + way_out;
  return "; " + plan.dest + " is on " + fs + ", and run keeps a release's state there with overlayfs, which needs a "
         "filesystem it can write its upper layer on (ext4, xfs, btrfs, tmpfs; not overlayfs, NFS or FUSE): " + way_out;
}

}  // namespace

std::vector<std::pair<std::string, std::string>> overlay_options() {
  return {{"index", "off"}, {"redirect_dir", "off"}, {"metacopy", "off"}, {"xino", "off"}};
}

std::vector<std::pair<std::string, std::string>> overlay_config(const OverlayLayers& layers) {
  std::vector<std::pair<std::string, std::string>> options = {
      {"source", "droot"}, {"lowerdir", fd_path(layers.lower)}, {"upperdir", fd_path(layers.upper)},
      {"workdir", fd_path(layers.work)}};
  for (const auto& o : overlay_options()) options.push_back(o);
  return options;
}

namespace {

// One overlay, made here or by the holder (overlay_holder.h): what it is, for messages, and how to say why
// it could not be made.
struct OverlayText {
  std::string what;
  std::string upper_text;
  std::vector<std::pair<int, std::string>> names;  // the layers' fds, as overlayfs's messages quote them
};

OverlayText describe(const MountPlan& plan, const OverlayLayers& layers, const std::string& upper_text) {
  return {"the jail's root (overlayfs over the release " + plan.rootfs + ", upper layer " + upper_text + ")", upper_text,
          {{layers.lower, plan.rootfs}, {layers.upper, upper_text}, {layers.work, "its work directory"}}};
}

// `step`: "" for the superblock (FSCONFIG_CMD_CREATE), "option KEY: " for one option; `context`: the
// fs_context (-1: none); `release`: the release as the host's mount has it.
[[noreturn]] void overlay_failed(const MountPlan& plan, const OverlayText& t, const std::string& step, int err,
                                 int context, int release) {
  if (step == "fsopen") {
    if (err == ENODEV)
      throw Error("cannot mount " + t.what + ": this kernel has no overlayfs (modprobe overlay), which run needs to "
                  "keep a release unwritten: run with --read-only");
    errno = err;
    throw_errno("cannot mount " + t.what + " (fsopen overlay)");
  }
  if (step == "fsmount") {
    errno = err;
    throw_errno("cannot mount " + t.what + " (fsmount)");
  }
  std::string said = context >= 0 ? name_fd_paths(context_log(context), t.names) : "";
  // overlayfs makes its work directory mode 0 and works in it with the mounter's credentials: a root without
  // CAP_DAC_OVERRIDE (a reduced bounding set, an LSM) cannot mount one anywhere.
  if (err == EACCES)
    throw Error("cannot mount " + t.what + ": " + step + errno_text(err) + " (overlayfs needs CAP_DAC_OVERRIDE for its "
                "work directory, which droot-exec may lack here): run with --read-only");
  throw Error("cannot mount " + t.what + ": " + step + errno_text(err) +
              (said.empty() ? " (overlayfs says why in the kernel log: dmesg)" : " (" + said + ")") + advice(plan, release));
}

// When overlayfs cannot set up its work directory (no xattrs, no RENAME_WHITEOUT or O_TMPFILE on the upper
// filesystem), it does not fail: it mounts read-only and warns in dmesg. A run must then stop, not start a
// service on a root it cannot write.
void require_writable(const MountPlan& plan, const OverlayText& t, int mnt, int release) {
  struct statvfs sv {};
  if (fstatvfs(mnt, &sv) < 0) throw_errno("cannot stat " + t.what);
  if (sv.f_flag & ST_RDONLY)
    throw Error("cannot mount " + t.what + ": overlayfs came up read-only, so it cannot use " + t.upper_text +
                " (dmesg says why)" + advice(plan, release));
}

// The overlay the holder mounted (overlay_holder.h), attached over the release in this namespace.
UniqueFd attach_held_overlay(const MountPlan& plan) {
  UniqueFd release(open(plan.rootfs.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!release) throw_errno("cannot open the rootfs " + plan.rootfs);
  const OverlayText t = describe(plan, plan.layers, plan.dest + "/" + state_dir_name(plan.release) + "/upper");
  HeldOverlay held = receive_overlay(plan.overlay_sock);
  if (held.error && held.step < -1) {
    errno = held.error;
    switch (held.step) {
      case kStepIdmap:
        idmap_failed(held.error, release.get(), "the release " + plan.rootfs);
      case kStepNamespace:
        throw_errno("cannot mount " + t.what + ": a mount namespace for its idmapped lower layer");
      case kStepJailRoot:
        throw_errno("cannot mount " + t.what + ": acting as the jail's root (fsuid, fsgid)");
      case kStepOpen:
        throw_errno("cannot mount " + t.what + ": opening the release and the state again" +
                    (held.error == ESTALE ? std::string(" (replaced since run checked them)") : ""));
      default:
        throw_errno("cannot mount " + t.what + ": attaching the release's idmapped clone");
    }
  }
  if (held.error) {
    const auto options = overlay_config(plan.layers);
    const int n = static_cast<int>(options.size());
    std::string step = held.step < 0 ? "fsopen" : held.step < n ? "option " + options[held.step].first + ": "
                                                : held.step == n ? "" : "fsmount";
    overlay_failed(plan, t, step, held.error, held.context.get(), release.get());
  }
  require_writable(plan, t, held.mount.get(), release.get());
  attach_mount(held.mount.get(), release.get(), t.what);
  return std::move(held.mount);
}

}  // namespace

UniqueFd mount_overlay_root(const MountPlan& plan) {
  // A release's state: the holder mounts that overlay (overlay_holder.h). Here only --volatile's, whose tmpfs
  // upper layer must be attached in this namespace before overlayfs can take it.
  if (plan.root == RootMode::State) return attach_held_overlay(plan);
  UniqueFd release(open(plan.rootfs.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!release) throw_errno("cannot open the rootfs " + plan.rootfs);
  struct stat release_root {};
  if (fstat(release.get(), &release_root) < 0) throw_errno("cannot stat the rootfs " + plan.rootfs);

  Layers l;
  // Bound read-only here, the release cannot be written through this namespace by any path at all, and reads
  // do not even update its atimes (overlayfs's own clone of it is read-only and noatime too).
  l.lower = clone_tree(release.get(), "", false, "the release " + plan.rootfs);
  set_attrs(l.lower.get(), MOUNT_ATTR_RDONLY, false, "the release " + plan.rootfs);
  // --userns: the release's owners as the jail's namespace maps them (overlayfs takes idmapped lower layers
  // from 5.19).
  if (plan.userns_fd >= 0) idmap_tree(l.lower.get(), plan.userns_fd, release.get(), "the release " + plan.rootfs);
  attach_mount(l.lower.get(), release.get(), "the release " + plan.rootfs);
  make_volatile_layers(l, release_root, plan.userns_fd >= 0 ? plan.id_shift : 0);
  const OverlayLayers layers{l.lower.get(), l.upper.get(), l.work.get()};
  const OverlayText t = describe(plan, layers, l.upper_text);

  UniqueFd fs(fsopen("overlay", FSOPEN_CLOEXEC));
  if (!fs) overlay_failed(plan, t, "fsopen", errno, -1, release.get());
  for (const auto& [key, value] : overlay_config(layers))
    if (fsconfig(fs.get(), FSCONFIG_SET_STRING, key.c_str(), value.c_str(), 0) < 0)
      overlay_failed(plan, t, "option " + key + ": ", errno, fs.get(), release.get());
  if (fsconfig(fs.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) < 0) overlay_failed(plan, t, "", errno, fs.get(), release.get());
  UniqueFd mnt(fsmount(fs.get(), FSMOUNT_CLOEXEC, MOUNT_ATTR_NODEV));
  if (!mnt) overlay_failed(plan, t, "fsmount", errno, -1, release.get());
  require_writable(plan, t, mnt.get(), release.get());
  attach_mount(mnt.get(), l.scratch ? l.scratch.get() : l.lower.get(), t.what);
  return mnt;
}

std::string filesystem_type(int fd) {
  const std::string unknown = "an unknown filesystem";
  struct statx stx {};
  if (statx(fd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, STATX_MNT_ID, &stx) < 0 || !(stx.stx_mask & STATX_MNT_ID))
    return unknown;
  std::string table;
  try {
    table = read_file("/proc/self/mountinfo", 16 << 20);
  } catch (const Error&) {
    return unknown;
  }
  // "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw": the id first, the type after " - ".
  const std::string id = std::to_string(stx.stx_mnt_id) + " ";
  size_t pos = 0;
  while (pos < table.size()) {
    size_t nl = table.find('\n', pos);
    if (nl == std::string::npos) nl = table.size();
    std::string_view line(table.data() + pos, nl - pos);
    pos = nl + 1;
    if (line.substr(0, id.size()) != id) continue;
    size_t dash = line.find(" - ");
    if (dash == std::string_view::npos) return unknown;
    std::string_view type = line.substr(dash + 3);
    return std::string(type.substr(0, type.find(' ')));
  }
  return unknown;
}

std::string name_fd_paths(const std::string& text, const std::vector<std::pair<int, std::string>>& names) {
  const std::string prefix = "/proc/self/fd/";
  std::string out;
  size_t pos = 0;
  for (size_t at; (at = text.find(prefix, pos)) != std::string::npos;) {
    size_t end = at + prefix.size();
    while (end < text.size() && text[end] >= '0' && text[end] <= '9') ++end;
    std::string number = text.substr(at + prefix.size(), end - at - prefix.size());
    out += text.substr(pos, at - pos);
    std::string replacement = text.substr(at, end - at);
    for (const auto& [fd, name] : names)
      if (!number.empty() && std::to_string(fd) == number) replacement = name;
    out += replacement;
    pos = end;
  }
  return out + text.substr(pos);
}

}  // namespace droot::exec
