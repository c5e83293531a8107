#include "platform.h"

#include <doctest/doctest.h>

#include "error.h"

using namespace droot;
using namespace droot::pack;

TEST_CASE("--platform parses os/arch and os/arch/variant and refuses anything else") {
  CHECK(parse_platform("linux/arm64").str() == "linux/arm64");
  Platform v = parse_platform("linux/arm/v7");
  CHECK(v.os == "linux");
  CHECK(v.architecture == "arm");
  CHECK(v.variant == "v7");
  for (const char* bad : {"linux", "linux/", "/arm64", "linux//v7", "linux/arm/", "linux/arm/v7/x", ""})
    CHECK_THROWS_WITH_AS(parse_platform(bad), doctest::Contains("--platform"), Error);
}

TEST_CASE("a descriptor's platform matches; a variant counts only when asked for") {
  nlohmann::json arm = {{"os", "linux"}, {"architecture", "arm64"}, {"variant", "v8"}};
  CHECK(platform_matches(parse_platform("linux/arm64"), arm));
  CHECK(platform_matches(parse_platform("linux/arm64/v8"), arm));
  CHECK_FALSE(platform_matches(parse_platform("linux/arm64/v9"), arm));
  CHECK_FALSE(platform_matches(parse_platform("linux/amd64"), arm));
  CHECK_FALSE(platform_matches(parse_platform("linux/amd64"), nlohmann::json()));
  nlohmann::json manifests = nlohmann::json::array({{{"platform", {{"os", "linux"}, {"architecture", "amd64"}}}}, {{"platform", arm}}});
  CHECK(describe_platforms(manifests) == "linux/amd64, linux/arm64/v8");
  CHECK(host_platform().os == "linux");
}
