#include "userns_range.h"

#include <doctest/doctest.h>

#include "error.h"

using namespace droot;
using namespace droot::exec;

TEST_CASE("--userns values: auto, off, BASE[:COUNT]") {
  CHECK(parse_userns("auto", "--userns").mode == UsernsMode::Auto);
  CHECK(parse_userns("", "--userns").mode == UsernsMode::Auto);
  CHECK(parse_userns("off", "--userns").mode == UsernsMode::Off);
  CHECK(parse_userns("none", "DROOT_USERNS").mode == UsernsMode::Off);
  auto r = parse_userns("100000", "--userns");
  CHECK(r.mode == UsernsMode::Explicit);
  CHECK(r.range == IdRange{100000, 65536});
  CHECK(parse_userns("100000:1000", "--userns").range == IdRange{100000, 1000});
  CHECK(parse_userns("4294901759:65536", "--userns").range.end() == 4294967295u);
}

TEST_CASE("--userns refuses ranges that hold host root, are empty, or reach past the 32-bit id space") {
  CHECK_THROWS_WITH(parse_userns("0", "--userns"), doctest::Contains("host uid 0"));
  CHECK_THROWS_WITH(parse_userns("0:65536", "--userns"), doctest::Contains("host's root"));
  CHECK_THROWS_WITH(parse_userns("100000:0", "--userns"), doctest::Contains("at least 1"));
  CHECK_THROWS_WITH(parse_userns("4294901760:65536", "--userns"), doctest::Contains("4294967294"));
  CHECK_THROWS_WITH(parse_userns("4294967296", "--userns"), doctest::Contains("4294967294"));
  CHECK_THROWS_WITH(parse_userns("99999999999999999999999", "DROOT_USERNS"), doctest::Contains("DROOT_USERNS"));
  CHECK_THROWS_WITH(parse_userns("1e5", "--userns"), doctest::Contains("BASE[:COUNT]"));
  CHECK_THROWS_WITH(parse_userns("-5", "--userns"), doctest::Contains("BASE[:COUNT]"));
  CHECK_THROWS_WITH(parse_userns("5:", "--userns"), doctest::Contains("BASE[:COUNT]"));
}

TEST_CASE("subid files: NAME:START:COUNT, malformed lines skipped") {
  auto e = parse_subid("droot:3000000000:131072\n# comment\nalice:100000:65536\nbad line\nbob:x:1\nzero:5:0\n");
  REQUIRE(e.size() == 2);
  CHECK(e[0].owner == "droot");
  CHECK(e[0].range == IdRange{3000000000u, 131072});
  CHECK(subid_ranges_of(e, "droot").size() == 1);
  CHECK(subid_ranges_not_of(e, "droot") == std::vector<IdRange>{{100000, 65536}});
}

TEST_CASE("auto picks the first aligned free slot of the pool, skipping what is taken") {
  auto first = pick_free_range({}, {});
  REQUIRE(first);
  CHECK(*first == IdRange{kAutoPoolStart, 65536});
  auto second = pick_free_range({}, {*first});
  CHECK(*second == IdRange{kAutoPoolStart + 65536, 65536});
  // A taken range that is not aligned blocks every slot it touches.
  auto third = pick_free_range({}, {{kAutoPoolStart + 100, 200000}});
  CHECK(*third == IdRange{kAutoPoolStart + 4 * 65536, 65536});
  // The droot user's subordinate ids: slots inside them only (aligned within), and none when all are taken.
  std::vector<IdRange> pool{{100000, 3 * 65536}};
  auto sub = pick_free_range(pool, {});
  CHECK(*sub == IdRange{131072, 65536});
  CHECK(*pick_free_range(pool, {{131072, 65536}}) == IdRange{196608, 65536});
  CHECK_FALSE(pick_free_range(pool, {{131072, 2 * 65536}}));
  CHECK_FALSE(pick_free_range({{100000, 1000}}, {}));  // too small for one slot
  // The whole default pool taken.
  CHECK_FALSE(pick_free_range({}, {{kAutoPoolStart, kAutoPoolEnd - kAutoPoolStart}}));
  auto last = pick_free_range({}, {{kAutoPoolStart, kAutoPoolEnd - kAutoPoolStart - 65536}});
  REQUIRE(last);
  CHECK(last->end() == kAutoPoolEnd);
  CHECK(last->end() <= kIdSpaceEnd);
}

TEST_CASE("a slot is usable only where both subuid and subgid give it") {
  auto both = intersect({{100000, 200000}}, {{150000, 200000}, {900000, 10}});
  CHECK(both == std::vector<IdRange>{{150000, 150000}});
}
