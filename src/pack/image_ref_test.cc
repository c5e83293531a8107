#include "image_ref.h"

#include <doctest/doctest.h>

#include "error.h"

using namespace droot::pack;

TEST_CASE("image references split as the docker CLI splits them") {
  SUBCASE("an official image is library/ on Docker Hub, tag latest") {
    auto r = parse_image_ref("busybox");
    CHECK(r.name == "busybox");
    CHECK(r.registry == "docker.io");
    CHECK(r.repository == "library/busybox");
    CHECK(r.tag == "");
    CHECK(r.api_tag() == "latest");
    CHECK(r.auth_server() == "https://index.docker.io/v1/");
    CHECK(r.canonical() == "docker.io/library/busybox:latest");
  }
  SUBCASE("a user's repository on Docker Hub keeps its path") {
    auto r = parse_image_ref("team/app:1.2");
    CHECK(r.registry == "docker.io");
    CHECK(r.repository == "team/app");
    CHECK(r.api_tag() == "1.2");
  }
  SUBCASE("index.docker.io is Docker Hub") {
    auto r = parse_image_ref("index.docker.io/library/alpine:3");
    CHECK(r.registry == "docker.io");
    CHECK(r.auth_server() == "https://index.docker.io/v1/");
  }
  SUBCASE("host:port is a registry, and its ':' is not a tag") {
    auto r = parse_image_ref("127.0.0.1:5000/team/app");
    CHECK(r.registry == "127.0.0.1:5000");
    CHECK(r.repository == "team/app");
    CHECK(r.tag == "");
    CHECK(r.api_tag() == "latest");
    CHECK(r.auth_server() == "127.0.0.1:5000");
    CHECK(r.name == "127.0.0.1:5000/team/app");
  }
  SUBCASE("host:port with a tag") {
    auto r = parse_image_ref("registry.example.com:443/app:v2");
    CHECK(r.registry == "registry.example.com:443");
    CHECK(r.repository == "app");  // no library/ outside Docker Hub
    CHECK(r.tag == "v2");
  }
  SUBCASE("localhost and upper-case first components are registries") {
    CHECK(parse_image_ref("localhost/app").registry == "localhost");
    CHECK(parse_image_ref("MyRegistry/app").registry == "MyRegistry");
    CHECK(parse_image_ref("team/app").registry == "docker.io");
  }
  SUBCASE("a digest pins the pull, and wins over a tag") {
    std::string d = "sha256:" + std::string(64, 'a');
    auto r = parse_image_ref("127.0.0.1:5000/app@" + d);
    CHECK(r.digest == d);
    CHECK(r.api_tag() == d);
    CHECK(r.name == "127.0.0.1:5000/app");
    auto both = parse_image_ref("app:1@" + d);
    CHECK(both.tag == "1");
    CHECK(both.api_tag() == d);
    CHECK(both.canonical() == "docker.io/library/app:1@" + d);
  }
  SUBCASE("separators inside repository components") {
    CHECK(parse_image_ref("my_org/my-app.v2__x:tag_1.0-rc").repository == "my_org/my-app.v2__x");
    CHECK(parse_image_ref("a--b").repository == "library/a--b");
  }
}

TEST_CASE("what cannot be pulled is refused with the reason") {
  auto refused = [](const std::string& ref, const std::string& why) {
    try {
      parse_image_ref(ref);
      FAIL("accepted: " << ref);
    } catch (const droot::Error& e) {
      std::string msg = e.what();
      CHECK_MESSAGE(msg.find("'" + ref + "'") != std::string::npos, msg);
      CHECK_MESSAGE(msg.find(why) != std::string::npos, msg);
    }
  };
  refused("", "empty");
  refused("sha256:" + std::string(64, 'b'), "image id");
  refused(std::string(64, 'c'), "image id");
  refused("App", "lower-case");
  refused("team/App:1", "lower-case");
  refused("app@sha256:abc", "not a digest");
  refused("app@md5", "not a digest");
  refused("app:-x", "not a valid tag");
  refused("app:" + std::string(129, 't'), "not a valid tag");
  refused("app:", "not a valid tag");
  refused("127.0.0.1:5000/", "repository is missing");
  refused("bad_host:99999x/app", "not a registry");
  refused("-app", "not a valid repository name component");
  refused("a/../b", "not a valid repository name component");
  refused("a//b", "not a valid repository name component");
  refused("a b", "not a valid repository name component");
  refused(std::string(256, 'a'), "longer than 255");
}

TEST_CASE("image ids are told apart from names") {
  CHECK(is_image_id("sha256:" + std::string(64, 'f')));
  CHECK(is_image_id(std::string(64, '0')));
  CHECK_FALSE(is_image_id("abc123"));  // a short id is also a valid name: looked up locally, pulled as a name
  CHECK_FALSE(is_image_id("sha256:" + std::string(63, 'f')));
  CHECK_FALSE(is_image_id(std::string(64, 'g')));
}
