// Registry credentials found where the docker CLI keeps them, and the X-Registry-Auth header that hands them
// to the Engine for a pull. Lookup order, as `docker pull` does it:
//   credHelpers[<server>] → that helper; else credsStore → that helper (the helper's answer is final);
//   else auths[<server>] (or a key whose host name is <server>): `auth` (base64 user:pass) or `identitytoken`.
// <server> is the registry's host[:port], or https://index.docker.io/v1/ for Docker Hub.
#pragma once

#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "credential_helper.h"

namespace droot::pack {

struct RegistryCredentials {
  std::string server;  // serveraddress
  std::string username;
  std::string password;
  std::string identity_token;
  std::string source;  // where they came from, for messages: a config.json path or a helper's name
};

// $DOCKER_CONFIG/config.json, else $HOME/.docker/config.json.
std::string docker_config_path(const std::map<std::string, std::string>& env);

using CredentialHelperRunner =
    std::function<std::optional<HelperCredentials>(const std::string& program, const std::string& server)>;

// Looks `server` up in a parsed config.json read from `config_path` (named in errors and in `source`).
std::optional<RegistryCredentials> lookup_credentials(const nlohmann::json& config, const std::string& config_path,
                                                      const std::string& server, const CredentialHelperRunner& helper);

// Reads config_path (a missing file means no credentials) and looks `server` up, running real helpers.
std::optional<RegistryCredentials> load_credentials(const std::string& config_path, const std::string& server);

// base64url(JSON) for the X-Registry-Auth header: {"username","password","serveraddress"} or
// {"identitytoken","serveraddress"}.
std::string encode_registry_auth(const RegistryCredentials& c);

}  // namespace droot::pack
