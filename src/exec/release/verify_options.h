// The trust options shared by `verify` and `deploy`.
#pragma once

#include <cxxopts.hpp>
#include <string>

#include "artifact_verify.h"

namespace droot::exec {

void add_verify_options(cxxopts::Options& opts);
VerifyOptions verify_options_from(const cxxopts::ParseResult& args, const std::string& spool_dir);

}  // namespace droot::exec
