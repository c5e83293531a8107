#include "devices.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "error.h"
#include "mounts.h"
#include "rootfs_path.h"

namespace droot::exec {

namespace {

struct DeviceNode {
  const char* name;
  unsigned major;
  unsigned minor;
};

// The character devices every program may expect (docker's and bubblewrap's list). zero is 1:5 —
// yuuki/droot's 1:3 made /dev/zero a second /dev/null.
constexpr DeviceNode kDevices[] = {{"null", 1, 3},    {"zero", 1, 5},    {"full", 1, 7},
                                   {"random", 1, 8},  {"urandom", 1, 9}, {"tty", 5, 0}};

constexpr const char* kLinks[][2] = {{"fd", "/proc/self/fd"},         {"stdin", "/proc/self/fd/0"},
                                     {"stdout", "/proc/self/fd/1"},   {"stderr", "/proc/self/fd/2"},
                                     {"ptmx", "pts/ptmx"}};

UniqueFd make_dir(int parent, const char* name, mode_t mode) {
  if (mkdirat(parent, name, mode) < 0) throw_errno(std::string("cannot create /dev/") + name);
  if (fchmodat(parent, name, mode, 0) < 0) throw_errno(std::string("cannot chmod /dev/") + name);
  UniqueFd fd(openat(parent, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) throw_errno(std::string("cannot open /dev/") + name);
  return fd;
}

void mount_below_dev(int dev, const char* name, mode_t mode, const char* fstype,
                     const std::vector<std::pair<std::string, std::string>>& options, unsigned attrs) {
  UniqueFd dir = make_dir(dev, name, mode);
  std::string what = std::string(fstype) + " on /dev/" + name;
  UniqueFd fs = new_filesystem(fstype, options, attrs, what);
  attach_mount(fs.get(), dir.get(), what);
}

}  // namespace

void build_dev(int root, std::vector<std::string>& created) {
  ResolvedPath target = resolve_in_rootfs(root, "/dev", Create::Directory);
  target.add_created_to(created);
  if (!target.is_dir) throw Error("cannot mount /dev: /dev in the rootfs is not a directory");
  // Not nodev, or the nodes below would not work; nosuid and noexec all the same (runc's /dev).
  UniqueFd dev = new_filesystem("tmpfs", {{"mode", "0755"}, {"size", "65536k"}}, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC,
                                "tmpfs on /dev");
  attach_mount(dev.get(), target.fd.get(), "tmpfs on /dev");

  for (const auto& d : kDevices) {
    if (mknodat(dev.get(), d.name, S_IFCHR | 0666, makedev(d.major, d.minor)) < 0)
      throw_errno(std::string("cannot create the device /dev/") + d.name);
    if (fchmodat(dev.get(), d.name, 0666, 0) < 0) throw_errno(std::string("cannot chmod /dev/") + d.name);
  }
  for (const auto& [name, target_path] : kLinks)
    if (symlinkat(target_path, dev.get(), name) < 0) throw_errno(std::string("cannot create the link /dev/") + name);

  // A new devpts instance: the host's terminals (/dev/pts/N of other sessions) are not in it, and /dev/ptmx
  // is its own ptmx, so ptys opened in the jail are numbered from 0 and invisible to the host's devpts.
  mount_below_dev(dev.get(), "pts", 0755, "devpts", {{"newinstance", ""}, {"ptmxmode", "0666"}, {"mode", "0620"}},
                  MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC);
  mount_below_dev(dev.get(), "shm", 01777, "tmpfs", {{"mode", "1777"}, {"size", "65536k"}},
                  MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
  // No /dev/mqueue: mq_open(3) works without it (the queues belong to the new IPC namespace either way), and
  // tearing an mqueue mount down costs ~10 ms per run. `--tmpfs`-style opt-in can come if someone needs ls.
}

}  // namespace droot::exec
