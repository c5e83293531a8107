// Streaming digests on OpenSSL's EVP (RAII over EVP_MD_CTX), BLAKE2b-512 on our own where the CPU has AVX2
// (blake2b.h says why), and hex helpers.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

struct evp_md_ctx_st;
struct evp_md_st;

namespace droot {

class Blake2b;

class Digest {
 public:
  Digest(const Digest& other);  // copies the running state
  Digest(Digest&& other) noexcept;
  Digest& operator=(const Digest&) = delete;
  ~Digest();
  static Digest sha256();
  static Digest blake2b512();

  void update(const void* data, size_t size);
  void update(std::string_view data) { update(data.data(), data.size()); }
  std::vector<uint8_t> finish();

 private:
  explicit Digest(const evp_md_st* md);
  explicit Digest(std::unique_ptr<Blake2b> blake);
  evp_md_ctx_st* ctx_ = nullptr;   // one of the two
  std::unique_ptr<Blake2b> blake_;
};

// Writes 2 * size lower-case hex digits at `out` (no terminator); returns the end.
char* to_hex(const uint8_t* data, size_t size, char* out);
std::string to_hex(const uint8_t* data, size_t size);
inline std::string to_hex(const std::vector<uint8_t>& v) { return to_hex(v.data(), v.size()); }
template <size_t N>
std::string to_hex(const std::array<uint8_t, N>& v) { return to_hex(v.data(), N); }

std::string sha256_hex(std::string_view data);

}  // namespace droot
