// The host's CPU architecture in the OCI / Go spelling an image config uses ("amd64", "arm64", ...), so that
// droot-pack's --platform default and droot-exec deploy's architecture check compare like with like.
#pragma once

#include <string>

namespace droot {

// uname(2)'s machine as an OCI architecture: x86_64 → amd64, aarch64 → arm64, armv7l → arm, i686 → 386, …;
// a machine name it does not know is returned unchanged.
std::string oci_architecture(const std::string& uname_machine);
std::string host_architecture();

}  // namespace droot
