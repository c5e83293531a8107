// An image read without the Engine: a `docker save` tar, an OCI image layout, a tar of one, or an image in a
// registry (docker://, pulled into a private OCI layout first: registry_image.h). This file
// finds the manifest (by REF and --platform), reads and verifies the config blob, and lists the layer blobs
// with the digest each must have; layer_flattener.h reads them.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "artifact_config.h"
#include "blob_store.h"
#include "image_source.h"
#include "platform.h"

namespace droot::pack {

struct LayerBlob {
  BlobRange blob;
  std::string digest;  // "sha256:…" of the blob as stored (compressed or not): verified before it is read
  // Already hashed against `digest` on its way in (docker://: downloaded into droot-pack's private 0700
  // directory), so the flattener does not hash it a second time; its file's stamp is still checked.
  bool verified = false;
};

struct LocalImage {
  BlobStore store;
  std::string config_digest;  // "sha256:…", the image id as the Engine reports it
  nlohmann::json config;      // the config blob (OCI image config / Docker's image JSON)
  std::vector<LayerBlob> layers;  // bottom layer first
  std::vector<std::string> repo_tags;
};

// Throws Error naming `spec` (what the user typed) for a missing or malformed manifest, index or config, a
// REF or platform it does not hold (listing what it does hold), or a config blob whose digest is wrong.
// Without `platform`, an index is resolved to the host's platform.
LocalImage open_local_image(const ImageSource& source, const std::string& spec, const std::optional<Platform>& platform);

// What config.json records (image.ref = spec, id = config digest, created, os, architecture) and its .config.
ImageInfo local_image_info(const LocalImage& image, const std::string& spec);
nlohmann::json local_image_config(const LocalImage& image);

}  // namespace droot::pack
