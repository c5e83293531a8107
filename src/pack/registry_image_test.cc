#include "registry_image.h"

#include <doctest/doctest.h>

#include "error.h"
#include "image_ref.h"
#include "image_source.h"

using namespace droot;
using namespace droot::pack;
using nlohmann::json;

namespace {

std::string digest_of(char c) { return "sha256:" + std::string(64, c); }

json descriptor(char c, uint64_t size, const std::string& arch = "", const std::string& os = "linux") {
  json d = {{"mediaType", "application/vnd.oci.image.manifest.v1+json"}, {"digest", digest_of(c)}, {"size", size}};
  if (!arch.empty()) d["platform"] = {{"os", os}, {"architecture", arch}};
  return d;
}

json image_manifest(const std::string& config_type = "application/vnd.oci.image.config.v1+json") {
  return {{"schemaVersion", 2},
          {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
          {"config", {{"mediaType", config_type}, {"digest", digest_of('c')}, {"size", 100}}},
          {"layers", {{{"mediaType", "application/vnd.oci.image.layer.v1.tar+gzip"}, {"digest", digest_of('1')}, {"size", 10}},
                      {{"mediaType", "application/vnd.oci.image.layer.v1.tar+gzip"}, {"digest", digest_of('2')}, {"size", 20}}}}};
}

}  // namespace

TEST_CASE("docker:// references: registry, repository, tag or digest, as docker resolves them") {
  auto s = parse_image_source("docker://busybox");
  CHECK(s.kind == SourceKind::registry);
  CHECK(s.path == "busybox");
  auto hub = parse_image_ref(s.path);
  CHECK(hub.registry == "docker.io");
  CHECK(hub.repository == "library/busybox");
  CHECK(hub.api_tag() == "latest");
  auto local = parse_image_ref(parse_image_source("docker://127.0.0.1:5000/team/x:1").path);
  CHECK(local.registry == "127.0.0.1:5000");
  CHECK(local.repository == "team/x");
  CHECK(local.tag == "1");
  auto pinned = parse_image_ref(parse_image_source("docker://localhost:5000/x@" + digest_of('a')).path);
  CHECK(pinned.registry == "localhost:5000");
  CHECK(pinned.digest == digest_of('a'));
  CHECK(parse_image_ref("ghcr.io/o/r:v1").repository == "o/r");
  CHECK_THROWS_WITH_AS(parse_image_source("docker://"), doctest::Contains("no image after 'docker://'"), Error);
  CHECK_THROWS_WITH_AS(parse_image_source("docker://Reg.example.com/App:1"), doctest::Contains("docker://Reg.example.com/App:1: "), Error);
  CHECK_THROWS_WITH_AS(parse_image_source("docker://x@sha256:12"), doctest::Contains("is not a digest"), Error);
  CHECK_THROWS_WITH_AS(parse_image_source("docker://" + std::string(64, 'a')), doctest::Contains("image id"), Error);
}

TEST_CASE("manifests: index or image by mediaType, Content-Type or shape; schema 1 and artifacts refused") {
  CHECK(classify_manifest(image_manifest(), "", "m") == ManifestKind::image);
  json docker = image_manifest("application/vnd.docker.container.image.v1+json");
  docker["mediaType"] = "application/vnd.docker.distribution.manifest.v2+json";
  CHECK(classify_manifest(docker, "", "m") == ManifestKind::image);
  json list = {{"schemaVersion", 2}, {"manifests", {descriptor('a', 5, "amd64")}}};
  CHECK(classify_manifest(list, "application/vnd.docker.distribution.manifest.list.v2+json; charset=utf-8", "m") ==
        ManifestKind::index);
  CHECK(classify_manifest(list, "", "m") == ManifestKind::index);  // no type at all: its shape
  json untyped = image_manifest();
  untyped.erase("mediaType");
  CHECK(classify_manifest(untyped, "application/vnd.oci.image.manifest.v1+json", "m") == ManifestKind::image);

  CHECK_THROWS_WITH_AS(classify_manifest(json{{"schemaVersion", 1}, {"fsLayers", json::array()}}, "", "docker://x: manifest 1"),
                       doctest::Contains("docker://x: manifest 1 is a Docker schema 1 manifest"), Error);
  CHECK_THROWS_WITH_AS(classify_manifest(json{{"schemaVersion", 2}}, "application/vnd.docker.distribution.manifest.v1+prettyjws", "m"),
                       doctest::Contains("schema 1"), Error);
  CHECK_THROWS_WITH_AS(classify_manifest(image_manifest("application/vnd.cncf.helm.config.v1+json"), "", "m"),
                       doctest::Contains("not a container image: its config is a application/vnd.cncf.helm.config.v1+json"), Error);
  CHECK_THROWS_WITH_AS(classify_manifest(json{{"mediaType", "text/plain"}}, "", "m"), doctest::Contains("not an image manifest or index"), Error);
  CHECK_THROWS_WITH_AS(classify_manifest(json{{"mediaType", "application/vnd.oci.image.index.v1+json"}}, "", "m"),
                       doctest::Contains("without a \"manifests\" array"), Error);
}

TEST_CASE("an index: the platform's manifest (the shared selection), attestations skipped, descriptors checked") {
  json index = {{"manifests",
                 {descriptor('u', 7, "unknown", "unknown"), descriptor('a', 5, "amd64"), descriptor('b', 6, "arm64")}}};
  CHECK(choose_from_index(index, Platform{"linux", "arm64", ""}, "i")["digest"] == digest_of('b'));
  CHECK(choose_from_index(index, Platform{"linux", "amd64", ""}, "i")["digest"] == digest_of('a'));
  CHECK(choose_from_index(index, std::nullopt, "i")["digest"] == digest_of(host_platform().architecture == "arm64" ? 'b' : 'a'));
  CHECK_THROWS_WITH_AS(choose_from_index(index, Platform{"linux", "s390x", ""}, "docker://x (index sha256:…)"),
                       doctest::Contains("has no image for --platform linux/s390x; it holds: unknown/unknown, linux/amd64, linux/arm64"),
                       Error);
  json bad = {{"manifests", {{{"digest", "md5:00"}, {"size", 1}, {"platform", {{"os", "linux"}, {"architecture", "amd64"}}}}}}};
  CHECK_THROWS_WITH_AS(choose_from_index(bad, Platform{"linux", "amd64", ""}, "i"), doctest::Contains("is not sha256:<64 hex digits>"), Error);
  json nosize = {{"manifests", {descriptor('a', 5, "amd64")}}};
  nosize["manifests"][0].erase("size");
  CHECK_THROWS_WITH_AS(choose_from_index(nosize, Platform{"linux", "amd64", ""}, "i"), doctest::Contains("has no size"), Error);
}

TEST_CASE("an image manifest's blobs: config first, layers bottom up, each with digest and size") {
  auto blobs = manifest_blobs(image_manifest(), "m");
  REQUIRE(blobs.size() == 3);
  CHECK(blobs[0]["digest"] == digest_of('c'));
  CHECK(blobs[1]["digest"] == digest_of('1'));
  CHECK(blobs[2]["digest"] == digest_of('2'));
  json huge = image_manifest();
  huge["config"]["size"] = 1ull << 30;
  CHECK_THROWS_WITH_AS(manifest_blobs(huge, "m"), doctest::Contains("more than the 16777216 droot-pack accepts"), Error);
  json negative = image_manifest();
  negative["layers"][1]["size"] = -1;
  CHECK_THROWS_WITH_AS(manifest_blobs(negative, "m"), doctest::Contains(("m: layer: descriptor " + digest_of('2') + " has no size").c_str()), Error);
  json traversal = image_manifest();
  traversal["layers"][0]["digest"] = "sha256:../../etc/passwd";
  CHECK_THROWS_AS(manifest_blobs(traversal, "m"), Error);
}
