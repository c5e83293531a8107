// An image reference as the docker CLI understands it, split into the parts a pull needs: the registry (which
// also keys the credentials), the repository, and the tag or digest. Parsing follows docker's reference
// grammar closely enough that whatever `docker pull` accepts is accepted here and everything else is refused
// with a message, before anything is sent to the Engine.
#pragma once

#include <string>

namespace droot::pack {

// Docker Hub's name in references, and the key under which the docker CLI stores its credentials.
constexpr const char* kDockerHubDomain = "docker.io";
constexpr const char* kDockerHubAuthServer = "https://index.docker.io/v1/";

struct ImageRef {
  std::string name;        // as given, without tag or digest: what POST /images/create takes as fromImage
  std::string registry;    // "docker.io", "registry.example.com", "127.0.0.1:5000", "localhost:5000"
  std::string repository;  // "library/busybox", "team/app"
  std::string tag;         // empty if none was given
  std::string digest;      // "sha256:<64 hex>", empty if none was given

  // The `tag` query parameter of the pull: the digest if any (it pins the content), else the tag, else
  // "latest", as the docker CLI sends it.
  std::string api_tag() const;
  // The key of this registry's credentials in config.json and for credential helpers.
  std::string auth_server() const;
  // Fully qualified: registry/repository[:tag][@digest].
  std::string canonical() const;
};

// Throws droot::Error naming `ref` and what is wrong with it. An image id (sha256:<hex> or 64 hex digits)
// is refused: there is nothing to pull by id.
ImageRef parse_image_ref(const std::string& ref);

// True for what only names a local image: a full image id, with or without "sha256:".
bool is_image_id(const std::string& ref);

}  // namespace droot::pack
