#include "downgrade.h"

#include <doctest/doctest.h>

using namespace droot;
using namespace droot::exec;

namespace {
ArtifactConfig made(const std::string& ref, const std::string& created) {
  ArtifactConfig c;
  c.image.ref = ref;
  c.image.created = created;
  return c;
}
}  // namespace

TEST_CASE("an older image is refused, the same or a newer one is not") {
  auto v1 = made("app:1", "2026-01-01T00:00:00Z"), v2 = made("app:2", "2026-02-01T10:00:00.5Z");
  auto refused = downgrade_refusal(v1, v2, "R", "/srv/app");
  REQUIRE(refused);
  CHECK(refused->find("app:1 (created 2026-01-01T00:00:00Z) is older than the current release's app:2") != std::string::npos);
  CHECK(refused->find("droot-exec rollback /srv/app") != std::string::npos);
  CHECK(refused->find("--allow-downgrade") != std::string::npos);
  CHECK_FALSE(downgrade_refusal(v2, v1, "R", "/srv/app"));
  CHECK_FALSE(downgrade_refusal(v2, v2, "R", "/srv/app"));
}

TEST_CASE("without a readable creation time on either side nothing is refused") {
  CHECK_FALSE(downgrade_refusal(made("a", ""), made("b", "2026-02-01T00:00:00Z"), "R", "/d"));
  CHECK_FALSE(downgrade_refusal(made("a", "yesterday"), made("b", "2026-02-01T00:00:00Z"), "R", "/d"));
}
