#include "local_image.h"

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "error.h"
#include "hash.h"

using namespace droot;
using namespace droot::pack;
using nlohmann::json;

namespace {

// A scratch OCI layout: blobs written by content, index.json by hand.
struct Layout {
  std::filesystem::path dir = std::filesystem::path("/tmp") / ("droot-local-image-test-" + std::to_string(::getpid()));
  Layout() {
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir / "blobs" / "sha256");
  }
  ~Layout() { std::filesystem::remove_all(dir); }
  json put(const std::string& content, const std::string& media_type) {
    std::string hex = sha256_hex(content);
    std::ofstream(dir / "blobs" / "sha256" / hex, std::ios::binary) << content;
    return {{"mediaType", media_type}, {"digest", "sha256:" + hex}, {"size", content.size()}};
  }
  json image(const std::string& arch, const std::string& layer_content) {
    json layer = put(layer_content, "application/vnd.oci.image.layer.v1.tar");
    json config = put(json{{"architecture", arch}, {"os", "linux"}, {"created", "2024-01-02T03:04:05Z"},
                           {"config", {{"Env", {"A=1"}}, {"User", "app"}}}}.dump(),
                      "application/vnd.oci.image.config.v1+json");
    return put(json{{"schemaVersion", 2}, {"config", config}, {"layers", {layer}}}.dump(),
               "application/vnd.oci.image.manifest.v1+json");
  }
  void index(const json& manifests) { std::ofstream(dir / "index.json") << json{{"schemaVersion", 2}, {"manifests", manifests}}.dump(); }
  LocalImage open(const std::string& ref = "", std::optional<Platform> p = std::nullopt) {
    return open_local_image(ImageSource{SourceKind::oci_layout, dir.string(), ref, {}}, "oci:test", p);
  }
};

json named(json desc, const std::string& name) {
  desc["annotations"] = {{"org.opencontainers.image.ref.name", name}};
  return desc;
}

}  // namespace

TEST_CASE("an OCI layout: the image by REF, its config and layers with their digests") {
  Layout l;
  json a = l.image("amd64", "layer-a");
  json b = l.image("arm64", "layer-b");
  l.index({named(a, "v1"), named(b, "v2")});
  LocalImage img = l.open("v2");
  CHECK(img.config["architecture"] == "arm64");
  REQUIRE(img.layers.size() == 1);
  CHECK(img.layers[0].digest == "sha256:" + sha256_hex("layer-b"));
  CHECK(img.layers[0].blob.size == 7);
  ImageInfo info = local_image_info(img, "oci:test:v2");
  CHECK(info.ref == "oci:test:v2");
  CHECK(info.architecture == "arm64");
  CHECK(info.id == img.config_digest);
  CHECK(local_image_config(img)["User"] == "app");
  CHECK_THROWS_WITH_AS(l.open(), doctest::Contains("name one as oci:test:REF (it names: v1, v2)"), Error);
  CHECK_THROWS_WITH_AS(l.open("v3"), doctest::Contains("no image named v3"), Error);
  CHECK_THROWS_WITH_AS(l.open("v1", parse_platform("linux/arm64")), doctest::Contains("not for --platform linux/arm64"), Error);
}

TEST_CASE("a multi-platform index is resolved by --platform, skipping attestations") {
  Layout l;
  json a = l.image("amd64", "layer-a");
  json b = l.image("arm64", "layer-b");
  a["platform"] = {{"os", "linux"}, {"architecture", "amd64"}};
  b["platform"] = {{"os", "linux"}, {"architecture", "arm64"}, {"variant", "v8"}};
  json att = b;
  att["platform"] = {{"os", "unknown"}, {"architecture", "unknown"}};
  json idx = l.put(json{{"schemaVersion", 2}, {"mediaType", "application/vnd.oci.image.index.v1+json"}, {"manifests", {att, a, b}}}.dump(),
                   "application/vnd.oci.image.index.v1+json");
  l.index(json::array({named(idx, "multi")}));
  CHECK(l.open("multi", parse_platform("linux/arm64")).config["architecture"] == "arm64");
  CHECK(l.open("multi", parse_platform("linux/amd64")).config["architecture"] == "amd64");
  CHECK_THROWS_WITH_AS(l.open("multi", parse_platform("linux/riscv64")),
                       doctest::Contains("no image for --platform linux/riscv64; it holds: unknown/unknown, linux/amd64, linux/arm64/v8"), Error);
}

TEST_CASE("a corrupt layout: bad JSON, a blob of the wrong size or digest, a missing blob") {
  Layout l;
  json a = l.image("amd64", "layer-a");
  std::ofstream(l.dir / "index.json") << "{\"manifests\": [";
  CHECK_THROWS_WITH_AS(l.open(), doctest::Contains("index.json is not valid JSON"), Error);
  json wrong_size = a;
  wrong_size["size"] = 1;
  l.index(json::array({wrong_size}));
  CHECK_THROWS_WITH_AS(l.open(), doctest::Contains("not the 1 its descriptor says"), Error);
  // The manifest blob rewritten in place: its digest no longer matches.
  std::string hex = a["digest"].get<std::string>().substr(7);
  std::ofstream(l.dir / "blobs" / "sha256" / hex) << "{}";
  json no_size = a;
  no_size.erase("size");
  l.index(json::array({no_size}));
  CHECK_THROWS_WITH_AS(l.open(), doctest::Contains("tampered with"), Error);
  std::filesystem::remove(l.dir / "blobs" / "sha256" / hex);
  const std::string missing = "has no blobs/sha256/" + hex;
  CHECK_THROWS_WITH_AS(l.open(), doctest::Contains(missing.c_str()), Error);
}
