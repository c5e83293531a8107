#include "blake2b.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define DROOT_BLAKE2B_X86 1
#endif

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace droot {
namespace {

constexpr uint64_t kIv[8] = {0x6a09e667f3bcc908ULL, 0xbb67ae8584caa73bULL, 0x3c6ef372fe94f82bULL,
                             0xa54ff53a5f1d36f1ULL, 0x510e527fade682d1ULL, 0x9b05688c2b3e6c1fULL,
                             0x1f83d9abfb41bd6bULL, 0x5be0cd19137e2179ULL};

constexpr uint8_t kSigma[12][16] = {
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
    {11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4}, {7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8},
    {9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13}, {2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9},
    {12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11}, {13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10},
    {6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5}, {10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0},
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3}};

uint64_t rotr(uint64_t x, int n) { return (x >> n) | (x << (64 - n)); }

uint64_t load64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

void compress_portable(uint64_t h[8], const uint8_t block[128], uint64_t counter, bool last) {
  uint64_t m[16], v[16];
  for (int i = 0; i < 16; ++i) m[i] = load64(block + 8 * i);
  for (int i = 0; i < 8; ++i) {
    v[i] = h[i];
    v[i + 8] = kIv[i];
  }
  v[12] ^= counter;
  if (last) v[14] = ~v[14];
  auto g = [&](int a, int b, int c, int d, uint64_t x, uint64_t y) {
    v[a] = v[a] + v[b] + x;
    v[d] = rotr(v[d] ^ v[a], 32);
    v[c] = v[c] + v[d];
    v[b] = rotr(v[b] ^ v[c], 24);
    v[a] = v[a] + v[b] + y;
    v[d] = rotr(v[d] ^ v[a], 16);
    v[c] = v[c] + v[d];
    v[b] = rotr(v[b] ^ v[c], 63);
  };
  for (const auto& s : kSigma) {
    g(0, 4, 8, 12, m[s[0]], m[s[1]]);
    g(1, 5, 9, 13, m[s[2]], m[s[3]]);
    g(2, 6, 10, 14, m[s[4]], m[s[5]]);
    g(3, 7, 11, 15, m[s[6]], m[s[7]]);
    g(0, 5, 10, 15, m[s[8]], m[s[9]]);
    g(1, 6, 11, 12, m[s[10]], m[s[11]]);
    g(2, 7, 8, 13, m[s[12]], m[s[13]]);
    g(3, 4, 9, 14, m[s[14]], m[s[15]]);
  }
  for (int i = 0; i < 8; ++i) h[i] ^= v[i] ^ v[i + 8];
}


#ifdef DROOT_BLAKE2B_X86
// The vector versions: rows a = v0..v3, b = v4..v7, c = v8..v11, d = v12..v15, so that one G over the four
// lanes is the round's four column steps; rotating rows b, c and d by one, two and three lanes lines the
// diagonals up as columns for the other four, and rotating back restores the rows. The message words of a
// round are picked per lane (the schedule is a compile-time table once the loop is unrolled). BLAKE2b's
// words are little-endian, as x86 is.
// G on all four lanes at once.
#define DROOT_BLAKE2B_G(X, Y, ROTR32, ROTR24, ROTR16, ROTR63) \
  do {                                                        \
    const __m256i x_ = (X), y_ = (Y);                         \
    a = _mm256_add_epi64(_mm256_add_epi64(a, b), x_);         \
    d = ROTR32(_mm256_xor_si256(d, a));                       \
    c = _mm256_add_epi64(c, d);                               \
    b = ROTR24(_mm256_xor_si256(b, c));                       \
    a = _mm256_add_epi64(_mm256_add_epi64(a, b), y_);         \
    d = ROTR16(_mm256_xor_si256(d, a));                       \
    c = _mm256_add_epi64(c, d);                               \
    b = ROTR63(_mm256_xor_si256(b, c));                       \
  } while (0)

#define DROOT_BLAKE2B_VECTOR(NAME, TARGET, ROTR32, ROTR24, ROTR16, ROTR63)                                   \
  __attribute__((target(TARGET))) void NAME(uint64_t h[8], const uint8_t block[128], uint64_t counter,        \
                                            bool last) {                                                      \
    long long m[16];                                                                                          \
    std::memcpy(m, block, sizeof m);                                                                          \
    [[maybe_unused]] const __m256i r16 = _mm256_setr_epi8(2, 3, 4, 5, 6, 7, 0, 1, 10, 11, 12, 13, 14, 15, 8,  \
                                                          9, 2, 3, 4, 5, 6, 7, 0, 1, 10, 11, 12, 13, 14, 15,  \
                                                          8, 9);                                              \
    [[maybe_unused]] const __m256i r24 = _mm256_setr_epi8(3, 4, 5, 6, 7, 0, 1, 2, 11, 12, 13, 14, 15, 8, 9,   \
                                                          10, 3, 4, 5, 6, 7, 0, 1, 2, 11, 12, 13, 14, 15, 8,  \
                                                          9, 10);                                             \
    __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(h));                                      \
    __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(h + 4));                                  \
    __m256i c = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(kIv));                                    \
    __m256i d = _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(kIv + 4)),               \
                                 _mm256_set_epi64x(0, last ? -1LL : 0, 0, static_cast<long long>(counter)));  \
    const __m256i a0 = a, b0 = b;                                                                             \
    _Pragma("GCC unroll 12") for (const auto& s : kSigma) {                                                   \
      DROOT_BLAKE2B_G(_mm256_set_epi64x(m[s[6]], m[s[4]], m[s[2]], m[s[0]]),                                 \
                      _mm256_set_epi64x(m[s[7]], m[s[5]], m[s[3]], m[s[1]]), ROTR32, ROTR24, ROTR16, ROTR63); \
      b = _mm256_permute4x64_epi64(b, _MM_SHUFFLE(0, 3, 2, 1));                                               \
      c = _mm256_permute4x64_epi64(c, _MM_SHUFFLE(1, 0, 3, 2));                                               \
      d = _mm256_permute4x64_epi64(d, _MM_SHUFFLE(2, 1, 0, 3));                                               \
      DROOT_BLAKE2B_G(_mm256_set_epi64x(m[s[14]], m[s[12]], m[s[10]], m[s[8]]),                               \
                      _mm256_set_epi64x(m[s[15]], m[s[13]], m[s[11]], m[s[9]]), ROTR32, ROTR24, ROTR16, ROTR63); \
      b = _mm256_permute4x64_epi64(b, _MM_SHUFFLE(2, 1, 0, 3));                                               \
      c = _mm256_permute4x64_epi64(c, _MM_SHUFFLE(1, 0, 3, 2));                                               \
      d = _mm256_permute4x64_epi64(d, _MM_SHUFFLE(0, 3, 2, 1));                                               \
    }                                                                                                         \
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(h), _mm256_xor_si256(a0, _mm256_xor_si256(a, c)));        \
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(h + 4), _mm256_xor_si256(b0, _mm256_xor_si256(b, d)));    \
  }

