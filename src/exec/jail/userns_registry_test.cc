#include "userns_registry.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../../tests/hostile/scratch_dir.h"
#include "error.h"
#include "io.h"

using namespace droot;
using namespace droot::exec;

namespace {

struct Registry {
  testing::ScratchDir dir;
  std::string file = dir / "lib/userns-ranges";
  Registry() { setenv("DROOT_USERNS_REGISTRY", file.c_str(), 1); }
  ~Registry() { unsetenv("DROOT_USERNS_REGISTRY"); }
  std::string dest(const std::string& name) {
    std::string d = dir / name;
    mkdir(d.c_str(), 0755);
    return d;
  }
};

const UsernsRequest kAuto{UsernsMode::Auto, {}};

}  // namespace

TEST_CASE("auto gives each DEST its own range, records it under DEST and keeps it") {
  Registry reg;
  std::string a = reg.dest("a"), b = reg.dest("b");
  IdRange ra = choose_userns_range(kAuto, a, true);
  IdRange rb = choose_userns_range(kAuto, b, true);
  CHECK_FALSE(ra.overlaps(rb));
  CHECK(ra.count == 65536);
  CHECK(read_file(a + "/userns") == range_text(ra) + "\n");
  CHECK(choose_userns_range(kAuto, a, true) == ra);  // stable
  std::string text = read_file(reg.file);
  CHECK(text.find(range_text(ra) + " " + a + "\n") != std::string::npos);
  CHECK(text.find(range_text(rb) + " " + b + "\n") != std::string::npos);
  // The registry lost: the DEST's own record is put back, not a new range.
  REQUIRE(unlink(reg.file.c_str()) == 0);
  CHECK(choose_userns_range(kAuto, a, true) == ra);
  CHECK(read_file(reg.file).find(a) != std::string::npos);
  // A plain ROOT is keyed by its path, with no file written into it.
  std::string root = reg.dest("root");
  IdRange rr = choose_userns_range(kAuto, root, false);
  CHECK_FALSE(rr.overlaps(ra));
  CHECK(access((root + "/userns").c_str(), F_OK) != 0);
  CHECK(choose_userns_range(kAuto, root, false) == rr);
}

TEST_CASE("an explicit range that overlaps another DEST's, or differs from the DEST's record, is refused") {
  Registry reg;
  std::string a = reg.dest("a"), b = reg.dest("b");
  IdRange ra = choose_userns_range(kAuto, a, true);
  std::string before = read_file(reg.file);
  UsernsRequest clash{UsernsMode::Explicit, {ra.base + 1000, 65536}};
  CHECK_THROWS_WITH(choose_userns_range(clash, b, true), doctest::Contains("overlap"));
  CHECK_THROWS_WITH(choose_userns_range(clash, b, true), doctest::Contains(a.c_str()));
  CHECK(read_file(reg.file) == before);  // nothing recorded
  CHECK(access((b + "/userns").c_str(), F_OK) != 0);
  UsernsRequest other{UsernsMode::Explicit, {1000000, 65536}};
  const std::string said = "has run with host ids " + range_text(ra);
  CHECK_THROWS_WITH(choose_userns_range(other, a, true), doctest::Contains(said.c_str()));
  CHECK(choose_userns_range(other, b, true) == other.range);
  CHECK(choose_userns_range(kAuto, b, true) == other.range);  // auto keeps what the DEST has
}

TEST_CASE("a damaged DEST record or registry line is named, never silently replaced") {
  Registry reg;
  std::string a = reg.dest("a");
  { UniqueFd f = open_or_throw(a + "/userns", O_WRONLY | O_CREAT, 0644); write_all(f.get(), std::string("garbage\n"), "x"); }
  CHECK_THROWS_WITH(choose_userns_range(kAuto, a, true), doctest::Contains("not BASE:COUNT"));
  // Unparsable registry lines are kept.
  mkdir((reg.dir / "lib").c_str(), 0755);  // made by the refused call above already
  { UniqueFd f = open_or_throw(reg.file, O_WRONLY | O_CREAT, 0644); write_all(f.get(), std::string("odd line\n"), "x"); }
  std::string b = reg.dest("b");
  choose_userns_range(kAuto, b, true);
  CHECK(read_file(reg.file).find("odd line\n") != std::string::npos);
}
