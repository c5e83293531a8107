// A docker credential helper (docker-credential-pass, -secretservice, -ecr-login, …) run the way the docker
// CLI runs it: `docker-credential-NAME get` with the registry's server address on stdin, and
// {"ServerURL", "Username", "Secret"} on stdout.
#pragma once

#include <optional>
#include <string>

namespace droot::pack {

struct HelperCredentials {
  std::string username;
  std::string secret;
};

// `program` is looked up in PATH unless it contains a '/'. nullopt when the helper says it has no
// credentials for `server`; throws droot::Error when it is missing, fails or answers garbage.
std::optional<HelperCredentials> run_credential_helper(const std::string& program, const std::string& server);

}  // namespace droot::pack
