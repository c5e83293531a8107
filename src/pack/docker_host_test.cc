#include "docker_host.h"

#include <doctest/doctest.h>

#include "error.h"

using namespace droot::pack;

TEST_CASE("the Engine endpoint comes from -H, then DOCKER_HOST, then the default socket") {
  CHECK(resolve_endpoint(std::nullopt, {}).unix_socket == "/var/run/docker.sock");
  CHECK(resolve_endpoint(std::nullopt, {{"DOCKER_HOST", "unix:///tmp/d.sock"}}).unix_socket == "/tmp/d.sock");
  CHECK(resolve_endpoint(std::string("unix:///x.sock"), {{"DOCKER_HOST", "unix:///tmp/d.sock"}}).unix_socket == "/x.sock");
}

TEST_CASE("tcp hosts get docker's default ports, TLS only with DOCKER_TLS_VERIFY") {
  auto plain = resolve_endpoint(std::nullopt, {{"DOCKER_HOST", "tcp://10.0.0.1"}});
  CHECK(plain.base_url == "http://10.0.0.1:2375");
  CHECK_FALSE(plain.tls);
  CHECK(resolve_endpoint(std::nullopt, {{"DOCKER_HOST", "tcp://h:1234/"}}).base_url == "http://h:1234");
  CHECK_THROWS_WITH(resolve_endpoint(std::nullopt, {{"DOCKER_HOST", "tcp://h:2376"}, {"DOCKER_TLS_VERIFY", "1"},
                                                    {"DOCKER_CERT_PATH", "/nonexistent-certs"}}),
                    doctest::Contains("/nonexistent-certs/ca.pem"));
}

TEST_CASE("unsupported or malformed hosts are refused naming the host") {
  CHECK_THROWS_WITH(resolve_endpoint(std::string("ssh://me@host"), {}), doctest::Contains("ssh"));
  CHECK_THROWS_WITH(resolve_endpoint(std::string("unix://relative.sock"), {}), doctest::Contains("absolute"));
  CHECK_THROWS_WITH(resolve_endpoint(std::string("tcp://"), {}), doctest::Contains("tcp://HOST:PORT"));
}
