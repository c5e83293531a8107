// `.droot/config.json` and the yuuki/droot-compatible `.drootenv` (droot-artifact(5)).
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace droot {

// Version 1: a full artifact. Version 2: a delta artifact (droot-artifact(5), "Delta artifacts"), whose
// config.json says which base artifacts it was made against. A full artifact is still written as version 1.
constexpr int kArtifactVersion = 1;
constexpr int kDeltaArtifactVersion = 2;

struct ImageInfo {
  std::string ref;
  std::string id;
  std::vector<std::string> repo_digests;
  std::string created;
  std::string os;
  std::string architecture;
};

// One base a delta artifact was packed against: its image, and the sha256 of its PAYLOAD (its identity: what
// its trusted comment's payload_sha256 says).
struct DeltaBase {
  std::string image;
  std::string id;
  std::string payload_sha256;

  bool operator==(const DeltaBase&) const = default;
};

// Builds config.json's text: `image_config` is the Engine's `.Config` object, kept as returned. With no
// `delta_bases`, a full artifact (version 1, the same bytes as ever); with some, a delta (version 2 and a
// "delta": {"bases": [...]} object, bases in the order given). `dropped_dev_special_files`, the special files
// under dev/ droot-pack left out (droot-artifact(5), "Special files"), is written only when it is not 0, so
// an image without any gives the same bytes as before the field existed.
std::string make_config_json(const ImageInfo& image, const nlohmann::json& image_config, int64_t source_date_epoch,
                             const std::string& packer, const std::vector<DeltaBase>& delta_bases = {},
                             uint64_t dropped_dev_special_files = 0);

// One KEY=VALUE line per Env entry that has a '=' and no newline (values keep '=' and spaces).
std::string make_drootenv(const nlohmann::json& env);
std::vector<std::string> parse_drootenv(const std::string& text);

// What `run` needs from config.json, with Docker's defaults for absent fields.
struct ImageConfig {
  std::vector<std::string> env;
  std::string user;
  std::string working_dir;
  std::vector<std::string> entrypoint;
  std::vector<std::string> cmd;
  std::string stop_signal;
  std::map<std::string, std::string> labels;
};

struct ArtifactConfig {
  int version = 0;  // kArtifactVersion or kDeltaArtifactVersion
  ImageInfo image;
  ImageConfig config;
  int64_t source_date_epoch = 0;
  std::string packer;
  std::vector<DeltaBase> delta_bases;  // a delta's bases, in the order they were given; empty for version 1
  uint64_t dropped_dev_special_files = 0;  // "dropped_dev_special_files", optional (absent: 0)

  bool is_delta() const { return !delta_bases.empty(); }
};

// Throws Error naming `source` on malformed or unsupported (newer version) documents: version 1 must have no
// "delta", version 2 needs delta.bases, non-empty, each with a 64-hex payload_sha256; an optional
// "dropped_dev_special_files" must be a non-negative integer.
ArtifactConfig parse_config_json(const std::string& text, const std::string& source);

// Seconds since the epoch for an RFC 3339 time as the Engine prints it ("2024-01-02T03:04:05.123456789Z").
int64_t parse_rfc3339(const std::string& text);

}  // namespace droot
