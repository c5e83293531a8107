// Where droot-pack reads an image from, in skopeo's transport syntax (containers-transports(5)): a bare IMAGE
// is the Docker Engine, as it always was; "docker-archive:PATH[:REF|:@N]" a `docker save` tar,
// "oci-archive:PATH[:REF]" a tar of an OCI image layout, "oci:DIR[:REF]" an OCI image layout directory,
// "docker://[REGISTRY/]REPO[:TAG|@DIGEST]" an image in a registry (registry_image.h).
#pragma once

#include <chrono>
#include <string>

namespace droot::pack {

enum class SourceKind { engine, docker_archive, oci_archive, oci_layout, registry };

// docker://: how the registry is reached (main.cc fills it from the command line and the environment).
struct RegistryAccess {
  std::string docker_config;  // the docker CLI's config.json, for credentials (registry_auth.h)
  bool plain_http = false;    // --plain-http: http for this registry too (loopback registries always are)
  bool progress = false;      // a progress line on stderr
  std::chrono::seconds timeout{120};  // without a byte received
};

struct ImageSource {
  SourceKind kind = SourceKind::engine;
  std::string path;  // the archive or layout; docker://: the reference after "docker://" (not for the Engine)
  std::string ref;   // oci: the org.opencontainers.image.ref.name; docker-archive: a RepoTag or "@N"; "" = the only one
  RegistryAccess registry;  // docker:// only
};

// Splits at the first ':' after the transport, as skopeo does (a PATH therefore holds no ':'). docker://'s
// reference is checked as `docker pull` would check it (image_ref.h). A transport droot-pack does not read
// ("dir:", "containers-storage:") is an Error that says what it reads instead; anything else without a known
// transport prefix is an Engine image name.
ImageSource parse_image_source(const std::string& text);
const char* source_kind_name(SourceKind kind);

}  // namespace droot::pack