// AVX2 has no 64-bit rotate: by 32 swap the halves, by 24 and 16 shuffle bytes, by 63 shift and add.
#define DROOT_AVX2_ROTR32(x) _mm256_shuffle_epi32(x, _MM_SHUFFLE(2, 3, 0, 1))
#define DROOT_AVX2_ROTR24(x) _mm256_shuffle_epi8(x, r24)
#define DROOT_AVX2_ROTR16(x) _mm256_shuffle_epi8(x, r16)
#define DROOT_AVX2_ROTR63(x) _mm256_or_si256(_mm256_srli_epi64(x, 63), _mm256_add_epi64(x, x))
DROOT_BLAKE2B_VECTOR(compress_avx2, "avx2", DROOT_AVX2_ROTR32, DROOT_AVX2_ROTR24, DROOT_AVX2_ROTR16,
                     DROOT_AVX2_ROTR63)
// AVX-512VL rotates 64-bit lanes in one instruction.
#define DROOT_AVX512_ROTR32(x) _mm256_ror_epi64(x, 32)
#define DROOT_AVX512_ROTR24(x) _mm256_ror_epi64(x, 24)
#define DROOT_AVX512_ROTR16(x) _mm256_ror_epi64(x, 16)
#define DROOT_AVX512_ROTR63(x) _mm256_ror_epi64(x, 63)
DROOT_BLAKE2B_VECTOR(compress_avx512, "avx2,avx512f,avx512vl", DROOT_AVX512_ROTR32, DROOT_AVX512_ROTR24,
                     DROOT_AVX512_ROTR16, DROOT_AVX512_ROTR63)

