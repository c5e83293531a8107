#include <archive.h>
#include <archive_entry.h>

#include <cxxopts.hpp>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

#include "artifact_config.h"
#include "artifact_verify.h"
#include "commands.h"
#include "error.h"
#include "frame_index.h"
#include "mtree.h"
#include "payload_reader.h"
#include "verify_options.h"

namespace droot::exec {
namespace {

constexpr size_t kMaxConfigSize = 16 << 20;

// What the artifact says of itself, read from its first entry once the signature has been checked: whether
// it is a delta, and of which bases. Verification proper does not depend on it (hostile payloads verify and
// are refused by deploy); a payload whose config.json cannot be read is reported as such.
struct Described {
  std::optional<ArtifactConfig> config;
  std::string problem;  // why config is absent
};

Described describe(const VerifiedArtifact& art) {
  Described d;
  try {
    PayloadReader reader(art.fd.get(), art.payload_size, art.name);
    archive_entry* entry = nullptr;
    int rc = archive_read_next_header(reader.get(), &entry);
    if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN) throw Error("cannot read the payload as a tar: " + archive_error(reader.get()));
    const std::string first = archive_entry_pathname(entry) ? archive_entry_pathname(entry) : "";
    if (first != kConfigPath) throw Error("the first entry is '" + first + "', not " + std::string(kConfigPath));
    if (archive_entry_size(entry) > static_cast<la_int64_t>(kMaxConfigSize))
      throw Error(std::string(kConfigPath) + " is larger than 16 MiB");
    std::string text;
    std::vector<char> buf(64 * 1024);
    for (;;) {
      la_ssize_t n = archive_read_data(reader.get(), buf.data(), buf.size());
      if (n < 0) throw Error("reading " + std::string(kConfigPath) + ": " + archive_error(reader.get()));
      if (n == 0) break;
      text.append(buf.data(), static_cast<size_t>(n));
    }
    d.config = parse_config_json(text, std::string(kConfigPath));
  } catch (const Error& e) {
    d.problem = e.what();
  }
  return d;
}

// The signed comment's delta= (payload_sha256 of each base) and config.json's bases must agree: both are
// signed, so a difference is a packer bug or a forgery with a stolen key, either way not to be deployed.
void check_bases_agree(const VerifiedArtifact& art, const ArtifactConfig& config) {
  auto it = art.comment_fields.find("delta");
  std::string from_config;
  for (const auto& b : config.delta_bases) from_config += (from_config.empty() ? "" : ",") + b.payload_sha256;
  if (!art.is_signed) return;
  if (it == art.comment_fields.end() && config.delta_bases.empty()) return;
  if (it == art.comment_fields.end() || it->second != from_config)
    throw Error(art.name + ": the signed trusted comment's delta=" +
                (it == art.comment_fields.end() ? std::string("(none)") : it->second) +
                " does not match the bases in .droot/config.json (" + (from_config.empty() ? "none" : from_config) + ")");
}

}  // namespace

int cmd_verify(int argc, char** argv) {
  cxxopts::Options opts("droot-exec verify", "Check an artifact's signature and checksums without extracting it.");
  opts.custom_help("[-p PUB]... [--signature FILE] [--json]");
  opts.positional_help("ARTIFACT|-");
  add_verify_options(opts);
  opts.add_options()("json", "print the result as one JSON object")("q,quiet", "print nothing on success")(
      "h,help", "show this help")("artifact", "", cxxopts::value<std::string>());
  opts.parse_positional({"artifact"});
  auto args = opts.parse(argc, argv);
  if (args.count("help")) {
    std::fputs(opts.help().c_str(), stdout);
    return 0;
  }
  if (!args.count("artifact")) throw Error("verify: missing ARTIFACT (a file, or - for stdin)");
  VerifyOptions vo = verify_options_from(args, "/tmp");
  VerifiedArtifact art = verify_artifact(args["artifact"].as<std::string>(), vo);
  const Described described = describe(art);
  if (described.config) check_bases_agree(art, *described.config);
  const bool delta = described.config && described.config->is_delta();
  // Read only now that the payload is verified; a malformed index fails verify (droot-artifact(5)).
  std::optional<FrameIndex> frames;
  if (art.compression == Compression::zstd) frames = read_frame_index(art.fd.get(), art.payload_size, art.name);
  auto field = [&](const char* k) {
    auto it = art.comment_fields.find(k);
    return it == art.comment_fields.end() ? std::string() : it->second;
  };
  if (args.count("json")) {
    nlohmann::json j = {{"artifact", art.name},       {"signed", art.is_signed},         {"key_id", art.key_id},
                        {"image", field("image")},    {"id", field("id")},               {"size", art.file_size},
                        {"payload_size", art.payload_size}, {"payload_sha256", art.payload_sha256},
                        {"sha256", art.file_sha256},  {"compression", compression_name(art.compression)},
                        {"trusted_comment", art.trusted_comment}};
    j["frames"] = frames ? frames->frames.size() : 0;
    if (described.config) {
      j["format"] = described.config->version;
      if (delta) {
        nlohmann::json bases = nlohmann::json::array();
        for (const auto& b : described.config->delta_bases)
          bases.push_back({{"image", b.image}, {"id", b.id}, {"payload_sha256", b.payload_sha256}});
        j["delta"] = {{"bases", bases}};
      }
    } else {
      j["config_error"] = described.problem;
    }
    std::printf("%s\n", j.dump().c_str());
  } else if (!args.count("quiet")) {
    if (art.is_signed)
      std::printf("%s: OK, signed by key %s (%s)\n  image %s\n  id %s\n  size %llu bytes, payload sha256 %s\n",
                  art.name.c_str(), art.key_id.c_str(), art.key_path.c_str(), field("image").c_str(), field("id").c_str(),
                  static_cast<unsigned long long>(art.file_size), art.payload_sha256.c_str());
    else
      std::printf("%s: UNSIGNED (accepted because of --insecure-unsigned), size %llu bytes, sha256 %s\n",
                  art.name.c_str(), static_cast<unsigned long long>(art.file_size), art.file_sha256.c_str());
    if (frames) {
      size_t content = 0;
      for (const FrameInfo& f : frames->frames) content += f.content ? 1 : 0;
      std::printf("  zstd frames: %zu, indexed (%zu of them a large file's content)\n", frames->frames.size(), content);
    }
    if (delta) {
      const auto& bases = described.config->delta_bases;
      std::printf("  delta artifact (format %d): it leaves out the files %s already held; made against:\n",
                  described.config->version, bases.size() > 1 ? "these bases" : "this base");
      for (const auto& b : bases)
        std::printf("  base %s\n    id %s\n    payload sha256 %s\n", b.image.c_str(), b.id.c_str(), b.payload_sha256.c_str());
    } else if (!described.config) {
      std::printf("  .droot/config.json unreadable: %s (not a deployable artifact)\n", described.problem.c_str());
    }
  }
  return 0;
}

}  // namespace droot::exec
