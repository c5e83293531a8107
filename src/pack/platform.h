// --platform os/arch[/variant]: which image of a multi-architecture index droot-pack packs (OCI sources), and
// what it asks the Engine for. Spelled as docker and the OCI image spec spell it ("linux/arm64/v8").
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace droot::pack {

struct Platform {
  std::string os;
  std::string architecture;
  std::string variant;  // "" matches any variant

  std::string str() const { return os + "/" + architecture + (variant.empty() ? "" : "/" + variant); }
};

// "linux/arm64", "linux/arm/v7"; Error naming --platform otherwise.
Platform parse_platform(const std::string& text);
// linux/<host_architecture()>: what an index is resolved to without --platform (as docker does).
Platform host_platform();
// Whether an OCI descriptor's "platform" object (or a config blob: "os", "architecture", "variant") is `want`.
// A variant is compared only when `want` names one.
bool platform_matches(const Platform& want, const nlohmann::json& platform);
// "linux/amd64, linux/arm64/v8" for messages: the platforms of an index's manifests.
std::string describe_platforms(const nlohmann::json& manifests);

// An OCI image index or a Docker manifest list.
bool is_index_media_type(const std::string& media_type);
// The descriptor in `manifests` (an index's "manifests" array) for `want`: the first that matches, attestation
// manifests (platform unknown/unknown) skipped. Error naming `what`, the platform (as --platform when
// `explicit_platform`, else as this host's) and the platforms the index holds. Used for every source: OCI
// layouts and archives (local_image.cc) and registries (registry_image.cc).
nlohmann::json select_platform_manifest(const nlohmann::json& manifests, const Platform& want, bool explicit_platform,
                                        const std::string& what);

}  // namespace droot::pack
