#include "cgroups.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <sstream>

#include "error.h"
#include "io.h"

namespace droot::exec {

namespace {

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, sep)) out.push_back(item);
  return out;
}

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string unescape(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      int v = 0;
      bool ok = true;
      for (size_t j = 1; j <= 3; ++j) {
        if (s[i + j] < '0' || s[i + j] > '7') ok = false;
        v = v * 8 + (s[i + j] - '0');
      }
      if (ok) {
        out += static_cast<char>(v);
        i += 3;
        continue;
      }
    }
    out += s[i];
  }
  return out;
}

bool is_fs(const std::string& dir, long magic) {
  struct statfs st {};
  return statfs(dir.c_str(), &st) == 0 && static_cast<long>(st.f_type) == magic;
}

std::string join_cgroup(const CgroupMount& m, const std::string& path) {
  std::string rel = path;
  if (m.root != "/" && rel.compare(0, m.root.size(), m.root) == 0) rel = rel.substr(m.root.size());
  if (rel.empty() || rel == "/") return m.mountpoint;
  return m.mountpoint + (rel[0] == '/' ? "" : "/") + rel;
}

void write_cgroup_file(const std::string& dir, const CgroupWrite& w) {
  std::string path = dir + "/" + w.file;
  UniqueFd fd(open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) throw_errno("cannot open " + path);
  if (write(fd.get(), w.value.data(), w.value.size()) < 0) throw_errno("cannot write '" + w.value + "' to " + path);
}

std::string read_small(const std::string& path) {
  try {
    return read_file(path, 1 << 20);
  } catch (const Error&) {
    return {};
  }
}

const char* flag_of(const std::string& controller) {
  if (controller == "memory") return "--memory";
  if (controller == "pids") return "--pids-limit";
  return "--cpus";
}

std::vector<std::string> words(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  std::string w;
  while (in >> w) out.push_back(w);
  return out;
}

// cgroup v2's "no internal processes" rule: a cgroup other than the root may hand controllers to its children
// (cgroup.subtree_control) only while it holds no process itself, and a process can join a child only then
// (EBUSY and EOPNOTSUPP otherwise). droot-exec is in `own`, typically as the main process of a systemd unit
// with Delegate=yes, so it first moves itself into a leaf of its own, `own`/supervisor, as systemd's delegation
// rules ask of a cgroup manager (systemd.io/CGROUP_DELEGATION) and as crun does; the run cgroup is the leaf's
// sibling. The leaf stays when droot-exec exits (a cgroup cannot be removed by the process in it); systemd
// removes it with the unit's cgroup, and the next run joins it again.
void prepare_v2_parent(const std::string& own, const std::vector<std::string>& controllers) {
  // The root cgroup is exempt from the rule, and is the only one without cgroup.type (CFTYPE_NOT_ON_ROOT):
  // a "/" in /proc/self/cgroup may also be the root of a cgroup namespace, which is not exempt.
  bool is_root = access((own + "/cgroup.type").c_str(), F_OK) != 0;
  if (!is_root) {
    std::vector<std::string> others = other_processes(words(read_small(own + "/cgroup.procs")), getpid());
    if (!others.empty()) {
      std::string list;
      for (const auto& p : others) list += (list.empty() ? "" : ", ") + p;
      throw Error(std::string("run: ") + flag_of(controllers.front()) + ": cgroup v2 lets " + own +
                  " hand the " + controllers.front() + " controller to the run's cgroup only if it holds no process " +
                  "itself, and it holds process " + list + " besides droot-exec; run droot-exec as the only process " +
                  "of a delegated cgroup: a systemd unit with Delegate=yes and droot-exec as its main process " +
                  "(contrib/systemd/droot@.service), or from a shell `systemd-run --scope -p Delegate=yes droot-exec run …`");
    }
    std::string leaf = own + "/" + kSupervisorLeaf;
    if (mkdir(leaf.c_str(), 0755) < 0 && errno != EEXIST) throw_errno("run: cannot create the cgroup " + leaf);
    // "0" moves the writer's own process (all its threads).
    write_cgroup_file(leaf, {"cgroup.procs", "0"});
  }
  std::vector<std::string> enabled = words(read_small(own + "/cgroup.subtree_control"));
  for (const auto& c : controllers) {
    if (std::find(enabled.begin(), enabled.end(), c) != enabled.end()) continue;
    try {
      write_cgroup_file(own, {"cgroup.subtree_control", "+" + c});
    } catch (const Error& e) {
      throw Error(std::string("run: ") + flag_of(c) + ": cannot hand the " + c + " controller to a child of " + own +
                  " (" + e.what() + "); is the cgroup delegated to droot-exec (systemd: Delegate=yes)?");
    }
  }
}

}  // namespace

std::vector<std::string> other_processes(const std::vector<std::string>& procs, pid_t self) {
  std::vector<std::string> out;
  for (const auto& p : procs)
    if (p != std::to_string(self)) out.push_back(p);
  return out;
}

std::vector<CgroupMount> parse_cgroup_mounts(const std::string& mountinfo) {
  std::vector<CgroupMount> out;
  for (const auto& line : split(mountinfo, '\n')) {
    auto f = split(line, ' ');
    auto dash = std::find(f.begin(), f.end(), "-");
    if (f.size() < 5 || dash == f.end() || f.end() - dash < 2) continue;
    const std::string& fstype = *(dash + 1);
    if (fstype != "cgroup" && fstype != "cgroup2") continue;
    CgroupMount m;
    m.root = unescape(f[3]);
    m.mountpoint = unescape(f[4]);
    m.v2 = fstype == "cgroup2";
    if (!m.v2 && dash + 3 < f.end())
      for (const auto& opt : split(*(dash + 3), ','))
        if (opt != "rw" && opt != "ro" && opt.find('=') == std::string::npos) m.controllers.push_back(opt);
    out.push_back(std::move(m));
  }
  return out;
}

