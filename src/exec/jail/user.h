// The user a command runs as, resolved in the image's own /etc/passwd and /etc/group.
//
// Never through getpwnam(3)/getgrnam(3)/initgroups(3): those go through NSS, and glibc would load
// libnss_*.so named by the image's /etc/nsswitch.conf from the image's /lib and run it as root, before the
// jail is complete (sudo's chroot bug, CVE-2025-32463). The files are plain text; parsing them is the
// whole job.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace droot::exec {

struct PasswdEntry {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
  std::string home;
};

struct GroupEntry {
  std::string name;
  gid_t gid = 0;
  std::vector<std::string> members;
};

// Malformed lines (and NIS "+"/"-" lines) are skipped, as glibc's files backend does.
std::vector<PasswdEntry> parse_passwd(const std::string& text);
std::vector<GroupEntry> parse_group(const std::string& text);

struct Credentials {
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;  // supplementary groups, the primary group first (as initgroups(3) sets them)
  std::string name;           // empty when the uid has no passwd entry
  std::string home = "/";     // "/" when the uid has no passwd entry (docker does the same)
};

// `spec` is NAME|UID[:GROUP|GID] (docker's --user), "" meaning root. A name is looked up first, then a number
// is taken as an id: a uid without a passwd entry runs with gid 0 and no supplementary groups. Throws Error
// for a name that is in neither file.
Credentials resolve_user(const std::string& spec, const std::vector<PasswdEntry>& passwd,
                         const std::vector<GroupEntry>& groups);

// The same, reading /etc/passwd and /etc/group of the rootfs open at `root` (missing files are empty).
Credentials resolve_user_in_rootfs(int root, const std::string& spec);

// setgroups, then setresgid, then setresuid: each step needs the privilege the next one gives up.
void switch_credentials(const Credentials& cred);

}  // namespace droot::exec
