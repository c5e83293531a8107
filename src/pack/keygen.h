// `droot-pack keygen`: a minisign-format key pair (minisign -G compatible).
#pragma once

namespace droot::pack {

int cmd_keygen(int argc, char** argv);

}  // namespace droot::pack
