#include "user.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <optional>

#include "error.h"
#include "rootfs_path.h"

namespace droot::exec {

namespace {

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t pos = 0;
  for (;;) {
    size_t next = s.find(sep, pos);
    out.push_back(s.substr(pos, next == std::string::npos ? std::string::npos : next - pos));
    if (next == std::string::npos) return out;
    pos = next + 1;
  }
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out = split(text, '\n');
  for (auto& l : out)
    if (!l.empty() && l.back() == '\r') l.pop_back();
  return out;
}

// A decimal id below 2^32-1: (uid_t)-1 means "unchanged" to setresuid and is no one's id.
std::optional<uint32_t> parse_id(const std::string& s) {
  if (s.empty() || s.size() > 10 || !std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); }))
    return std::nullopt;
  unsigned long long v = std::stoull(s);
  if (v >= 0xffffffffULL) return std::nullopt;
  return static_cast<uint32_t>(v);
}

bool skipped_line(const std::string& line) { return line.empty() || line[0] == '#' || line[0] == '+' || line[0] == '-'; }

}  // namespace

std::vector<PasswdEntry> parse_passwd(const std::string& text) {
  std::vector<PasswdEntry> out;
  for (const auto& line : lines(text)) {
    if (skipped_line(line)) continue;
    auto f = split(line, ':');
    if (f.size() < 7 || f[0].empty()) continue;
    auto uid = parse_id(f[2]);
    auto gid = parse_id(f[3]);
    if (!uid || !gid) continue;
    out.push_back({f[0], *uid, *gid, f[5]});
  }
  return out;
}

std::vector<GroupEntry> parse_group(const std::string& text) {
  std::vector<GroupEntry> out;
  for (const auto& line : lines(text)) {
    if (skipped_line(line)) continue;
    auto f = split(line, ':');
    if (f.size() < 4 || f[0].empty()) continue;
    auto gid = parse_id(f[2]);
    if (!gid) continue;
    GroupEntry g{f[0], *gid, {}};
    if (!f[3].empty())
      for (auto& m : split(f[3], ','))
        if (!m.empty()) g.members.push_back(m);
    out.push_back(std::move(g));
  }
  return out;
}

Credentials resolve_user(const std::string& spec, const std::vector<PasswdEntry>& passwd,
                         const std::vector<GroupEntry>& groups) {
  size_t colon = spec.find(':');
  std::string user = spec.substr(0, colon);
  std::optional<std::string> group;
  if (colon != std::string::npos) group = spec.substr(colon + 1);
  if (user.empty() && group) throw Error("run: --user '" + spec + "': the user part is empty");
  if (user.empty()) user.assign(1, '0');  // root

  Credentials cred;
  const PasswdEntry* pw = nullptr;
  for (const auto& p : passwd)
    if (p.name == user) {
      pw = &p;
      break;
    }
  if (!pw) {
    auto uid = parse_id(user);
    if (!uid) throw Error("run: user '" + user + "' not found in the image's /etc/passwd");
    for (const auto& p : passwd)
      if (p.uid == *uid) {
        pw = &p;
        break;
      }
    cred.uid = *uid;
  }
  if (pw) {
    cred.uid = pw->uid;
    cred.gid = pw->gid;
    cred.name = pw->name;
    if (!pw->home.empty()) cred.home = pw->home;
  }

  if (group) {
    if (group->empty()) throw Error("run: --user '" + spec + "': the group part is empty");
    auto it = std::find_if(groups.begin(), groups.end(), [&](const GroupEntry& g) { return g.name == *group; });
    if (it != groups.end()) {
      cred.gid = it->gid;
    } else if (auto gid = parse_id(*group)) {
      cred.gid = *gid;
    } else {
      throw Error("run: group '" + *group + "' not found in the image's /etc/group");
    }
  }

  cred.groups.push_back(cred.gid);
  if (!cred.name.empty())
    for (const auto& g : groups)
      if (std::find(g.members.begin(), g.members.end(), cred.name) != g.members.end() &&
          std::find(cred.groups.begin(), cred.groups.end(), g.gid) == cred.groups.end())
        cred.groups.push_back(g.gid);
  return cred;
}

Credentials resolve_user_in_rootfs(int root, const std::string& spec) {
  std::string passwd, group;
  read_rootfs_file(root, "/etc/passwd", passwd);
  read_rootfs_file(root, "/etc/group", group);
  return resolve_user(spec, parse_passwd(passwd), parse_group(group));
}

// Raw system calls: glibc's wrappers apply a change to every thread of the process they believe they run in,
// and the command's process runs in PID 1's memory (init.cc). Credentials belong to the calling task alone.
void switch_credentials(const Credentials& cred) {
  if (syscall(SYS_setgroups, cred.groups.size(), cred.groups.data()) < 0)
    throw_errno("cannot set the supplementary groups of uid " + std::to_string(cred.uid));
  if (syscall(SYS_setresgid, cred.gid, cred.gid, cred.gid) < 0)
    throw_errno("cannot switch to gid " + std::to_string(cred.gid));
  if (syscall(SYS_setresuid, cred.uid, cred.uid, cred.uid) < 0)
    throw_errno("cannot switch to uid " + std::to_string(cred.uid));
}

}  // namespace droot::exec
