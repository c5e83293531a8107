// The image's own /etc/passwd and /etc/group (droot-exec never asks NSS), and --user: an input is
// "SPEC\0PASSWD\0GROUP". Whatever the bytes, malformed lines are skipped (never an exception), every entry
// kept formats back to a line that parses to the same entry, and resolve_user either throws droot::Error or
// gives credentials whose first group is the primary group, with no group twice and no id of -1.
#include <algorithm>
#include <string>
#include <vector>

#include "error.h"
#include "fuzz_check.h"
#include "user.h"

using namespace droot;
using namespace droot::exec;

namespace {

std::string passwd_line(const PasswdEntry& p) {
  return p.name + ":x:" + std::to_string(p.uid) + ":" + std::to_string(p.gid) + "::" + p.home + ":/bin/sh\n";
}

std::string group_line(const GroupEntry& g) {
  std::string members;
  for (const auto& m : g.members) members += (members.empty() ? "" : ",") + m;
  // A trailing empty field: a member may end in CR (its source line had more fields), and as the last field
  // of a line that CR would be taken for a CRLF line end.
  return g.name + ":x:" + std::to_string(g.gid) + ":" + members + ":\n";
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  droot::fuzz::Input in(data, size);
  const std::string spec = in.until('\0');
  const std::string passwd_text = in.until('\0');
  const std::string group_text = in.rest();

  const auto passwd = parse_passwd(passwd_text);
  const auto groups = parse_group(group_text);
  FUZZ_CHECK(passwd.size() <= passwd_text.size() / 7 + 1 && groups.size() <= group_text.size() / 4 + 1);

  std::string passwd_again, group_again;
  for (const auto& p : passwd) {
    FUZZ_CHECK(!p.name.empty() && p.name.find_first_of(":\n") == std::string::npos);
    FUZZ_CHECK(p.uid != static_cast<uid_t>(-1) && p.gid != static_cast<gid_t>(-1));
    passwd_again += passwd_line(p);
  }
  for (const auto& g : groups) {
    FUZZ_CHECK(!g.name.empty() && g.gid != static_cast<gid_t>(-1));
    for (const auto& m : g.members) FUZZ_CHECK(!m.empty() && m.find_first_of(",:\n") == std::string::npos);
    group_again += group_line(g);
  }
  const auto passwd2 = parse_passwd(passwd_again);
  const auto groups2 = parse_group(group_again);
  FUZZ_CHECK(passwd2.size() == passwd.size() && groups2.size() == groups.size());
  for (size_t i = 0; i < passwd.size(); ++i)
    FUZZ_CHECK(passwd2[i].name == passwd[i].name && passwd2[i].uid == passwd[i].uid && passwd2[i].gid == passwd[i].gid &&
               passwd2[i].home == passwd[i].home);
  for (size_t i = 0; i < groups.size(); ++i)
    FUZZ_CHECK(groups2[i].name == groups[i].name && groups2[i].gid == groups[i].gid && groups2[i].members == groups[i].members);

  Credentials cred;
  try {
    cred = resolve_user(spec, passwd, groups);
  } catch (const Error&) {
    return 0;
  }
  FUZZ_CHECK(!cred.groups.empty() && cred.groups[0] == cred.gid);
  FUZZ_CHECK(cred.uid != static_cast<uid_t>(-1) && cred.gid != static_cast<gid_t>(-1));
  FUZZ_CHECK(cred.groups.size() <= groups.size() + 1);
  auto sorted = cred.groups;
  std::sort(sorted.begin(), sorted.end());
  FUZZ_CHECK(std::adjacent_find(sorted.begin(), sorted.end()) == sorted.end());
  FUZZ_CHECK(!cred.home.empty());
  if (cred.name.empty()) FUZZ_CHECK(cred.groups.size() == 1);
  return 0;
}
