// BLAKE2b with a chosen output length (RFC 7693). OpenSSL 3.0's EVP only offers the 64-byte variant, and a
// truncated BLAKE2b-512 is *not* BLAKE2b-256 (the output length is mixed into the parameter block), while
// minisign's secret-key checksum is BLAKE2b-256. Only used on small inputs; bulk hashing uses OpenSSL.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace droot {

std::vector<uint8_t> blake2b(std::string_view data, size_t out_len);

}  // namespace droot
