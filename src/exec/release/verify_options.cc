#include "verify_options.h"

namespace droot::exec {

void add_verify_options(cxxopts::Options& opts) {
  opts.add_options()("p,public-key", "trusted minisign public key (repeatable; default /etc/droot/keys/*.pub)",
                     cxxopts::value<std::vector<std::string>>(), "PUB")(
      "signature", "detached .minisig to use instead of the embedded one", cxxopts::value<std::string>(), "FILE")(
      "insecure-unsigned", "accept an artifact that carries no signature");
}

VerifyOptions verify_options_from(const cxxopts::ParseResult& args, const std::string& spool_dir) {
  VerifyOptions vo;
  if (args.count("public-key")) vo.public_keys = args["public-key"].as<std::vector<std::string>>();
  if (args.count("signature")) vo.signature_path = args["signature"].as<std::string>();
  vo.insecure_unsigned = args.count("insecure-unsigned") > 0;
  vo.spool_dir = spool_dir;
  if (const char* tmp = std::getenv("TMPDIR"); tmp && *tmp && spool_dir == "/tmp") vo.spool_dir = tmp;
  return vo;
}

}  // namespace droot::exec
