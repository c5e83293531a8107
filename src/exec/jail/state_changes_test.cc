#include "state_changes.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "../../../tests/hostile/scratch_dir.h"
#include "error.h"
#include "io.h"

using namespace droot;
using namespace droot::exec;

namespace {

void write_text(const std::string& path, const std::string& text) {
  UniqueFd fd = open_or_throw(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  write_all(fd.get(), text, path);
}

void mkdirs(const testing::ScratchDir& dir, std::initializer_list<const char*> paths) {
  for (const char* p : paths) REQUIRE(mkdir((dir / p).c_str(), 0755) == 0);
}

std::string listing(const StateChanges& s) {
  std::string out;
  for (const auto& c : s.changes)
    out += change_name(c.kind) + " " + c.path + " " + c.type +
           (c.type == "file" && c.kind != StateChange::Kind::deleted ? " " + std::to_string(c.size) : "") + "\n";
  for (const auto& p : s.run_mountpoints) out += "mountpoint " + p + "\n";
  return out;
}

StateChanges list(const testing::ScratchDir& upper, const testing::ScratchDir& release) {
  UniqueFd u = open_or_throw(upper.path(), O_RDONLY | O_DIRECTORY);
  UniqueFd r = open_or_throw(release.path(), O_RDONLY | O_DIRECTORY);
  return list_state_changes(u.get(), r.get(), upper.path());
}

}  // namespace

TEST_CASE("files the service added or changed are listed; parents copied up for them are not") {
  testing::ScratchDir release, upper;
  mkdirs(release, {"etc", "var", "var/log", "srv"});
  write_text(release / "etc/conf", "image\n");
  write_text(release / "srv/app", "binary");
  // In upper: etc/ copied up for the changed etc/conf, var/log/ for a new log, srv/ chmod-ed, a new symlink.
  mkdirs(upper, {"etc", "var", "var/log", "srv", "new-dir"});
  write_text(upper / "etc/conf", "changed by the service\n");
  write_text(upper / "var/log/app.log", "12345");
  write_text(upper / "new-dir/inner", "");
  REQUIRE(chmod((upper / "srv").c_str(), 0700) == 0);
  REQUIRE(symlink("/etc/conf", (upper / "link").c_str()) == 0);
  CHECK(listing(list(upper, release)) ==
        "modified etc/conf file 23\n"
        "added link link\n"
        "added new-dir dir\n"
        "added new-dir/inner file 0\n"
        "modified srv dir\n"
        "added var/log/app.log file 5\n");
}

TEST_CASE("whiteouts are deleted files, opaque directories replaced ones") {
  if (geteuid() != 0) return;  // mknod of a whiteout and trusted.* xattrs need root
  testing::ScratchDir release, upper;
  mkdirs(release, {"etc", "cache", "cache/old"});
  write_text(release / "etc/issue", "image\n");
  mkdirs(upper, {"etc", "cache"});
  REQUIRE(mknod((upper / "etc/issue").c_str(), S_IFCHR | 0, makedev(0, 0)) == 0);
  REQUIRE(mknod((upper / "never-there").c_str(), S_IFCHR | 0, makedev(0, 0)) == 0);
  REQUIRE(setxattr((upper / "cache").c_str(), "trusted.overlay.opaque", "y", 1, 0) == 0);
  write_text(upper / "cache/fresh", "x");
  // A character device that is not 0/0 is a device the service made, not a whiteout.
  REQUIRE(mknod((upper / "etc/null").c_str(), S_IFCHR | 0666, makedev(1, 3)) == 0);
  CHECK(listing(list(upper, release)) ==
        "replaced cache dir\n"
        "added cache/fresh file 1\n"
        "deleted etc/issue file\n"
        "added etc/null char\n"
        "deleted never-there \n");
}

TEST_CASE("mount points run made in the state are notes while they stay empty") {
  testing::ScratchDir release, upper;
  mkdirs(release, {".droot", "etc"});
  mkdirs(upper, {".droot", "etc", "proc", "data"});
  write_text(upper / ".droot/run-mountpoints", "proc\netc/hosts\ndata\n");
  write_text(upper / "etc/hosts", "");
  write_text(upper / "data/written-later", "x");
  CHECK(listing(list(upper, release)) ==
        "added data dir\n"
        "added data/written-later file 1\n"
        "mountpoint etc/hosts\n"
        "mountpoint proc\n");
}

TEST_CASE("an empty upper layer lists nothing; symlinks in it are never followed") {
  testing::ScratchDir release, upper, elsewhere;
  CHECK(list(upper, release).changes.empty());
  write_text(elsewhere / "secret", "x");
  REQUIRE(symlink(elsewhere.path().c_str(), (upper / "escape").c_str()) == 0);
  CHECK(listing(list(upper, release)) == "added escape link\n");
}
