#include "artifact_config.h"

#include <doctest/doctest.h>

#include "error.h"

using namespace droot;
using nlohmann::json;

TEST_CASE("Env values with '=', spaces, quotes and newlines survive config.json byte-exact") {
  json cfg = {{"Env", {"PATH=/usr/bin:/bin", "OPTS=a=b c", "Q=\"it's\"", "NL=line1\nline2"}},
              {"Cmd", {"serve"}},
              {"User", "app"}};
  ImageInfo img{"app:1.2", "sha256:abc", {}, "2024-01-02T03:04:05.123Z", "linux", "amd64"};
  std::string text = make_config_json(img, cfg, 1700000000, "droot-pack test");
  ArtifactConfig back = parse_config_json(text, "config.json");
  CHECK(back.config.env == std::vector<std::string>{"PATH=/usr/bin:/bin", "OPTS=a=b c", "Q=\"it's\"", "NL=line1\nline2"});
  CHECK(back.config.user == "app");
  CHECK(back.config.cmd == std::vector<std::string>{"serve"});
  CHECK(back.image.ref == "app:1.2");
  CHECK(back.source_date_epoch == 1700000000);
  CHECK(make_config_json(img, cfg, 1700000000, "droot-pack test") == text);
}

TEST_CASE(".drootenv keeps '=' in values and leaves out values with a newline") {
  json env = {"A=1", "OPTS=a=b c", "NL=x\ny", "NOEQUALS"};
  CHECK(make_drootenv(env) == "A=1\nOPTS=a=b c\n");
  CHECK(parse_drootenv("A=1\nOPTS=a=b c\n\n=bad\n") == std::vector<std::string>{"A=1", "OPTS=a=b c"});
}

TEST_CASE("config.json from a newer droot or of the wrong shape is refused clearly") {
  CHECK_THROWS_WITH(parse_config_json("{\"droot_artifact\": 2}", "c.json"), doctest::Contains("version 2"));
  CHECK_THROWS_WITH(parse_config_json("[1]", "c.json"), doctest::Contains("c.json"));
  CHECK_THROWS_WITH(parse_config_json("{\"droot_artifact\":1,\"config\":{\"Env\":\"x\"}}", "c.json"),
                    doctest::Contains("Env"));
}

TEST_CASE("RFC 3339 times as the Engine prints them") {
  CHECK(parse_rfc3339("2023-11-14T22:13:20Z") == 1700000000);
  CHECK(parse_rfc3339("2023-11-14T22:13:20.123456789Z") == 1700000000);
  CHECK(parse_rfc3339("2023-11-15T00:13:20+02:00") == 1700000000);
  CHECK_THROWS(parse_rfc3339("yesterday"));
}

TEST_CASE("only version 1 itself is version 1, not a number that truncates to it") {
  // A property tests/fuzz/artifact_config_fuzz.cc checks: get<int>() made 4294967297 (2^32 + 1) read as version 1.
  CHECK_THROWS_WITH(parse_config_json("{\"droot_artifact\": 4294967297}", "c.json"), doctest::Contains("version 4294967297"));
  CHECK_THROWS_WITH(parse_config_json("{\"droot_artifact\": 18446744073709551615}", "c.json"),
                    doctest::Contains("version 18446744073709551615"));
  CHECK(parse_config_json("{\"droot_artifact\": 1}", "c.json").version == 1);
}
