// A client of the Registry HTTP API v2 (the OCI distribution spec) on libcurl, for `droot-pack docker://…`:
// GET requests below /v2/<repository>/, with the registry's token or Basic authentication done the way the
// docker CLI does it. A 401 is answered by one authentication (a Bearer token fetched from the challenge's
// realm, with the docker CLI's credentials if it has some for the registry, or Basic credentials) and one
// retry; a second 401 is an error that says to `docker login`. Never a loop.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "curl_transfer.h"  // HttpResponse
#include "image_ref.h"
#include "registry_auth.h"

namespace droot::pack {

// One challenge of a WWW-Authenticate header (RFC 7235): the scheme in lower case ("bearer", "basic") and its
// auth-params, names in lower case, quoted values unquoted.
struct AuthChallenge {
  std::string scheme;
  std::map<std::string, std::string> params;
};

// Every challenge of a header value (`Bearer realm="…",service="…",scope="…"`, `Basic realm="x"`, several
// separated by commas). Malformed parts are skipped, never thrown on: a registry's header is data.
std::vector<AuthChallenge> parse_www_authenticate(const std::string& header);

// Where and how a registry is reached. docker.io is registry-1.docker.io; plain http for loopback registries
// (127.0.0.0/8, ::1, localhost), which dockerd treats as insecure by default, or for any with --plain-http.
struct RegistryEndpoint {
  std::string registry;  // as the reference names it: "docker.io", "127.0.0.1:5000"; keys the credentials
  std::string host;      // what is contacted: "registry-1.docker.io", "127.0.0.1:5000"
  bool plain_http = false;
  std::string base_url() const { return (plain_http ? "http://" : "https://") + host; }
};
bool is_loopback_registry(const std::string& host_port);
RegistryEndpoint registry_endpoint(const ImageRef& ref, bool plain_http);

class RegistryClient {
 public:
  using Sink = std::function<bool(const char*, size_t)>;
  // `spec` is what the user typed (docker://…), named in every error with the registry; `docker_config` the
  // config.json credentials are read from (only once a registry asks for them); `timeout` the seconds without
  // a byte received before a transfer is given up.
  RegistryClient(ImageRef ref, RegistryEndpoint endpoint, std::string docker_config, std::chrono::seconds timeout,
                 std::string spec);

  // GET <base>/v2/<repository>/<path> ("manifests/1.0", "blobs/sha256:…"). A 200 answer's body goes to `sink`
  // if given (which refuses by returning false: get then returns, and the sink's owner throws its
  // own error), else into the body, which must stay below `max_body`. Redirects are followed (at most 5, https only
  // from an https registry; the Authorization header is never sent to another host). Transport errors, and a
  // 401 that survives authentication, throw naming `what` ("blob sha256:…"), the registry and the image.
  HttpResponse get(const std::string& path, const std::vector<std::string>& headers, const Sink* sink, size_t max_body,
                   const std::string& what);

  const ImageRef& ref() const { return ref_; }
  const RegistryEndpoint& endpoint() const { return endpoint_; }
  const std::string& spec() const { return spec_; }
  // "docker login" or "docker login REGISTRY": what to tell the user to run.
  std::string login_hint() const;
  // The error prefix: "docker://x/y:1 (registry x)".
  std::string where() const;

 private:
  HttpResponse perform(const std::string& url, std::vector<std::string> headers, const Sink* sink, size_t max_body,
                       const std::string& what, bool with_auth, const std::string& post_body = "");
  void authenticate(const HttpResponse& challenge, const std::string& what);
  const std::optional<RegistryCredentials>& credentials();
  [[noreturn]] void throw_unauthorized(const std::string& what, const HttpResponse& r);

  ImageRef ref_;
  RegistryEndpoint endpoint_;
  std::string docker_config_;
  std::chrono::seconds timeout_;
  std::string spec_;
  std::string authorization_;  // "Bearer …" / "Basic …", once a 401 asked for it
  bool credentials_loaded_ = false;
  std::optional<RegistryCredentials> credentials_;
};

// The "errors" of a registry's JSON error body ({"errors":[{"code":…,"message":…}]}), or the body's start.
std::string registry_message(const std::string& body);

}  // namespace droot::pack
