#include "devices.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "error.h"
#include "io.h"
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

void make_dir(int parent, const char* name, mode_t mode) {
  if (mkdirat(parent, name, mode) < 0) throw_errno(std::string("cannot create /dev/") + name);
  if (fchmodat(parent, name, mode, 0) < 0) throw_errno(std::string("cannot chmod /dev/") + name);
}

void attach_below_dev(int dev, const char* name, int fs, const char* fstype) {
  UniqueFd dir(openat(dev, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!dir) throw_errno(std::string("cannot open /dev/") + name);
  attach_mount(fs, dir.get(), std::string(fstype) + " on /dev/" + name);
}

}  // namespace

std::string staged_copy_name(size_t i) { return ".droot-copy" + std::to_string(i); }

DevFilesystems make_dev(const std::vector<FileCopy>& copies) {
  DevFilesystems fs;
  size_t copies_bytes = 0;
  for (const auto& c : copies) copies_bytes += c.content.size() + 4096;
  const std::string size = std::to_string(64 * 1024 + (copies_bytes + 1023) / 1024) + "k";
  // Not nodev, or the nodes below would not work; nosuid and noexec all the same (runc's /dev).
  fs.dev = new_filesystem("tmpfs", {{"mode", "0755"}, {"size", size}}, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC,
                          "tmpfs on /dev");
  const int dev = fs.dev.get();
  for (const auto& d : kDevices) {
    if (mknodat(dev, d.name, S_IFCHR | 0666, makedev(d.major, d.minor)) < 0)
      throw_errno(std::string("cannot create the device /dev/") + d.name);
    if (fchmodat(dev, d.name, 0666, 0) < 0) throw_errno(std::string("cannot chmod /dev/") + d.name);
  }
  for (const auto& [name, target_path] : kLinks)
    if (symlinkat(target_path, dev, name) < 0) throw_errno(std::string("cannot create the link /dev/") + name);

  // A new devpts instance: the host's terminals (/dev/pts/N of other sessions) are not in it, and /dev/ptmx
  // is its own ptmx, so ptys opened in the jail are numbered from 0 and invisible to the host's devpts.
  make_dir(dev, "pts", 0755);
  fs.pts = new_filesystem("devpts", {{"newinstance", ""}, {"ptmxmode", "0666"}, {"mode", "0620"}},
                          MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC, "devpts on /dev/pts");
  make_dir(dev, "shm", 01777);
  fs.shm = new_filesystem("tmpfs", {{"mode", "1777"}, {"size", "65536k"}},
                          MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, "tmpfs on /dev/shm");
  // No /dev/mqueue: mq_open(3) works without it (the queues belong to the new IPC namespace either way), and
  // tearing an mqueue mount down costs ~10 ms per run. `--tmpfs`-style opt-in can come if someone needs ls.

  for (size_t i = 0; i < copies.size(); ++i) {
    const FileCopy& c = copies[i];
    UniqueFd f(openat(dev, staged_copy_name(i).c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                      c.mode & 07777));
    if (!f) throw_errno("cannot copy " + c.dest + " into the jail");
    write_all(f.get(), c.content, "the copy of " + c.dest);
    if (fchmod(f.get(), c.mode & 0777) < 0) throw_errno("cannot set the mode of the copy of " + c.dest);
  }
  return fs;
}

void attach_dev(int root, const DevFilesystems& fs, std::vector<std::string>& created) {
  ResolvedPath target = resolve_in_rootfs(root, "/dev", Create::Directory);
  target.add_created_to(created);
  if (!target.is_dir) throw Error("cannot mount /dev: /dev in the rootfs is not a directory");
  attach_mount(fs.dev.get(), target.fd.get(), "tmpfs on /dev");
  attach_below_dev(fs.dev.get(), "pts", fs.pts.get(), "devpts");
  attach_below_dev(fs.dev.get(), "shm", fs.shm.get(), "tmpfs");
}

}  // namespace droot::exec
