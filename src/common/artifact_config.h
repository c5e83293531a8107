// `.droot/config.json` and the yuuki/droot-compatible `.drootenv` (droot-artifact(5)).
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace droot {

constexpr int kArtifactVersion = 1;

struct ImageInfo {
  std::string ref;
  std::string id;
  std::vector<std::string> repo_digests;
  std::string created;
  std::string os;
  std::string architecture;
};

// Builds config.json's text: `image_config` is the Engine's `.Config` object, kept as returned.
std::string make_config_json(const ImageInfo& image, const nlohmann::json& image_config, int64_t source_date_epoch,
                             const std::string& packer);

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
  int version = 0;
  ImageInfo image;
  ImageConfig config;
  int64_t source_date_epoch = 0;
  std::string packer;
};

// Throws Error naming `source` on malformed or unsupported (newer version) documents.
ArtifactConfig parse_config_json(const std::string& text, const std::string& source);

// Seconds since the epoch for an RFC 3339 time as the Engine prints it ("2024-01-02T03:04:05.123456789Z").
int64_t parse_rfc3339(const std::string& text);

}  // namespace droot
