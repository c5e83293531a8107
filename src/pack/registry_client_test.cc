#include "registry_client.h"

#include <doctest/doctest.h>

#include "error.h"

using namespace droot;
using namespace droot::pack;

TEST_CASE("WWW-Authenticate: Docker Hub's Bearer challenge, distribution's Basic, several at once") {
  auto hub = parse_www_authenticate(
      R"(Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull")");
  REQUIRE(hub.size() == 1);
  CHECK(hub[0].scheme == "bearer");
  CHECK(hub[0].params.at("realm") == "https://auth.docker.io/token");
  CHECK(hub[0].params.at("service") == "registry.docker.io");
  CHECK(hub[0].params.at("scope") == "repository:library/busybox:pull");

  auto basic = parse_www_authenticate(R"(Basic realm="droot-test")");
  REQUIRE(basic.size() == 1);
  CHECK(basic[0].scheme == "basic");
  CHECK(basic[0].params.at("realm") == "droot-test");

  // Case-insensitive scheme and names, spaces around '=', unquoted tokens, escaped quotes, two challenges.
  auto two = parse_www_authenticate(R"(Negotiate, BEARER Realm = "https://r/t?x=1" , Service=reg, error="a \"b\"", Basic realm=x)");
  REQUIRE(two.size() == 3);
  CHECK(two[0].scheme == "negotiate");
  CHECK(two[0].params.empty());
  CHECK(two[1].scheme == "bearer");
  CHECK(two[1].params.at("realm") == "https://r/t?x=1");
  CHECK(two[1].params.at("service") == "reg");
  CHECK(two[1].params.at("error") == "a \"b\"");
  CHECK(two[2].scheme == "basic");
  CHECK(two[2].params.at("realm") == "x");

  // Garbage is data: nothing thrown, nothing invented.
  CHECK(parse_www_authenticate("").empty());
  CHECK(parse_www_authenticate("=\"x\", ,,").empty());
  auto unterminated = parse_www_authenticate(R"(Bearer realm="https://r)");
  REQUIRE(unterminated.size() == 1);
  CHECK(unterminated[0].params.at("realm") == "https://r");
}

TEST_CASE("registry endpoints: Docker Hub's API host, plain http for loopback registries only") {
  CHECK(is_loopback_registry("127.0.0.1:5000"));
  CHECK(is_loopback_registry("127.8.9.10"));
  CHECK(is_loopback_registry("localhost:5000"));
  CHECK(is_loopback_registry("LOCALHOST"));
  CHECK(is_loopback_registry("[::1]:5000"));
  CHECK_FALSE(is_loopback_registry("128.0.0.1:5000"));
  CHECK_FALSE(is_loopback_registry("127.0.0.1.example.com"));
  CHECK_FALSE(is_loopback_registry("registry.example.com"));
  CHECK_FALSE(is_loopback_registry("[2001:db8::1]:5000"));

  auto hub = registry_endpoint(parse_image_ref("busybox"), false);
  CHECK(hub.registry == "docker.io");
  CHECK(hub.base_url() == "https://registry-1.docker.io");
  auto local = registry_endpoint(parse_image_ref("127.0.0.1:5000/x:1"), false);
  CHECK(local.base_url() == "http://127.0.0.1:5000");
  auto remote = registry_endpoint(parse_image_ref("registry.example.com/team/app:1"), false);
  CHECK(remote.base_url() == "https://registry.example.com");
  CHECK(registry_endpoint(parse_image_ref("registry.example.com/team/app:1"), true).base_url() == "http://registry.example.com");
}

TEST_CASE("a registry's error body becomes the message") {
  CHECK(registry_message(R"({"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{}}]})") ==
        "MANIFEST_UNKNOWN: manifest unknown");
  CHECK(registry_message(R"({"errors":[{"code":"UNAUTHORIZED"},{"message":"m"}]})") == "UNAUTHORIZED; m");
  CHECK(registry_message("<html>\n404</html>") == "<html> 404</html>");
  CHECK(registry_message("") == "(no message)");
}
