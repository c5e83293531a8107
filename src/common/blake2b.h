// BLAKE2b (RFC 7693), streaming, with a chosen output length. Two reasons for our own rather than OpenSSL's:
// - OpenSSL 3.0's EVP only offers the 64-byte variant, and a truncated BLAKE2b-512 is *not* BLAKE2b-256 (the
//   output length is mixed into the parameter block), while minisign's secret-key checksum is BLAKE2b-256.
// - Every artifact is hashed whole with BLAKE2b-512 (minisign's prehash) by droot-pack and again by every
//   verify and deploy, and OpenSSL 3.0's BLAKE2b is portable C: ~5 cycles per byte, the slowest step of
//   verification (SHA-256 with the SHA extensions runs at ~2). The compression function here keeps the 4x4
//   state in four AVX2 registers, one G per column (then per diagonal) in each lane: ~1.5x OpenSSL's speed,
//   more where AVX-512VL's 64-bit rotate replaces the byte shuffles. The CPU is asked once which to use.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace droot {

class Blake2b {
 public:
  // The compression functions this build has; `best` is the fastest the CPU runs.
  enum class Impl { portable, avx2, avx512, best };
  static bool supported(Impl impl);

  explicit Blake2b(size_t out_len = 64, Impl impl = Impl::best);  // throws std::invalid_argument unless 1..64
  void update(const void* data, size_t size);
  std::vector<uint8_t> finish();  // once

 private:
  using Compress = void (*)(uint64_t h[8], const uint8_t block[128], uint64_t counter, bool last);
  Compress compress_;
  uint64_t h_[8];
  uint64_t counter_ = 0;  // bytes compressed so far (inputs past 2^64 bytes are not a concern here)
  uint8_t block_[128];
  size_t block_len_ = 0;  // bytes waiting in block_: the last block must be compressed with the final flag
  size_t out_len_;
};

std::vector<uint8_t> blake2b(std::string_view data, size_t out_len);

}  // namespace droot