std::map<std::string, std::string> parse_proc_cgroup(const std::string& text) {
  std::map<std::string, std::string> out;
  for (const auto& line : split(text, '\n')) {
    size_t a = line.find(':');
    size_t b = a == std::string::npos ? a : line.find(':', a + 1);
    if (b == std::string::npos) continue;
    std::string controllers = line.substr(a + 1, b - a - 1);
    std::string path = line.substr(b + 1);
    if (controllers.empty()) {
      out[""] = path;
      continue;
    }
    for (const auto& c : split(controllers, ',')) out[c] = path;
  }
  return out;
}

std::vector<CgroupWrite> limit_writes(const std::string& controller, const CgroupLimits& limits, bool v2) {
  constexpr uint64_t kPeriodUs = 100000;
  if (controller == "memory" && limits.memory_bytes)
    return {{v2 ? "memory.max" : "memory.limit_in_bytes", std::to_string(*limits.memory_bytes)}};
  if (controller == "pids" && limits.pids) return {{"pids.max", std::to_string(*limits.pids)}};
  if (controller == "cpu" && limits.cpu_millis) {
    std::string quota = std::to_string(*limits.cpu_millis * kPeriodUs / 1000);
    if (v2) return {{"cpu.max", quota + " " + std::to_string(kPeriodUs)}};
    return {{"cpu.cfs_period_us", std::to_string(kPeriodUs)}, {"cpu.cfs_quota_us", quota}};
  }
  return {};
}

RunCgroup::RunCgroup(const CgroupLimits& limits, const std::string& name) {
  std::vector<CgroupMount> mounts = parse_cgroup_mounts(read_small("/proc/self/mountinfo"));
  std::map<std::string, std::string> own = parse_proc_cgroup(read_small("/proc/self/cgroup"));

  std::vector<std::string> wanted;
  if (limits.memory_bytes) wanted.push_back("memory");
  if (limits.pids) wanted.push_back("pids");
  if (limits.cpu_millis) wanted.push_back("cpu");

  // The v2 hierarchy, if mounted and really cgroup2 (a tmpfs hiding it means it is not usable here).
  const CgroupMount* unified = nullptr;
  std::string v2_own;
  std::vector<std::string> v2_available;
  for (const auto& m : mounts)
    if (m.v2 && own.count("") && is_fs(m.mountpoint, CGROUP2_SUPER_MAGIC)) {
      unified = &m;
      v2_own = join_cgroup(m, own[""]);
      v2_available = words(read_small(v2_own + "/cgroup.controllers"));
      break;
    }

  try {
    std::map<std::string, std::vector<CgroupWrite>> writes;  // run cgroup dir → limits
    std::vector<std::string> v2_enable;
    for (const auto& c : wanted) {
      if (unified && std::find(v2_available.begin(), v2_available.end(), c) != v2_available.end()) {
        v2_enable.push_back(c);
        auto w = limit_writes(c, limits, true);
        auto& list = writes[v2_own + "/" + name];
        list.insert(list.end(), w.begin(), w.end());
        continue;
      }
      auto m = std::find_if(mounts.begin(), mounts.end(), [&](const CgroupMount& m) {
        return !m.v2 && std::find(m.controllers.begin(), m.controllers.end(), c) != m.controllers.end() &&
               is_fs(m.mountpoint, CGROUP_SUPER_MAGIC);
      });
      if (m == mounts.end() || !own.count(c))
        throw Error(std::string("run: ") + flag_of(c) + " needs the " + c +
                    " cgroup controller, but this host offers it neither in cgroup v2" +
                    (unified ? " (" + v2_own + "/cgroup.controllers does not list it)" : " (no cgroup2 mount)") +
                    " nor as a mounted cgroup v1 hierarchy");
      auto w = limit_writes(c, limits, false);
      auto& list = writes[join_cgroup(*m, own[c]) + "/" + name];
      list.insert(list.end(), w.begin(), w.end());
    }
    if (!v2_enable.empty()) prepare_v2_parent(v2_own, v2_enable);
    for (const auto& [dir, list] : writes) {
      make_dir(dir);
      for (const auto& w : list) write_cgroup_file(dir, w);
    }
  } catch (...) {
    for (auto it = dirs_.rbegin(); it != dirs_.rend(); ++it) rmdir(it->c_str());
    throw;
  }
}

void RunCgroup::make_dir(const std::string& dir) {
  // A directory left by a droot-exec that was SIGKILLed with the same pid: empty, so it can go.
  if (mkdir(dir.c_str(), 0755) < 0 && !(errno == EEXIST && rmdir(dir.c_str()) == 0 && mkdir(dir.c_str(), 0755) == 0))
    throw_errno("run: cannot create the cgroup " + dir);
  dirs_.push_back(dir);
}

void RunCgroup::add(pid_t pid) const {
  for (const auto& dir : dirs_) write_cgroup_file(dir, {"cgroup.procs", std::to_string(pid)});
}

RunCgroup::~RunCgroup() {
  for (auto it = dirs_.rbegin(); it != dirs_.rend(); ++it) {
    // The jail's processes are reaped by now, but the cgroup can stay busy for a moment while the kernel
    // finishes their exit.
    int tries = 0;
    while (rmdir(it->c_str()) < 0 && errno == EBUSY && ++tries < 500) usleep(2000);
    if (access(it->c_str(), F_OK) == 0)
      std::fprintf(stderr, "droot-exec: warning: cannot remove the cgroup %s: %s\n", it->c_str(), errno_text(errno).c_str());
  }
}

}  // namespace droot::exec
