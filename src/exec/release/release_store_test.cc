#include "release_store.h"

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

std::string link_of(const std::string& path) {
  char buf[256];
  ssize_t n = ::readlink(path.c_str(), buf, sizeof buf);
  return n < 0 ? "" : std::string(buf, static_cast<size_t>(n));
}

// A release made the way deploy makes one (the name's time part is faked so tests need not sleep).
std::string add_release(const ReleaseStore& store, const std::string& name) {
  REQUIRE(::mkdirat(store.releases_fd(), name.c_str(), 0755) == 0);
  return name;
}

}  // namespace

TEST_CASE("release names") {
  CHECK(ReleaseStore::is_release_name("20240102T030405-0123456789ab"));
  CHECK_FALSE(ReleaseStore::is_release_name("20240102T030405-0123456789AB"));
  CHECK_FALSE(ReleaseStore::is_release_name(".tmp-abc"));
  CHECK_FALSE(ReleaseStore::is_release_name("20240102-030405-0123456789ab"));
}

TEST_CASE("a temp release is removed unless published; publishing names it <time>-<sha12>") {
  testing::ScratchDir dir;
  ReleaseStore store(dir / "dest", true);
  std::string temp_name;
  {
    TempRelease temp = store.create_temp();
    temp_name = temp.name();
    CHECK(temp_name.rfind(".tmp-", 0) == 0);
    write_all(open_or_throw(dir / ("dest/releases/" + temp_name + "/f"), O_WRONLY | O_CREAT, 0644).get(), "x", "f");
  }
  CHECK(::access((dir / ("dest/releases/" + temp_name)).c_str(), F_OK) != 0);

  TempRelease temp = store.create_temp();
  std::string name = store.publish(temp, std::string(64, 'c'));
  CHECK(ReleaseStore::is_release_name(name));
  CHECK(name.substr(16) == "cccccccccccc");
  CHECK(store.releases() == std::vector<std::string>{name});
}

TEST_CASE("a release published in the same second as the newest, or with the clock behind it, sorts after it") {
  testing::ScratchDir dir;
  ReleaseStore store(dir / "dest", true);
  std::vector<std::string> published;
  // Hashes that sort backwards: by name alone each new release would come before the previous one.
  for (char c : {'f', 'c', 'a'}) {
    TempRelease temp = store.create_temp();
    published.push_back(store.publish(temp, std::string(64, c)));
  }
  CHECK(store.releases() == published);
  CHECK(store.previous_of(published[2]) == published[1]);
  // A newest release from the future (the clock was stepped back since): the next one still comes after it.
  std::string future = add_release(store, "29991231T235958-ffffffffffff");
  TempRelease temp = store.create_temp();
  std::string next = store.publish(temp, std::string(64, '0'));
  CHECK(next == "29991231T235959-000000000000");
  CHECK(store.previous_of(next) == future);
}

TEST_CASE("current is switched atomically and rollback targets the predecessor") {
  testing::ScratchDir dir;
  ReleaseStore store(dir / "dest", true);
  CHECK_FALSE(store.current().has_value());
  std::string a = add_release(store, "20240101T000000-aaaaaaaaaaaa");
  std::string b = add_release(store, "20240102T000000-bbbbbbbbbbbb");
  store.switch_current(b);
  CHECK(link_of(dir / "dest/current") == "releases/" + b);
  CHECK(store.current() == b);
  CHECK(store.previous_of(b) == a);
  CHECK_FALSE(store.previous_of(a).has_value());
  CHECK(store.resolve("20240101") == a);
  CHECK(store.resolve("releases/" + b + "/") == b);
  CHECK_THROWS_WITH(store.resolve("2024"), doctest::Contains("ambiguous"));
  CHECK_THROWS_WITH(store.resolve("1999"), doctest::Contains("no release '1999'"));
}

TEST_CASE("a current that is not a link to a release is reported, not replaced") {
  testing::ScratchDir dir;
  ReleaseStore store(dir / "dest", true);
  REQUIRE(::symlink("/etc", (dir / "dest/current").c_str()) == 0);
  CHECK_THROWS_WITH(store.current(), doctest::Contains("not one of"));
  REQUIRE(::unlink((dir / "dest/current").c_str()) == 0);
  REQUIRE(::mkdir((dir / "dest/current").c_str(), 0755) == 0);
  CHECK_THROWS_WITH(store.current(), doctest::Contains("is not a symlink"));
  std::string a = add_release(store, "20240101T000000-aaaaaaaaaaaa");
  CHECK_THROWS_WITH(store.switch_current(a), doctest::Contains("is a directory"));
}

TEST_CASE("prune keeps the newest N, current and its predecessor") {
  testing::ScratchDir dir;
  ReleaseStore store(dir / "dest", true);
  std::vector<std::string> all;
  for (int day = 1; day <= 6; ++day)
    all.push_back(add_release(store, "2024010" + std::to_string(day) + "T000000-aaaaaaaaaaaa"));
  store.switch_current(all[1]);  // rolled back to the second oldest
  auto removed = store.prune(2, std::nullopt);
  CHECK(removed == std::vector<std::string>{all[2], all[3]});
  CHECK(store.releases() == std::vector<std::string>{all[0], all[1], all[4], all[5]});
  // What ran before a deploy stays too, even when it is neither new nor the predecessor.
  store.switch_current(all[5]);
  removed = store.prune(1, all[0]);
  CHECK(removed == std::vector<std::string>{all[1]});
  CHECK(store.releases() == std::vector<std::string>{all[0], all[4], all[5]});
}

TEST_CASE("stale temps are removed without following symlinks in or to them") {
  testing::ScratchDir dir;
  ReleaseStore store(dir / "dest", true);
  REQUIRE(::mkdir((dir / "victim").c_str(), 0755) == 0);
  write_all(open_or_throw(dir / "victim/keep", O_WRONLY | O_CREAT, 0644).get(), "x", "keep");
  REQUIRE(::symlink((dir / "victim").c_str(), (dir / "dest/releases/.tmp-link").c_str()) == 0);
  REQUIRE(::mkdir((dir / "dest/releases/.tmp-dir").c_str(), 0700) == 0);
  REQUIRE(::symlink((dir / "victim").c_str(), (dir / "dest/releases/.tmp-dir/in").c_str()) == 0);
  REQUIRE(::symlink("releases/x", (dir / "dest/.current.tmp-zz").c_str()) == 0);
  auto removed = store.remove_stale_temps();
  CHECK(removed.size() == 3);
  CHECK(::access((dir / "victim/keep").c_str(), F_OK) == 0);
  CHECK(store.releases().empty());
  CHECK(::access((dir / "dest/releases/.tmp-dir").c_str(), F_OK) != 0);
}
