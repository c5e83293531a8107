#include <cxxopts.hpp>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "artifact_verify.h"
#include "commands.h"
#include "error.h"
#include "verify_options.h"

namespace droot::exec {

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
    std::printf("%s\n", j.dump().c_str());
  } else if (!args.count("quiet")) {
    if (art.is_signed)
      std::printf("%s: OK, signed by key %s (%s)\n  image %s\n  id %s\n  size %llu bytes, payload sha256 %s\n",
                  art.name.c_str(), art.key_id.c_str(), art.key_path.c_str(), field("image").c_str(), field("id").c_str(),
                  static_cast<unsigned long long>(art.file_size), art.payload_sha256.c_str());
    else
      std::printf("%s: UNSIGNED (accepted because of --insecure-unsigned), size %llu bytes, sha256 %s\n",
                  art.name.c_str(), static_cast<unsigned long long>(art.file_size), art.file_sha256.c_str());
  }
  return 0;
}

}  // namespace droot::exec
