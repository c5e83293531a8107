// docker://[REGISTRY/]REPOSITORY[:TAG|@DIGEST]: an image pulled from its registry (Registry HTTP API v2,
// registry_client.h) into a private OCI image layout under $TMPDIR, which local_image.cc then reads like
// oci:DIR. The manifest is checked against the digest it was asked by (a tag's answer is taken as the
// registry gives it), an index is resolved by --platform (else this host's) with the same code as an OCI
// layout's, and every blob is hashed while it is written: a blob whose size or sha256 is not the manifest's is
// an error naming its digest and the registry before a byte of it is used. Disk: the image's compressed size.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "image_source.h"
#include "platform.h"

namespace droot::pack {

// What GET /v2/<repo>/manifests/<ref> asks for, in the Accept header.
extern const char* const kManifestMediaTypes[4];

enum class ManifestKind { index, image };

// What a manifest is, by its mediaType, else the Content-Type it came with, else its shape. Error naming
// `what` for a schema 1 manifest (deprecated, unsigned layers), or anything that is not a container image (an
// OCI artifact such as a Helm chart: its config is not an image config).
ManifestKind classify_manifest(const nlohmann::json& manifest, const std::string& content_type, const std::string& what);

// A string field of an OCI/Docker JSON document (manifest, index, descriptor), "" when absent or not a string.
std::string json_string(const nlohmann::json& j, const char* field);

// The descriptor of an index for `platform` (else this host's), checked to name a sha256 digest and a size.
nlohmann::json choose_from_index(const nlohmann::json& index, const std::optional<Platform>& platform, const std::string& what);

// An image manifest's blobs, config first, then the layers bottom up; each descriptor checked for a sha256
// digest and a size (a config above 16 MiB is refused unread).
std::vector<nlohmann::json> manifest_blobs(const nlohmann::json& manifest, const std::string& what);

// A private directory (mode 0700) under $TMPDIR, removed with everything in it when destroyed.
class PulledLayout {
 public:
  PulledLayout();
  ~PulledLayout();
  PulledLayout(PulledLayout&& other) noexcept;
  PulledLayout(const PulledLayout&) = delete;
  PulledLayout& operator=(const PulledLayout&) = delete;
  PulledLayout& operator=(PulledLayout&&) = delete;
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
};

// Pulls source (kind registry) into a PulledLayout holding oci-layout, index.json naming the one image
// manifest chosen, and blobs/sha256/ with it, its config and its layers. `spec` (what the user typed) and
// the registry are named in every error.
PulledLayout pull_registry_image(const ImageSource& source, const std::string& spec, const std::optional<Platform>& platform);

}  // namespace droot::pack
