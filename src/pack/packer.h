// droot-pack's pipeline: inspect → create (never start) → export → normalise + manifest → compress → sign →
// trailer → sidecars → rename. One pass over the export, constant memory.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "artifact_writer.h"
#include "base_keys.h"
#include "engine_client.h"
#include "image_pull.h"
#include "image_source.h"
#include "minisign.h"
#include "platform.h"

namespace droot::pack {

struct PackOptions {
  std::string image;  // as the user typed it: an Engine image, or a source in transport syntax (image_source.h)
  std::string output;  // a path, or "-" for stdout
  CompressionOptions compression;
  std::optional<int64_t> source_date_epoch;  // --source-date-epoch, else $SOURCE_DATE_EPOCH, else Created
  std::string forced_api_version;            // $DOCKER_API_VERSION
  bool progress = false;
  PullOptions pull;  // --pull: pull the image before packing it
  // --base, in order: with any, a delta artifact that omits the regular files these artifacts already hold.
  std::vector<std::string> bases;
  // --platform: the image of a multi-platform index to pack (OCI sources), and the Engine's create `platform`.
  std::optional<Platform> platform;
  // Called for each special file kept outside dev/ (droot-artifact(5), "Special files"), as the export meets
  // it: its path (mtree-escaped) and kind ("FIFO", "character device", ...).
  std::function<void(const std::string& path, const std::string& kind)> on_special_file;
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
  uint64_t layers = 0;  // layers flattened (Engine-less sources); 0 from the Engine
  // A delta (--base): its bases, and how its regular files (hard links included) split between the tar and
  // the bases. files_from_bases counts the lines of .droot/delta.mtree; bytes_from_bases the content a full
  // artifact would have carried for them (a hard link's content once).
  std::vector<BaseArtifact> bases;
  uint64_t files_shipped = 0;
  uint64_t files_from_bases = 0;
  uint64_t bytes_from_bases = 0;
  // Special files: those under dev/ left out (config.json's dropped_dev_special_files), and those kept
  // elsewhere, with the paths (mtree-escaped) of the first kMaxSpecialPathsListed of them.
  uint64_t dev_special_files_dropped = 0;
  uint64_t special_files_kept = 0;
  std::vector<std::string> special_files_kept_paths;
};

constexpr size_t kMaxSpecialPathsListed = 100;

// `key` is nullopt only with --unsigned.
PackResult pack_image(EngineClient& engine, const PackOptions& options, const std::optional<minisign::SecretKey>& key);

// The same pipeline without the Engine: reads and verifies the layers of a docker-archive, oci or oci-archive
// source and flattens them (layer_flattener.h); nothing is written before every layer has been verified.
PackResult pack_local_image(const ImageSource& source, const PackOptions& options, const std::optional<minisign::SecretKey>& key);

// The trusted comment droot signs (droot-artifact(5)): "droot-artifact 1 image=… id=… payload_sha256=…
// compression=…", or for a delta "droot-artifact 2 … delta=<payload_sha256 of each base, comma-separated>".
std::string trusted_comment_for(const std::string& ref, const std::string& id, const std::string& payload_sha256,
                                Compression c, const std::vector<DeltaBase>& delta_bases = {});

}  // namespace droot::pack
