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
  CHECK_THROWS_WITH(parse_config_json("{\"droot_artifact\": 3}", "c.json"),
                    doctest::Contains("version 3 is not supported (this droot reads versions 1 and 2; upgrade droot-exec)"));
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

TEST_CASE("a delta's config.json is version 2 and names its bases in order; a full one stays version 1") {
  ImageInfo img{"app:2", "sha256:new", {}, "2024-01-02T03:04:05Z", "linux", "amd64"};
  const std::string full = make_config_json(img, json::object(), 1700000000, "p");
  CHECK(full.find("\"delta\"") == std::string::npos);
  CHECK(full.find("\"droot_artifact\": 1") != std::string::npos);
  CHECK(full == make_config_json(img, json::object(), 1700000000, "p", {}));
  const ArtifactConfig full_back = parse_config_json(full, "c.json");
  CHECK(full_back.version == 1);
  CHECK_FALSE(full_back.is_delta());

  std::vector<DeltaBase> bases{{"app:1", "sha256:one", std::string(64, 'a')}, {"app:0", "sha256:zero", std::string(64, '0')}};
  const std::string delta = make_config_json(img, json::object(), 1700000000, "p", bases);
  CHECK(delta.find("\"droot_artifact\": 2") != std::string::npos);
  const ArtifactConfig back = parse_config_json(delta, "c.json");
  CHECK(back.version == 2);
  CHECK(back.is_delta());
  CHECK(back.delta_bases == bases);
  CHECK(back.image.ref == "app:2");
  CHECK(json::parse(delta)["delta"]["bases"][1]["image"] == "app:0");
}

TEST_CASE("delta objects of the wrong version or shape are refused") {
  const std::string hex(64, 'f');
  CHECK_THROWS_WITH(parse_config_json("{\"droot_artifact\": 2}", "c.json"), doctest::Contains("needs a \"delta\" object"));
  CHECK_THROWS_WITH(parse_config_json("{\"droot_artifact\": 2, \"delta\": {}}", "c.json"), doctest::Contains("non-empty"));
  CHECK_THROWS_WITH(parse_config_json("{\"droot_artifact\": 2, \"delta\": {\"bases\": []}}", "c.json"),
                    doctest::Contains("non-empty"));
  CHECK_THROWS_WITH(parse_config_json("{\"droot_artifact\": 2, \"delta\": {\"bases\": [1]}}", "c.json"),
                    doctest::Contains("delta.bases[0] must be an object"));
  CHECK_THROWS_WITH(parse_config_json("{\"droot_artifact\": 2, \"delta\": {\"bases\": [{\"image\": \"a\"}]}}", "c.json"),
                    doctest::Contains("payload_sha256 must be 64"));
  CHECK_THROWS_WITH(parse_config_json("{\"droot_artifact\": 2, \"delta\": {\"bases\": [{\"payload_sha256\": \"" +
                                          std::string(64, 'F') + "\"}]}}", "c.json"),
                    doctest::Contains("payload_sha256 must be 64"));
  CHECK_THROWS_WITH(parse_config_json("{\"droot_artifact\": 1, \"delta\": {\"bases\": [{\"payload_sha256\": \"" + hex + "\"}]}}",
                                      "c.json"),
                    doctest::Contains("must not have a \"delta\""));
  auto ok = parse_config_json("{\"droot_artifact\": 2, \"delta\": {\"bases\": [{\"payload_sha256\": \"" + hex + "\"}]}}", "c.json");
  REQUIRE(ok.delta_bases.size() == 1);
  CHECK(ok.delta_bases[0].payload_sha256 == hex);
  CHECK(ok.delta_bases[0].image.empty());
}

TEST_CASE("the count of special files dropped under dev/ is written only when there are some, and read back") {
  ImageInfo img{"deb:12", "sha256:d", {}, "2024-01-02T03:04:05Z", "linux", "amd64"};
  // None dropped: the very bytes every artifact had before the field existed.
  const std::string none = make_config_json(img, json::object(), 1700000000, "p");
  CHECK(none == make_config_json(img, json::object(), 1700000000, "p", {}, 0));
  CHECK(none.find("dropped") == std::string::npos);
  CHECK(parse_config_json(none, "c.json").dropped_dev_special_files == 0);

  const std::string some = make_config_json(img, json::object(), 1700000000, "p", {}, 12);
  CHECK(some.find("\"dropped_dev_special_files\": 12") != std::string::npos);
  CHECK(json::parse(some).size() == json::parse(none).size() + 1);
  const ArtifactConfig back = parse_config_json(some, "c.json");
  CHECK(back.dropped_dev_special_files == 12);
  CHECK(back.version == 1);
  CHECK(make_config_json(img, json::object(), 1700000000, "p", {}, back.dropped_dev_special_files) == some);

  // In a delta too.
  std::vector<DeltaBase> bases{{"deb:11", "sha256:e", std::string(64, 'a')}};
  const ArtifactConfig delta = parse_config_json(make_config_json(img, json::object(), 1, "p", bases, 3), "c.json");
  CHECK(delta.is_delta());
  CHECK(delta.dropped_dev_special_files == 3);

  // An explicit 0 is accepted; anything but a non-negative integer is not.
  CHECK(parse_config_json("{\"droot_artifact\": 1, \"dropped_dev_special_files\": 0}", "c.json").dropped_dev_special_files == 0);
  for (const char* bad : {"-1", "1.5", "\"3\"", "null", "{}"})
    CHECK_THROWS_WITH(parse_config_json(std::string("{\"droot_artifact\": 1, \"dropped_dev_special_files\": ") + bad + "}", "c.json"),
                      doctest::Contains("c.json: dropped_dev_special_files must be a non-negative integer"));
}
