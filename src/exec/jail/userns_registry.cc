#include "userns_registry.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <vector>

#include "error.h"
#include "io.h"

namespace droot::exec {

namespace {

struct RegistryLine {
  IdRange range;
  std::string path;
};

std::optional<IdRange> parse_range(const std::string& text) {
  try {
    UsernsRequest r = parse_userns(text, "");
    if (r.mode == UsernsMode::Explicit) return r.range;
  } catch (const Error&) {
  }
  return std::nullopt;
}

// A line that does not parse is kept as it is: it is somebody's, and dropping it could hand its ids out again.
std::vector<RegistryLine> parse_registry(const std::string& text, std::vector<std::string>& unparsed) {
  std::vector<RegistryLine> out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    std::string line = text.substr(pos, nl - pos);
    pos = nl + 1;
    if (line.empty()) continue;
    size_t space = line.find(' ');
    auto range = space == std::string::npos ? std::nullopt : parse_range(line.substr(0, space));
    if (!range || space + 1 >= line.size() || line[space + 1] != '/') {
      unparsed.push_back(line);
      continue;
    }
    out.push_back({*range, line.substr(space + 1)});
  }
  return out;
}

std::string read_if_exists(const std::string& path) {
  try {
    return read_file(path, 16 << 20);
  } catch (const Error&) {
    if (errno == ENOENT) return "";
    throw;
  }
}

// temp file + fsync + rename + fsync of the directory: a crash leaves the old list or the new one.
void replace_file(const std::string& path, const std::string& content, mode_t mode) {
  const std::string tmp = path + ".tmp" + std::to_string(getpid());
  {
    UniqueFd fd(open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, mode));
    if (!fd) throw_errno("cannot write " + tmp);
    write_all(fd.get(), content, tmp);
    fsync_or_throw(fd.get(), tmp);
  }
  if (rename(tmp.c_str(), path.c_str()) < 0) {
    int err = errno;
    unlink(tmp.c_str());
    errno = err;
    throw_errno("cannot replace " + path);
  }
  fsync_parent_dir(path);
}

void make_parent_dirs(const std::string& path) {
  std::string dir = dirname_of(path);
  for (size_t at = 1; at <= dir.size(); ++at) {
    if (at != dir.size() && dir[at] != '/') continue;
    std::string part = dir.substr(0, at);
    if (mkdir(part.c_str(), 0755) < 0 && errno != EEXIST) throw_errno("cannot create " + part);
  }
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

std::string userns_registry_path() {
  const char* env = std::getenv("DROOT_USERNS_REGISTRY");
  return env && *env ? env : "/var/lib/droot/userns-ranges";
}

IdRange choose_userns_range(const UsernsRequest& request, const std::string& target, bool is_dest,
                            const std::function<void(const IdRange&)>& accept) {
  const std::string registry = userns_registry_path();
  make_parent_dirs(registry);
  const std::string lock_path = registry + ".lock";
  UniqueFd lock(open(lock_path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!lock) throw_errno("cannot open " + lock_path);
  // Blocking: choosing takes microseconds, and a run that waits is better than two with one range.
  while (flock(lock.get(), LOCK_EX) < 0)
    if (errno != EINTR) throw_errno("cannot lock " + lock_path);

  std::vector<std::string> unparsed;
  std::vector<RegistryLine> lines = parse_registry(read_if_exists(registry), unparsed);
  const std::string record_path = target + "/" + kDestUsernsRecord;
  std::optional<IdRange> recorded;
  if (is_dest) {
    std::string text = trim(read_if_exists(record_path));
    if (!text.empty()) {
      recorded = parse_range(text);
      if (!recorded)
        throw Error(record_path + " holds '" + text + "', not BASE:COUNT: it records the host ids of this DEST's "
                    "jails; restore it, or remove it together with " + target + "/state (the files there are owned "
                    "by the old ids)");
    }
  }
  std::optional<IdRange> listed;
  std::vector<IdRange> taken;
  for (const auto& l : lines) {
    if (l.path == target)
      listed = l.range;
    else
      taken.push_back(l.range);
  }

  IdRange want;
  if (request.mode == UsernsMode::Explicit) {
    want = request.range;
    std::optional<IdRange> had = recorded ? recorded : listed;
    if (had && !(*had == want))
      throw Error("--userns=" + range_text(want) + ": " + target + " has run with host ids " + range_text(*had) +
                  " (recorded in " + (recorded ? record_path : registry) + "), and the files its services wrote are "
                  "owned by those; run with --userns=auto or --userns=" + range_text(*had) + ", or remove the record" +
                  (is_dest ? " and " + target + "/state" : "") + " to start over with new ids");
  } else if (recorded) {
    want = *recorded;
  } else if (listed) {
    want = *listed;
  } else {
    // Ids the host hands to someone else are taken too: a rootless podman's subuids, say.
    std::vector<SubidEntry> subuid = parse_subid(read_if_exists("/etc/subuid"));
    std::vector<SubidEntry> subgid = parse_subid(read_if_exists("/etc/subgid"));
    std::vector<IdRange> pool = intersect(subid_ranges_of(subuid, kSubidOwner), subid_ranges_of(subgid, kSubidOwner));
    std::vector<IdRange> avoid = taken;
    for (const auto& r : subid_ranges_not_of(subuid, kSubidOwner)) avoid.push_back(r);
    for (const auto& r : subid_ranges_not_of(subgid, kSubidOwner)) avoid.push_back(r);
    auto picked = pick_free_range(pool, avoid);
    if (!picked)
      throw Error(std::string("--userns=auto: no free range of 65536 host ids is left ") +
                  (pool.empty() ? "in 2147483648…4294901759" : "in the /etc/subuid and /etc/subgid ranges of user " +
                                                                   std::string(kSubidOwner)) +
                  " (" + registry + " lists who has them); give droot more subordinate ids, or an explicit --userns=BASE:COUNT");
    want = *picked;
  }
  for (const auto& l : lines)
    if (l.path != target && l.range.overlaps(want))
      throw Error("--userns: host ids " + range_text(want) + " for " + target + " overlap " + range_text(l.range) +
                  ", which " + l.path + " uses (" + registry + "): a process of one jail could then signal or own "
                  "the files of the other; choose a range that overlaps none (--userns=auto does)");

  if (accept) accept(want);
  if (!listed || !(*listed == want)) {
    std::string out;
    for (const auto& u : unparsed) out += u + "\n";
    for (const auto& l : lines)
      if (l.path != target) out += range_text(l.range) + " " + l.path + "\n";
    out += range_text(want) + " " + target + "\n";
    replace_file(registry, out, 0644);
  }
  if (is_dest && (!recorded || !(*recorded == want))) replace_file(record_path, range_text(want) + "\n", 0644);
  return want;
}

}  // namespace droot::exec
