// Where the Engine is: -H, else $DOCKER_HOST, else the default unix socket; TLS per $DOCKER_TLS_VERIFY and
// $DOCKER_CERT_PATH, exactly as the docker CLI reads them.
#pragma once

#include <map>
#include <optional>
#include <string>

namespace droot::pack {

struct EngineEndpoint {
  std::string display;      // what the user gave, for error messages ("unix:///var/run/docker.sock")
  std::string base_url;     // "http://docker" for a unix socket, "http(s)://host:port" for tcp
  std::string unix_socket;  // set for unix://
  bool tls = false;
  std::string ca_file, cert_file, key_file;  // with tls
};

constexpr const char* kDefaultDockerHost = "unix:///var/run/docker.sock";

// `env` lets tests pass an environment; production passes the process environment.
EngineEndpoint resolve_endpoint(const std::optional<std::string>& host_flag,
                                const std::map<std::string, std::string>& env);
std::map<std::string, std::string> process_environment();

}  // namespace droot::pack
