#include "registry_auth.h"

#include <sys/stat.h>

#include <cerrno>

#include "base64.h"
#include "error.h"
#include "io.h"

namespace droot::pack {
namespace {

// What the docker CLI calls ConvertToHostname: "https://host:port/v1/" → "host:port". Old config files and
// `docker login https://…` keep URLs as keys.
std::string host_of(std::string key) {
  for (const char* scheme : {"http://", "https://"})
    if (key.rfind(scheme, 0) == 0) key = key.substr(std::string(scheme).size());
  return key.substr(0, key.find('/'));
}

std::string string_field(const nlohmann::json& j, const char* name) {
  auto it = j.find(name);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::optional<RegistryCredentials> from_helper(const std::string& name, const std::string& config_path,
                                               const std::string& key, const std::string& server,
                                               const CredentialHelperRunner& helper) {
  if (name.empty() || name.find('/') != std::string::npos)
    throw Error(config_path + ": " + key + " names '" + name + "', which is not a credential helper name");
  std::string program = "docker-credential-" + name;
  std::optional<HelperCredentials> h;
  try {
    h = helper(program, server);
  } catch (const Error& e) {
    throw Error(std::string(e.what()) + "; it is configured as " + key + " in " + config_path +
                " for " + server + ": install it, or remove that entry");
  }
  if (!h) return std::nullopt;
  RegistryCredentials c;
  c.server = server;
  c.source = program;
  // Helpers store an identity token (from an OAuth login) with the user name "<token>".
  if (h->username == "<token>") c.identity_token = h->secret;
  else {
    c.username = h->username;
    c.password = h->secret;
  }
  return c;
}

}  // namespace

std::string docker_config_path(const std::map<std::string, std::string>& env) {
  if (auto it = env.find("DOCKER_CONFIG"); it != env.end() && !it->second.empty()) return it->second + "/config.json";
  auto home = env.find("HOME");
  return (home != env.end() && !home->second.empty() ? home->second : std::string("/root")) + "/.docker/config.json";
}

std::optional<RegistryCredentials> lookup_credentials(const nlohmann::json& config, const std::string& config_path,
                                                      const std::string& server, const CredentialHelperRunner& helper) {
  if (!config.is_object()) throw Error(config_path + " is not a JSON object");
  if (auto helpers = config.find("credHelpers"); helpers != config.end() && helpers->is_object())
    if (auto h = helpers->find(server); h != helpers->end() && h->is_string())
      return from_helper(h->get<std::string>(), config_path, "credHelpers[\"" + server + "\"]", server, helper);
  if (std::string store = string_field(config, "credsStore"); !store.empty())
    return from_helper(store, config_path, "credsStore", server, helper);

  auto auths = config.find("auths");
  if (auths == config.end() || !auths->is_object()) return std::nullopt;
  auto entry = auths->find(server);
  if (entry == auths->end())
    for (auto it = auths->begin(); it != auths->end(); ++it)
      if (host_of(it.key()) == server) {
        entry = it;
        break;
      }
  if (entry == auths->end() || !entry->is_object()) return std::nullopt;

  RegistryCredentials c;
  c.server = server;
  c.source = config_path;
  c.identity_token = string_field(*entry, "identitytoken");
  if (std::string auth = string_field(*entry, "auth"); !auth.empty()) {
    auto decoded = base64_decode(auth);
    auto colon = decoded ? decoded->find(':') : std::string::npos;
    if (colon == std::string::npos)
      throw Error(config_path + ": auths[\"" + entry.key() + "\"].auth is not base64 of user:password (log in again: docker login " +
                  server + ")");
    c.username = decoded->substr(0, colon);
    c.password = decoded->substr(colon + 1);
    // Go's CLI trims NULs that some tools left at the end.
    while (!c.password.empty() && c.password.back() == '\0') c.password.pop_back();
  } else {
    c.username = string_field(*entry, "username");
    c.password = string_field(*entry, "password");
  }
  if (c.username.empty() && c.password.empty() && c.identity_token.empty()) return std::nullopt;
  return c;
}

std::optional<RegistryCredentials> load_credentials(const std::string& config_path, const std::string& server) {
  struct stat st {};
  if (::stat(config_path.c_str(), &st) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) return std::nullopt;
    throw_errno("cannot read the docker CLI configuration " + config_path);
  }
  std::string text = read_file(config_path, 4 << 20);
  auto config = nlohmann::json::parse(text, nullptr, false);
  if (config.is_discarded()) throw Error(config_path + " is not valid JSON (the docker CLI configuration, read for registry credentials)");
  return lookup_credentials(config, config_path, server, run_credential_helper);
}

std::string encode_registry_auth(const RegistryCredentials& c) {
  nlohmann::json j;
  if (!c.identity_token.empty()) j["identitytoken"] = c.identity_token;
  else {
    j["username"] = c.username;
    j["password"] = c.password;
  }
  j["serveraddress"] = c.server;
  try {
    return base64url_encode(j.dump());
  } catch (const nlohmann::json::exception&) {
    throw Error("the credentials for " + c.server + " from " + c.source + " are not valid UTF-8 text");
  }
}

}  // namespace droot::pack
