// --memory, --pids-limit and --cpus: a child cgroup made for one run, below the cgroup droot-exec itself is
// in (so whatever limits its service already has still apply), and removed when the run ends. On cgroup v2
// below the root, droot-exec first moves itself into a leaf (kSupervisorLeaf) so that its own cgroup may hand
// controllers down: what a systemd unit with Delegate=yes needs.
//
// Like runc, both cgroup versions are handled, per controller: v2 when the unified hierarchy offers that
// controller, otherwise the v1 hierarchy that carries it (hybrid hosts have both mounted, with every controller
// bound to v1). A limit that no hierarchy can enforce is an error, never silently ignored.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace droot::exec {

struct CgroupLimits {
  std::optional<uint64_t> memory_bytes;
  std::optional<uint64_t> pids;
  std::optional<uint64_t> cpu_millis;  // 1000 = one CPU
  bool any() const { return memory_bytes || pids || cpu_millis; }
};

struct CgroupMount {
  std::string mountpoint;
  std::string root;  // the cgroup that is the mount's root ("/" unless in a cgroup namespace)
  bool v2 = false;
  std::vector<std::string> controllers;  // v1 only: from the super options
};

// From /proc/self/mountinfo: every cgroup and cgroup2 mount.
std::vector<CgroupMount> parse_cgroup_mounts(const std::string& mountinfo);
// From /proc/self/cgroup: each v1 controller → its path, and "" → the v2 path.
std::map<std::string, std::string> parse_proc_cgroup(const std::string& text);

// cgroup v2: the leaf, below droot-exec's own cgroup, that droot-exec moves itself into before handing
// controllers to the run's cgroup (the "no internal processes" rule; cgroups.cc says more).
inline constexpr const char* kSupervisorLeaf = "supervisor";
// The pids of a cgroup.procs listing other than `self`: processes that would keep a v2 cgroup from delegating.
std::vector<std::string> other_processes(const std::vector<std::string>& procs, pid_t self);

// One file to write in one cgroup directory.
struct CgroupWrite {
  std::string file;
  std::string value;
};
// What each controller's limit is called in each version.
std::vector<CgroupWrite> limit_writes(const std::string& controller, const CgroupLimits& limits, bool v2);

class RunCgroup {
 public:
  // Creates `name` in each hierarchy needed by `limits` and writes the limits; throws Error (removing what
  // it made) when a controller is unusable.
  RunCgroup(const CgroupLimits& limits, const std::string& name);
  RunCgroup(const RunCgroup&) = delete;
  RunCgroup& operator=(const RunCgroup&) = delete;
  // Removes the directories (retrying while the kernel finishes tearing the last tasks down).
  ~RunCgroup();

  // Moves `pid` (and its future children) into every directory.
  void add(pid_t pid) const;
  const std::vector<std::string>& dirs() const { return dirs_; }

 private:
  void make_dir(const std::string& dir);
  std::vector<std::string> dirs_;
};

}  // namespace droot::exec
