#include "tree_check.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../../tests/hostile/scratch_dir.h"
#include "error.h"
#include "hash.h"
#include "io.h"

using namespace droot;
using namespace droot::exec;

namespace {

void put(const std::string& path, const std::string& content, mode_t mode) {
  write_all(open_or_throw(path, O_WRONLY | O_CREAT | O_TRUNC, mode).get(), content, path);
  REQUIRE(::chmod(path.c_str(), mode) == 0);
}

// A deployed tree: bin/sh, a symlink, droot's metadata with a manifest describing them.
void make_tree(const testing::ScratchDir& dir) {
  REQUIRE(::mkdir((dir / "bin").c_str(), 0755) == 0);
  REQUIRE(::chmod((dir / "bin").c_str(), 0755) == 0);
  put(dir / "bin/sh", "shell", 0755);
  REQUIRE(::symlink("/bin/sh", (dir / "sh").c_str()) == 0);
  REQUIRE(::mkdir((dir / ".droot").c_str(), 0755) == 0);
  const auto uid = static_cast<uint64_t>(::geteuid()), gid = static_cast<uint64_t>(::getegid());
  std::string manifest = manifest_header() + format_manifest_line({"bin", "dir", 0755, uid, gid, 0, "", ""}) +
                         format_manifest_line({"bin/sh", "file", 0755, uid, gid, 5, "", sha256_hex("shell")}) +
                         format_manifest_line({"sh", "link", 0777, uid, gid, 0, "/bin/sh", ""});
  put(dir / ".droot/manifest.mtree", manifest, 0644);
  put(dir / ".drootenv", "A=b\n", 0644);
}

TreeCheck check_all(const testing::ScratchDir& dir) {
  UniqueFd root = open_or_throw(dir.path(), O_RDONLY | O_DIRECTORY);
  return check_tree(root.get(), dir.path());
}

std::vector<Difference> check(const testing::ScratchDir& dir) { return check_all(dir).differences; }

}  // namespace

TEST_CASE("a tree that matches its manifest is clean; droot's metadata is not part of it") {
  testing::ScratchDir dir;
  make_tree(dir);
  CHECK(check(dir).empty());
}

TEST_CASE("drift is reported: modified, missing, extra, mode") {
  testing::ScratchDir dir;
  make_tree(dir);
  put(dir / "bin/sh", "SHELL", 0755);
  put(dir / "bin/new", "x", 0644);
  REQUIRE(::chmod((dir / "bin").c_str(), 0700) == 0);
  REQUIRE(::unlink((dir / "sh").c_str()) == 0);
  auto diffs = check(dir);
  REQUIRE(diffs.size() == 4);
  CHECK((kind_name(diffs[0].kind) == "mode" && diffs[0].path == "bin"));
  CHECK((kind_name(diffs[1].kind) == "extra" && diffs[1].path == "bin/new"));
  CHECK((kind_name(diffs[2].kind) == "modified" && diffs[2].path == "bin/sh"));
  CHECK((kind_name(diffs[3].kind) == "missing" && diffs[3].path == "sh"));
}

TEST_CASE("a tree without a manifest is an error, not drift") {
  testing::ScratchDir dir;
  CHECK_THROWS_WITH(check(dir), doctest::Contains("manifest.mtree does not exist"));
}

TEST_CASE("empty mount points recorded by run are set aside; one with content, or not recorded, is drift") {
  testing::ScratchDir dir;
  make_tree(dir);
  REQUIRE(::mkdir((dir / "proc").c_str(), 0755) == 0);   // recorded, empty: not drift
  REQUIRE(::mkdir((dir / "data").c_str(), 0755) == 0);   // recorded, but something was written under it
  put(dir / "data/x", "x", 0644);
  put(dir / "bin/hosts", "", 0644);                        // recorded, empty file: not drift
  REQUIRE(::mkdir((dir / "srv").c_str(), 0755) == 0);    // empty but never recorded
  put(dir / ".droot/run-mountpoints", "proc\ndata\nbin/hosts\n", 0644);
  TreeCheck r = check_all(dir);
  CHECK(r.run_mountpoints == std::vector<std::string>{"bin/hosts", "proc"});
  REQUIRE(r.differences.size() == 3);
  CHECK((kind_name(r.differences[0].kind) == "extra" && r.differences[0].path == "data"));
  CHECK((kind_name(r.differences[1].kind) == "extra" && r.differences[1].path == "data/x"));
  CHECK((kind_name(r.differences[2].kind) == "extra" && r.differences[2].path == "srv"));
}
