// RFC 4648 base64 for what the docker CLI exchanges with the Engine: `auth` in config.json (standard alphabet)
// and the X-Registry-Auth header (URL-safe alphabet, padded, as Go's base64.URLEncoding writes it).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace droot::pack {

std::string base64_encode(std::string_view data);
std::string base64url_encode(std::string_view data);
// Strict standard-alphabet decoding with padding; nullopt for anything malformed.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace droot::pack
