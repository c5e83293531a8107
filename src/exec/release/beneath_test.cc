#include "beneath.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../../tests/hostile/scratch_dir.h"
#include "error.h"
#include "io.h"

using namespace droot;
using namespace droot::exec;

TEST_CASE("archive paths are split, '.' and empty components dropped") {
  CHECK(split_entry_path("./usr//bin/sh") == std::vector<std::string>{"usr", "bin", "sh"});
  CHECK(split_entry_path("etc/") == std::vector<std::string>{"etc"});
  CHECK(split_entry_path(".").empty());
  CHECK(split_entry_path("./").empty());
  CHECK(join_path({"a", "b", "c"}, 2) == "a/b");
}

TEST_CASE("absolute paths and '..' components are refused") {
  CHECK_THROWS_WITH(split_entry_path("/etc/passwd"), doctest::Contains("absolute"));
  CHECK_THROWS_WITH(split_entry_path("../x"), doctest::Contains(".."));
  CHECK_THROWS_WITH(split_entry_path("a/b/../../../x"), doctest::Contains(".."));
  CHECK_THROWS_WITH(split_entry_path("a/.."), doctest::Contains(".."));
  CHECK_THROWS(split_entry_path(""));
  CHECK_NOTHROW(split_entry_path("a/..b/c.."));
}

TEST_CASE("open_beneath never passes a symlink and never leaves the root") {
  testing::ScratchDir dir;
  REQUIRE(::mkdir((dir / "root").c_str(), 0755) == 0);
  REQUIRE(::mkdir((dir / "root/real").c_str(), 0755) == 0);
  REQUIRE(::mkdir((dir / "outside").c_str(), 0755) == 0);
  REQUIRE(::symlink("../outside", (dir / "root/out").c_str()) == 0);
  REQUIRE(::symlink("real", (dir / "root/inner").c_str()) == 0);
  UniqueFd root = open_or_throw(dir / "root", O_RDONLY | O_DIRECTORY);

  CHECK(open_beneath(root.get(), "real", O_PATH | O_DIRECTORY).valid());
  CHECK(open_beneath(root.get(), "", O_PATH | O_DIRECTORY).valid());
  UniqueFd fd = open_beneath(root.get(), "out", O_PATH | O_DIRECTORY);
  CHECK_FALSE(fd.valid());
  CHECK(errno == ELOOP);
  // Even a symlink that stays inside is not followed.
  CHECK_FALSE(open_beneath(root.get(), "inner", O_PATH | O_DIRECTORY).valid());
  CHECK_FALSE(open_beneath(root.get(), "real/../../outside", O_PATH | O_DIRECTORY).valid());
  CHECK(errno == EXDEV);
  CHECK_THROWS_WITH(open_beneath_or_throw(root.get(), "out/x", O_PATH, "opening out/x"),
                    doctest::Contains("a symlink is in the way"));
}

TEST_CASE("read_file_beneath reads a small file and refuses a symlinked one") {
  testing::ScratchDir dir;
  write_all(open_or_throw(dir / "f", O_WRONLY | O_CREAT, 0644).get(), "hello", "f");
  REQUIRE(::symlink("/etc/passwd", (dir / "l").c_str()) == 0);
  UniqueFd root = open_or_throw(dir.path(), O_RDONLY | O_DIRECTORY);
  CHECK(read_file_beneath(root.get(), "f", dir.path(), 100) == "hello");
  CHECK_THROWS_WITH(read_file_beneath(root.get(), "f", dir.path(), 2), doctest::Contains("at most 2 bytes"));
  CHECK_THROWS_WITH(read_file_beneath(root.get(), "l", dir.path(), 100), doctest::Contains("symlink"));
  CHECK_THROWS_WITH(read_file_beneath(root.get(), "missing", dir.path(), 100), doctest::Contains("does not exist"));
}
