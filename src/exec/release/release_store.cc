#include "release_store.h"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <ctime>
#include <set>

#include "dir_names.h"
#include "error.h"
#include "io.h"
#include "remove_tree.h"
#include "state_dir.h"

namespace droot::exec {
namespace {

constexpr const char* kTempPrefix = ".tmp-";
constexpr const char* kCurrentTempPrefix = ".current.tmp-";
constexpr const char* kCurrentTargetPrefix = "releases/";

bool starts_with(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

UniqueFd open_dir_at(int parent, const std::string& name, const std::string& path, bool create) {
  if (create && ::mkdirat(parent, name.c_str(), 0755) != 0 && errno != EEXIST) throw_errno("cannot create " + path);
  int fd = ::openat(parent, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ELOOP || errno == ENOTDIR)
      throw Error(path + " is not a directory (a symlink or a file is there; droot needs a real directory)");
    throw_errno("cannot open " + path);
  }
  return UniqueFd(fd);
}

std::string random_suffix() {
  unsigned char bytes[6];
  if (::getrandom(bytes, sizeof bytes, 0) != static_cast<ssize_t>(sizeof bytes)) throw_errno("getrandom failed");
  static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string out;
  for (unsigned char b : bytes) out.push_back(alphabet[b % 36]);
  return out;
}

constexpr const char* kStampFormat = "%Y%m%dT%H%M%S";  // the first 15 characters of a release name

std::string utc_stamp(time_t t) {
  struct tm tm {};
  if (::gmtime_r(&t, &tm) == nullptr) throw Error("cannot format the current time");
  char buf[32];
  std::strftime(buf, sizeof buf, kStampFormat, &tm);
  return buf;
}

time_t stamp_of(const std::string& release_name) {
  struct tm tm {};
  const char* end = ::strptime(release_name.c_str(), kStampFormat, &tm);
  if (end == nullptr || *end != '-') throw Error("cannot read the time in the release name " + release_name);
  return ::timegm(&tm);
}

}  // namespace

TempRelease::TempRelease(const ReleaseStore& store, std::string name, UniqueFd fd)
    : store_(&store), name_(std::move(name)), fd_(std::move(fd)) {}

TempRelease::~TempRelease() {
  if (published_ || name_.empty()) return;
  fd_.reset();
  try {
    store_->remove_temp(name_);
  } catch (const std::exception& e) {
    // Destructors run while another error unwinds: report, and leave it to the next deploy's cleanup.
    std::fprintf(stderr, "droot-exec: warning: %s (the next deploy removes it)\n", e.what());
  }
}

ReleaseStore::ReleaseStore(const std::string& dest, bool create) : dest_(dest) {
  if (create && ::mkdir(dest.c_str(), 0755) != 0 && errno != EEXIST) throw_errno("cannot create " + dest);
  // DEST itself may be a symlink (the operator's choice); nothing inside it is followed.
  int fd = ::open(dest.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw_errno("cannot open " + dest);
  dest_fd_.reset(fd);
  if (!create && ::faccessat(fd, "releases", F_OK, AT_SYMLINK_NOFOLLOW) != 0)
    throw Error(dest + " has no releases/ directory (not a droot deploy destination?)");
  releases_fd_ = open_dir_at(fd, "releases", releases_path(), create);
}

bool ReleaseStore::is_release_name(const std::string& name) {
  // YYYYmmddTHHMMSS-<12 hex>
  if (name.size() != 15 + 1 + 12 || name[8] != 'T' || name[15] != '-') return false;
  for (size_t i = 0; i < name.size(); ++i) {
    if (i == 8 || i == 15) continue;
    const char c = name[i];
    if (i < 15 ? !(c >= '0' && c <= '9') : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::vector<std::string> ReleaseStore::releases() const {
  std::vector<std::string> out;
  for (auto& n : dir_names(releases_fd(), releases_path()))
    if (is_release_name(n)) out.push_back(n);
  return out;
}

std::optional<std::string> ReleaseStore::current() const {
  char buf[256];
  ssize_t n = ::readlinkat(dest_fd(), "current", buf, sizeof buf);
  if (n < 0) {
    if (errno == ENOENT) return std::nullopt;
    if (errno == EINVAL) throw Error(dest_ + "/current is not a symlink; move it away so droot can manage it");
    throw_errno("cannot read the link " + dest_ + "/current");
  }
  std::string target(buf, static_cast<size_t>(n));
  std::string name = starts_with(target, kCurrentTargetPrefix) ? target.substr(9) : "";
  if (!is_release_name(name))
    throw Error(dest_ + "/current points to '" + target + "', which is not one of " + releases_path() + "/*");
  return name;
}

bool ReleaseStore::has_release(const std::string& name) const {
  struct stat st {};
  if (::fstatat(releases_fd(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) return true;
  if (errno != ENOENT) throw_errno("cannot look at " + releases_path() + "/" + name);
  return false;
}

std::string ReleaseStore::missing_current_text(const std::string& name) const {
  return dest_ + "/current points to releases/" + name + ", which does not exist (removed by hand?): deploy again, " +
         "or switch to an existing release with 'droot-exec rollback " + dest_ + " [RELEASE]'";
}

std::optional<std::string> ReleaseStore::previous_of(const std::string& name) const {
  std::vector<std::string> all = releases();
  auto it = std::lower_bound(all.begin(), all.end(), name);
  if (it == all.begin()) return std::nullopt;
  return *std::prev(it);
}

void ReleaseStore::remove_temp(const std::string& name) const {
  remove_tree(releases_fd(), name, releases_path() + "/" + name);
}

std::vector<std::string> ReleaseStore::remove_stale_temps() const {
  // Called with DEST's lock held: no live deploy owns any of these.
  std::vector<std::string> removed;
  for (auto& n : dir_names(releases_fd(), releases_path())) {
    if (!starts_with(n, kTempPrefix)) continue;
    remove_temp(n);
    removed.push_back(releases_path() + "/" + n);
  }
  for (auto& n : dir_names(dest_fd(), dest_)) {
    if (!starts_with(n, kCurrentTempPrefix)) continue;
    if (::unlinkat(dest_fd(), n.c_str(), 0) != 0 && errno != ENOENT) throw_errno("cannot remove " + dest_ + "/" + n);
    removed.push_back(dest_ + "/" + n);
  }
  return removed;
}

TempRelease ReleaseStore::create_temp() const {
  for (int attempt = 0; attempt < 10; ++attempt) {
    std::string name = kTempPrefix + random_suffix();
    // 0700 while incomplete: no other user can look into (or race with) a tree that is being built.
    if (::mkdirat(releases_fd(), name.c_str(), 0700) != 0) {
      if (errno == EEXIST) continue;
      throw_errno("cannot create a temporary directory in " + releases_path());
    }
    int fd = ::openat(releases_fd(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
      int err = errno;
      remove_temp(name);
      throw_errno("cannot open " + releases_path() + "/" + name, err);
    }
    return TempRelease(*this, name, UniqueFd(fd));
  }
  throw Error("cannot find a free temporary name in " + releases_path());
}

std::string ReleaseStore::publish(TempRelease& temp, const std::string& payload_sha256) const {
  // Release names sort by time, and rollback, prune and list go by that order, so a new release must sort
  // after every existing one. Two deploys within one second (or after the clock stepped back) would otherwise
  // be ordered by their hashes: the new one takes the second after the newest instead (the lock is held).
  time_t stamp = ::time(nullptr);
  std::vector<std::string> existing = releases();
  if (!existing.empty()) stamp = std::max(stamp, stamp_of(existing.back()) + 1);
  std::string name = utc_stamp(stamp) + "-" + payload_sha256.substr(0, 12);
  if (::renameat2(releases_fd(), temp.name().c_str(), releases_fd(), name.c_str(), RENAME_NOREPLACE) != 0)
    throw_errno("cannot rename " + releases_path() + "/" + temp.name() + " to " + name);
  temp.published_ = true;
  fsync_or_throw(releases_fd(), releases_path());
  return name;
}

void ReleaseStore::switch_current(const std::string& name) const {
  const std::string temp = kCurrentTempPrefix + random_suffix();
  const std::string target = kCurrentTargetPrefix + name;
  // A relative target: DEST can be moved or mounted elsewhere (a jail sees it under another path).
  if (::symlinkat(target.c_str(), dest_fd(), temp.c_str()) != 0) throw_errno("cannot create " + dest_ + "/" + temp);
  // rename(2) replaces `current` in one step: a reader sees the old release or the new, never no link.
  if (::renameat(dest_fd(), temp.c_str(), dest_fd(), "current") != 0) {
    int err = errno;
    ::unlinkat(dest_fd(), temp.c_str(), 0);
    if (err == EISDIR || err == ENOTEMPTY)
      throw Error(dest_ + "/current is a directory, not a symlink; move it away so droot can manage it");
    throw_errno("cannot switch " + dest_ + "/current to " + target, err);
  }
  fsync_or_throw(dest_fd(), dest_);
}

std::vector<std::string> ReleaseStore::prune(size_t keep, const std::optional<std::string>& was_current) const {
  std::vector<std::string> all = releases();
  std::set<std::string> kept;
  if (was_current) kept.insert(*was_current);
  for (size_t i = all.size() > keep ? all.size() - keep : 0; i < all.size(); ++i) kept.insert(all[i]);
  if (auto cur = current()) {
    kept.insert(*cur);
    if (auto prev = previous_of(*cur)) kept.insert(*prev);
  }
  std::vector<std::string> removed;
  for (const auto& n : all) {
    if (kept.count(n)) continue;
    // A release whose state is locked is being run (named by hand: prune keeps current and its neighbours):
    // it stays until that run ends; the next deploy prunes it.
    if (state_in_use(n)) continue;
    remove_tree(releases_fd(), n, releases_path() + "/" + n);
    remove_state(n);
    removed.push_back(n);
  }
  return removed;
}

bool ReleaseStore::state_in_use(const std::string& name) const {
  // The lock run holds on DEST/state/<release> for as long as its overlay uses it (jail/state_dir.h).
  int fd = ::openat(dest_fd(), state_dir_name(name).c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return false;
  UniqueFd dir(fd);
  return exec::state_in_use(dir.get());
}

void ReleaseStore::remove_state(const std::string& name) const {
  // DEST/state/<release>: what run's overlay kept of that release's writes; it goes with the release.
  int fd = ::openat(dest_fd(), kStateDir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return;
    throw_errno("cannot open " + dest_ + "/" + kStateDir);
  }
  UniqueFd state(fd);
  remove_tree(state.get(), name, dest_ + "/" + kStateDir + "/" + name);
}

std::string ReleaseStore::resolve(const std::string& name_or_prefix) const {
  std::string wanted = name_or_prefix;
  if (starts_with(wanted, kCurrentTargetPrefix)) wanted = wanted.substr(9);
  while (!wanted.empty() && wanted.back() == '/') wanted.pop_back();
  std::vector<std::string> all = releases();
  std::vector<std::string> matches;
  for (const auto& n : all) {
    if (n == wanted) return n;
    if (!wanted.empty() && starts_with(n, wanted.c_str())) matches.push_back(n);
  }
  if (matches.size() == 1) return matches.front();
  std::string known;
  for (const auto& n : all) known += "\n  " + n;
  throw Error("no release '" + name_or_prefix + "' in " + releases_path() +
              (matches.size() > 1 ? " (ambiguous prefix)" : "") + "; releases:" + (known.empty() ? " none" : known));
}

}  // namespace droot::exec
