#include "remove_tree.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../../tests/hostile/scratch_dir.h"
#include "error.h"
#include "io.h"

using namespace droot;
using namespace droot::exec;

TEST_CASE("remove_tree removes read-only and deep trees and never follows a symlink") {
  testing::ScratchDir dir;
  REQUIRE(::mkdir((dir / "victim").c_str(), 0755) == 0);
  write_all(open_or_throw(dir / "victim/keep", O_WRONLY | O_CREAT, 0644).get(), "x", "keep");
  std::string path = dir / "t";
  REQUIRE(::mkdir(path.c_str(), 0755) == 0);
  REQUIRE(::symlink((dir / "victim").c_str(), (path + "/link").c_str()) == 0);
  for (int i = 0; i < 50; ++i) {
    path += "/d";
    REQUIRE(::mkdir(path.c_str(), 0755) == 0);
  }
  write_all(open_or_throw(path + "/f", O_WRONLY | O_CREAT, 0644).get(), "x", "f");
  REQUIRE(::chmod(path.c_str(), 0555) == 0);
  UniqueFd parent = open_or_throw(dir.path(), O_RDONLY | O_DIRECTORY);
  remove_tree(parent.get(), "t", dir / "t");
  CHECK(::access((dir / "t").c_str(), F_OK) != 0);
  CHECK(::access((dir / "victim/keep").c_str(), F_OK) == 0);
  CHECK_NOTHROW(remove_tree(parent.get(), "t", dir / "t"));  // already gone
}
