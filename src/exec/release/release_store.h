// DEST's layout (droot-exec(1), "deploy layout"):
//   DEST/releases/<YYYYmmddTHHMMSS>-<sha12>/   one extracted rootfs each, named by deploy time (UTC)
//   DEST/releases/.tmp-XXXXXX/                 a release being extracted (removed if the deploy fails)
//   DEST/current -> releases/<name>            swapped atomically: a new symlink renamed over the old
//   DEST/objects/                               every regular file once, releases hard-link them (object_store.h)
//   DEST/state/<name>/                          what run's overlay root keeps of a release's writes
// Every operation works on directory fds opened without following symlinks inside DEST.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "fd.h"

namespace droot::exec {

class ReleaseStore;

// A release directory being built. Removed on destruction unless publish() renamed it into place.
class TempRelease {
 public:
  TempRelease(const TempRelease&) = delete;
  TempRelease& operator=(const TempRelease&) = delete;
  ~TempRelease();

  int fd() const { return fd_.get(); }
  const std::string& name() const { return name_; }

 private:
  friend class ReleaseStore;
  TempRelease(const ReleaseStore& store, std::string name, UniqueFd fd);
  const ReleaseStore* store_;
  std::string name_;
  UniqueFd fd_;
  bool published_ = false;
};

class ReleaseStore {
 public:
  // Opens DEST and DEST/releases; with `create`, makes them (0755) if missing. DEST/releases must be a
  // real directory, not a symlink.
  ReleaseStore(const std::string& dest, bool create);

  const std::string& dest() const { return dest_; }
  std::string releases_path() const { return dest_ + "/releases"; }
  int dest_fd() const { return dest_fd_.get(); }
  int releases_fd() const { return releases_fd_.get(); }

  // Release names, oldest first (the names sort by deploy time).
  std::vector<std::string> releases() const;
  // The release DEST/current points to, if any. Throws if `current` exists but is not a link to a release.
  std::optional<std::string> current() const;
  // The release deployed just before `name` (what rollback goes back to).
  std::optional<std::string> previous_of(const std::string& name) const;

  // Removes the .tmp-* directories and .current.tmp-* links of killed deploys; returns what was removed.
  std::vector<std::string> remove_stale_temps() const;
  TempRelease create_temp() const;
  // fsyncs nothing itself (the caller syncs the tree); renames the temp dir to <now>-<sha12> and fsyncs
  // DEST/releases. Returns the release name.
  std::string publish(TempRelease& temp, const std::string& payload_sha256) const;
  // Points DEST/current at `name`: symlink under a temporary name, rename over current, fsync DEST.
  void switch_current(const std::string& name) const;
  // Keeps the newest `keep` releases, current, its predecessor (what rollback goes back to) and
  // `was_current` (what ran before this deploy: after a rollback it is not the predecessor, and it is the
  // release known to work). Returns the removed names.
  std::vector<std::string> prune(size_t keep, const std::optional<std::string>& was_current) const;

  // Whether releases/<name> is there (an entry of any type; nothing followed).
  bool has_release(const std::string& name) const;
  // The error for DEST/current naming a release that is gone (removed by hand): what is wrong and the way out.
  std::string missing_current_text(const std::string& name) const;

  // Accepts a release name or a unique prefix of one; throws naming the releases otherwise.
  std::string resolve(const std::string& name_or_prefix) const;

  static bool is_release_name(const std::string& name);

 private:
  friend class TempRelease;
  void remove_temp(const std::string& name) const;
  void remove_state(const std::string& name) const;
  bool state_in_use(const std::string& name) const;

  std::string dest_;
  UniqueFd dest_fd_;
  UniqueFd releases_fd_;
};

}  // namespace droot::exec
