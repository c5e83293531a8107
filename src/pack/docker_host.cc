#include "docker_host.h"

#include <unistd.h>

#include "error.h"

extern char** environ;

namespace droot::pack {

std::map<std::string, std::string> process_environment() {
  std::map<std::string, std::string> env;
  for (char** e = environ; e && *e; ++e) {
    std::string kv = *e;
    auto eq = kv.find('=');
    if (eq != std::string::npos) env.emplace(kv.substr(0, eq), kv.substr(eq + 1));
  }
  return env;
}

EngineEndpoint resolve_endpoint(const std::optional<std::string>& host_flag,
                                const std::map<std::string, std::string>& env) {
  auto get = [&](const char* k) {
    auto it = env.find(k);
    return it == env.end() ? std::string() : it->second;
  };
  std::string host = host_flag ? *host_flag : get("DOCKER_HOST");
  if (host.empty()) host = kDefaultDockerHost;
  EngineEndpoint ep;
  ep.display = host;
  if (host.rfind("unix://", 0) == 0) {
    ep.unix_socket = host.substr(7);
    if (ep.unix_socket.empty() || ep.unix_socket[0] != '/')
      throw Error("Engine host '" + host + "': a unix socket needs an absolute path (unix:///var/run/docker.sock)");
    ep.base_url = "http://docker";
    return ep;
  }
  if (host.rfind("tcp://", 0) == 0) {
    std::string hostport = host.substr(6);
    while (!hostport.empty() && hostport.back() == '/') hostport.pop_back();
    if (hostport.empty() || hostport.find_first_of("/?#@ ") != std::string::npos)
      throw Error("Engine host '" + host + "': expected tcp://HOST:PORT");
    ep.tls = !get("DOCKER_TLS_VERIFY").empty();
    if (hostport.find(':') == std::string::npos || hostport.back() == ']')
      hostport += ep.tls ? ":2376" : ":2375";
    ep.base_url = (ep.tls ? "https://" : "http://") + hostport;
    if (ep.tls) {
      std::string dir = get("DOCKER_CERT_PATH");
      if (dir.empty()) {
        std::string home = get("HOME");
        dir = (home.empty() ? std::string("/root") : home) + "/.docker";
      }
      ep.ca_file = dir + "/ca.pem";
      ep.cert_file = dir + "/cert.pem";
      ep.key_file = dir + "/key.pem";
      for (const auto& f : {ep.ca_file, ep.cert_file, ep.key_file})
        if (::access(f.c_str(), R_OK) != 0)
          throw Error("DOCKER_TLS_VERIFY is set but " + f + " is not readable (set DOCKER_CERT_PATH to the directory "
                      "holding ca.pem, cert.pem and key.pem)");
    }
    return ep;
  }
  auto scheme = host.substr(0, host.find("://"));
  throw Error("Engine host '" + host + "': unsupported scheme '" + scheme + "' (droot-pack speaks unix:// and tcp://)");
}

}  // namespace droot::pack
