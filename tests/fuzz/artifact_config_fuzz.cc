// `.droot/config.json` and `.drootenv`, read by droot-exec from the deployed rootfs, and the Engine's time
// format: whatever the bytes, the parsers throw droot::Error or give values that survive a write/read cycle
// (make_config_json → parse_config_json, make_drootenv → parse_drootenv) unchanged, and only versions 1 (full,
// no delta bases) and 2 (delta, at least one base) of the format are ever accepted.
#include <nlohmann/json.hpp>
#include <string>

#include "artifact_config.h"
#include "error.h"
#include "fuzz_check.h"

using namespace droot;
using nlohmann::json;

namespace {

json config_object(const ImageConfig& c) {
  return json{{"Env", c.env},
              {"User", c.user},
              {"WorkingDir", c.working_dir},
              {"Entrypoint", c.entrypoint},
              {"Cmd", c.cmd},
              {"StopSignal", c.stop_signal},
              {"Labels", c.labels}};
}

bool same(const ArtifactConfig& a, const ArtifactConfig& b) {
  return a.version == b.version && a.image.ref == b.image.ref && a.image.id == b.image.id &&
         a.image.repo_digests == b.image.repo_digests && a.image.created == b.image.created &&
         a.image.os == b.image.os && a.image.architecture == b.image.architecture && a.config.env == b.config.env &&
         a.config.user == b.config.user && a.config.working_dir == b.config.working_dir &&
         a.config.entrypoint == b.config.entrypoint && a.config.cmd == b.config.cmd &&
         a.config.stop_signal == b.config.stop_signal && a.config.labels == b.config.labels &&
         a.source_date_epoch == b.source_date_epoch && a.packer == b.packer && a.delta_bases == b.delta_bases &&
         a.dropped_dev_special_files == b.dropped_dev_special_files;
}

void config_json(const std::string& text) {
  ArtifactConfig cfg;
  try {
    cfg = parse_config_json(text, "config.json");
  } catch (const Error&) {
    return;
  }
  FUZZ_CHECK(cfg.version == (cfg.is_delta() ? kDeltaArtifactVersion : kArtifactVersion));
  // The document itself says version 1 or 2, not something that merely converts to it.
  json doc = json::parse(text);
  FUZZ_CHECK(doc["droot_artifact"].is_number_integer() && doc["droot_artifact"].get<int64_t>() == cfg.version);
  for (const auto& b : cfg.delta_bases) FUZZ_CHECK(b.payload_sha256.size() == 64);

  const std::string written =
      make_config_json(cfg.image, config_object(cfg.config), cfg.source_date_epoch, cfg.packer, cfg.delta_bases,
                       cfg.dropped_dev_special_files);
  ArtifactConfig again;
  try {
    again = parse_config_json(written, "written");
  } catch (const Error& e) {
    std::fprintf(stderr, "a config we wrote does not parse: %s\n", e.what());
    std::abort();
  }
  FUZZ_CHECK(same(cfg, again));
  FUZZ_CHECK(make_config_json(again.image, config_object(again.config), again.source_date_epoch, again.packer,
                              again.delta_bases, again.dropped_dev_special_files) == written);
}

void drootenv(const std::string& text) {
  const auto env = parse_drootenv(text);
  size_t total = 0;
  for (const auto& kv : env) {
    FUZZ_CHECK(!kv.empty() && kv[0] != '=' && kv.find('=') != std::string::npos && kv.find('\n') == std::string::npos);
    total += kv.size() + 1;
  }
  FUZZ_CHECK(total <= text.size() + 1);
  FUZZ_CHECK(parse_drootenv(make_drootenv(json(env))) == env);
}

void rfc3339(const std::string& text) {
  try {
    (void)parse_rfc3339(text);
  } catch (const Error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  config_json(text);
  drootenv(text);
  rfc3339(text);
  return 0;
}
