#include "run_mountpoints.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>

#include "beneath.h"
#include "error.h"
#include "io.h"
#include "mtree.h"

namespace droot::exec {

namespace {
constexpr uint64_t kMaxRecordSize = 1 << 20;
}

void record_run_mountpoints(int root_fd, const std::vector<std::string>& paths) {
  if (paths.empty()) return;
  UniqueFd meta = open_beneath(root_fd, ".droot", O_PATH | O_DIRECTORY);
  if (!meta) {
    if (errno == ENOENT) return;
    throw_errno("cannot open .droot/ of the rootfs to record the mount points run created (" +
                beneath_error_text(errno) + ")");
  }
  std::string lines;
  for (const auto& p : paths) lines += mtree_escape(p) + "\n";
  // One append per run: two jails of the same release starting together each add whole lines.
  UniqueFd record = open_beneath(root_fd, kRunMountpointsFile, O_WRONLY | O_APPEND | O_CREAT, 0644);
  if (!record) throw_errno(std::string("cannot record the mount points run created in ") + kRunMountpointsFile);
  write_all(record.get(), lines, kRunMountpointsFile);
}

std::set<std::string> read_run_mountpoints(int root_fd, const std::string& root_path) {
  std::set<std::string> out;
  UniqueFd probe = open_beneath(root_fd, kRunMountpointsFile, O_PATH);
  if (!probe && errno == ENOENT) return out;
  std::string text = read_file_beneath(root_fd, kRunMountpointsFile, root_path, kMaxRecordSize);
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();  // a line cut short by a crash is still a name
    if (nl > pos) out.insert(mtree_unescape(std::string_view(text).substr(pos, nl - pos)));
    pos = nl + 1;
  }
  return out;
}

std::vector<std::string> set_aside_run_mountpoints(std::vector<Difference>& diffs, const Manifest& observed,
                                                   const std::set<std::string>& recorded) {
  auto is_empty_placeholder = [&](const std::string& path) {
    auto it = observed.find(path);
    if (it == observed.end()) return false;
    const ManifestEntry& e = it->second;
    if (e.type == "file") return e.size == 0;
    if (e.type != "dir") return false;
    auto child = observed.lower_bound(path + "/");
    return child == observed.end() || child->first.rfind(path + "/", 0) != 0;
  };
  std::vector<std::string> set_aside;
  std::erase_if(diffs, [&](const Difference& d) {
    if (d.kind != Difference::Kind::extra || !recorded.count(d.path) || !is_empty_placeholder(d.path)) return false;
    set_aside.push_back(d.path);
    return true;
  });
  return set_aside;
}

}  // namespace droot::exec
