// droot-pack --pull: POST /images/create before packing, as a CI step after `docker push` would run it on a
// machine that never built the image. Credentials go to the Engine in X-Registry-Auth (registry_auth.h); the
// Engine's JSON-lines progress stream becomes a status line on a terminal, and an error in it (which arrives
// with HTTP 200, the stream having started) becomes an Error naming the image and the registry.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "engine_client.h"

namespace droot::pack {

enum class PullPolicy { never, missing, always };
// "missing" (also what a bare --pull means) or "always"; throws Error otherwise.
PullPolicy parse_pull_policy(const std::string& value);

struct PullOptions {
  PullPolicy policy = PullPolicy::never;
  bool progress = false;      // a status line on stderr (a TTY, no -q)
  bool quiet = false;         // no "pulled …" line either
  std::string docker_config;  // config.json to read credentials from (docker_config_path())
};

// The progress stream of POST /images/create, fed in whatever chunks the transport delivers. Lines longer than
// a bound are cut (memory stays bounded whatever the Engine sends); lines that are not JSON are ignored.
class PullStream {
 public:
  void feed(const char* data, size_t size);
  void finish();  // a last line without a newline

  const std::string& error() const { return error_; }  // the first error/errorDetail message, "" if none
  const std::string& digest() const { return digest_; }
  const std::string& status() const { return status_; }  // the last "Status: …" line, without "Status: "
  size_t layers() const { return layers_.size(); }
  size_t layers_done() const;
  uint64_t bytes_downloaded() const;
  uint64_t bytes_total() const;  // of the layers whose size is known so far
  std::string summary() const;   // "2/3 layers, 1.2 MiB of 3.4 MiB"

 private:
  void line(const std::string& text);
  struct Layer {
    uint64_t current = 0, total = 0;
    bool done = false;
  };
  std::string pending_;
  bool cutting_ = false;  // inside an over-long line, dropping until its newline
  std::string error_, digest_, status_;
  std::map<std::string, Layer> layers_;
};

// Pulls `ref` if the policy says so (missing: only when the Engine does not have it). Returns whether it
// pulled. Call after engine.negotiate().
bool ensure_image(EngineClient& engine, const std::string& ref, const PullOptions& options);

}  // namespace droot::pack