#endif  // DROOT_BLAKE2B_X86

bool cpu_has(Blake2b::Impl impl) {
#ifndef DROOT_BLAKE2B_X86
  return impl == Blake2b::Impl::portable || impl == Blake2b::Impl::best;
#else
  switch (impl) {
    case Blake2b::Impl::portable:
      return true;
    case Blake2b::Impl::avx2:
      return __builtin_cpu_supports("avx2");
    case Blake2b::Impl::avx512:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("avx512f") &&
             __builtin_cpu_supports("avx512vl");
    case Blake2b::Impl::best:
      return true;
  }
  return false;
#endif
}

}  // namespace

bool Blake2b::supported(Impl impl) { return cpu_has(impl); }

Blake2b::Blake2b(size_t out_len, Impl impl) : out_len_(out_len) {
  if (out_len == 0 || out_len > 64) throw std::invalid_argument("blake2b output length must be 1..64");
  if (impl == Impl::best) impl = cpu_has(Impl::avx512) ? Impl::avx512 : cpu_has(Impl::avx2) ? Impl::avx2 : Impl::portable;
  if (!cpu_has(impl)) throw std::invalid_argument("this CPU cannot run the requested blake2b implementation");
  compress_ = compress_portable;
#ifdef DROOT_BLAKE2B_X86
  if (impl == Impl::avx512) compress_ = compress_avx512;
  if (impl == Impl::avx2) compress_ = compress_avx2;
#endif
  std::memcpy(h_, kIv, sizeof h_);
  h_[0] ^= 0x01010000ULL ^ out_len;  // depth 1, fanout 1, no key, digest length
}

void Blake2b::update(const void* data, size_t size) {
  const auto* p = static_cast<const uint8_t*>(data);
  // A full block is compressed only once more input follows: the last block takes the final flag.
  if (block_len_ > 0 && size > 0) {
    size_t n = std::min(size, sizeof block_ - block_len_);
    std::memcpy(block_ + block_len_, p, n);
    block_len_ += n;
    p += n;
    size -= n;
    if (size == 0) return;
    counter_ += sizeof block_;
    compress_(h_, block_, counter_, false);
    block_len_ = 0;
  }
  while (size > sizeof block_) {
    counter_ += sizeof block_;
    compress_(h_, p, counter_, false);
    p += sizeof block_;
    size -= sizeof block_;
  }
  std::memcpy(block_, p, size);
  block_len_ = size;
}

std::vector<uint8_t> Blake2b::finish() {
  std::memset(block_ + block_len_, 0, sizeof block_ - block_len_);
  counter_ += block_len_;
  compress_(h_, block_, counter_, true);
  std::vector<uint8_t> out(out_len_);
  for (size_t i = 0; i < out_len_; ++i) out[i] = static_cast<uint8_t>(h_[i / 8] >> (8 * (i % 8)));
  return out;
}

std::vector<uint8_t> blake2b(std::string_view data, size_t out_len) {
  Blake2b b(out_len);
  b.update(data.data(), data.size());
  return b.finish();
}

}  // namespace droot
