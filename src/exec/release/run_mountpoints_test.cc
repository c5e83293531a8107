#include "run_mountpoints.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../../tests/hostile/scratch_dir.h"
#include "error.h"
#include "io.h"

using namespace droot;
using namespace droot::exec;

namespace {

UniqueFd open_dir(const testing::ScratchDir& dir) { return open_or_throw(dir.path(), O_RDONLY | O_DIRECTORY); }

std::string slurp(const std::string& path) {
  std::string out;
  char buf[256];
  UniqueFd fd = open_or_throw(path, O_RDONLY);
  for (ssize_t n; (n = ::read(fd.get(), buf, sizeof buf)) > 0;) out.append(buf, n);
  return out;
}

}  // namespace

TEST_CASE("run's mount points are appended to .droot/run-mountpoints, escaped, and read back") {
  testing::ScratchDir dir;
  REQUIRE(::mkdir((dir / ".droot").c_str(), 0755) == 0);
  UniqueFd root = open_dir(dir);
  record_run_mountpoints(root.get(), {"dev", "proc"});
  record_run_mountpoints(root.get(), {"srv/my data"});
  record_run_mountpoints(root.get(), {});
  CHECK(slurp(dir / ".droot/run-mountpoints") == "dev\nproc\nsrv/my\\040data\n");
  CHECK(read_run_mountpoints(root.get(), dir.path()) == std::set<std::string>{"dev", "proc", "srv/my data"});
}

TEST_CASE("a rootfs without .droot/ gets no record; a symlinked .droot/ is refused, not followed") {
  testing::ScratchDir dir, elsewhere;
  UniqueFd root = open_dir(dir);
  record_run_mountpoints(root.get(), {"dev"});
  CHECK(::access((dir / ".droot").c_str(), F_OK) != 0);
  CHECK(read_run_mountpoints(root.get(), dir.path()).empty());

  REQUIRE(::symlink(elsewhere.path().c_str(), (dir / ".droot").c_str()) == 0);
  CHECK_THROWS_WITH(record_run_mountpoints(root.get(), {"dev"}), doctest::Contains("symlink"));
  CHECK(::access((elsewhere / "run-mountpoints").c_str(), F_OK) != 0);
}

TEST_CASE("only recorded extra entries that are still empty are set aside") {
  Manifest observed;
  observed["dev"] = {"dev", "dir", 0755, 0, 0, 0, "", ""};
  observed["dev-old"] = {"dev-old", "dir", 0755, 0, 0, 0, "", ""};  // sorts between "dev" and "dev/"
  observed["etc/hosts"] = {"etc/hosts", "file", 0644, 0, 0, 0, "", ""};
  observed["etc/resolv.conf"] = {"etc/resolv.conf", "file", 0644, 0, 0, 12, "", "ab"};
  observed["data"] = {"data", "dir", 0755, 0, 0, 0, "", ""};
  observed["data/x"] = {"data/x", "file", 0644, 0, 0, 1, "", "cd"};
  std::vector<Difference> diffs;
  for (const auto& [path, e] : observed) diffs.push_back({Difference::Kind::extra, path, "not in the manifest"});
  diffs.push_back({Difference::Kind::missing, "proc", "in the manifest"});
  auto aside = set_aside_run_mountpoints(diffs, observed, {"dev", "etc/hosts", "etc/resolv.conf", "data", "proc"});
  CHECK(aside == std::vector<std::string>{"dev", "etc/hosts"});
  REQUIRE(diffs.size() == 5);
  CHECK(diffs[0].path == "data");
  CHECK(diffs[1].path == "data/x");
  CHECK(diffs[2].path == "dev-old");
  CHECK(diffs[3].path == "etc/resolv.conf");
  CHECK((diffs[4].kind == Difference::Kind::missing && diffs[4].path == "proc"));
}
