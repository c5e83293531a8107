// Little-endian integers of 1..8 bytes, as the artifact's binary framing stores them (the signature trailer,
// the frame index: droot-artifact(5)).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace droot {

inline void put_le(std::string& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
}

inline uint64_t get_le(const uint8_t* p, int bytes) {
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

inline uint64_t get_le(std::string_view s, size_t at, int bytes) {
  return get_le(reinterpret_cast<const uint8_t*>(s.data()) + at, bytes);
}

}  // namespace droot
