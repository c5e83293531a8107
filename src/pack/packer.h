// droot-pack's pipeline: inspect → create (never start) → export → normalise + manifest → compress → sign →
// trailer → sidecars → rename. One pass over the export, constant memory.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "artifact_writer.h"
#include "engine_client.h"
#include "image_pull.h"
#include "minisign.h"

namespace droot::pack {

struct PackOptions {
  std::string image;
  std::string output;  // a path, or "-" for stdout
  CompressionOptions compression;
  std::optional<int64_t> source_date_epoch;  // --source-date-epoch, else $SOURCE_DATE_EPOCH, else Created
  std::string forced_api_version;            // $DOCKER_API_VERSION
  bool progress = false;
  PullOptions pull;  // --pull: pull the image before packing it
};

struct PackResult {
  std::string image_ref;
  std::string image_id;
  std::string artifact;  // path, or "-"
  uint64_t exported_bytes = 0;
  uint64_t artifact_bytes = 0;
  uint64_t payload_bytes = 0;
  std::string sha256;          // whole file
  std::string payload_sha256;
  std::string key_id;          // empty when unsigned
  uint64_t files = 0;
  double seconds = 0;
  bool pulled = false;  // --pull fetched it from its registry
};

// `key` is nullopt only with --unsigned.
PackResult pack_image(EngineClient& engine, const PackOptions& options, const std::optional<minisign::SecretKey>& key);

// The trusted comment droot signs (droot-artifact(5)).
std::string trusted_comment_for(const std::string& ref, const std::string& id, const std::string& payload_sha256,
                                Compression c);

}  // namespace droot::pack
