#include "blake2b.h"

#include <doctest/doctest.h>
#include <openssl/evp.h>

#include <algorithm>
#include <random>
#include <string>

#include "hash.h"

using droot::blake2b;
using droot::to_hex;

TEST_CASE("blake2b-512 of the empty string matches RFC 7693 / OpenSSL") {
  CHECK(to_hex(blake2b("", 64)) ==
        "786a02f742015903c6c6fd852552d272912f4740e15847618a86e217f71f5419d25e1031afee585313896444934eb04b903a685b1448b7"
        "55d56f701afe9be2ce");
}

namespace {

std::string openssl_blake2b512(const std::string& data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  REQUIRE(EVP_Digest(data.data(), data.size(), out, &len, EVP_blake2b512(), nullptr) == 1);
  return to_hex(out, len);
}

std::string random_bytes(size_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(gen());
  return s;
}

}  // namespace

TEST_CASE("blake2b-512 agrees with OpenSSL on inputs around the block size") {
  for (size_t n : {1, 127, 128, 129, 255, 256, 1000}) {
    std::string data(n, 'x');
    CHECK(to_hex(blake2b(data, 64)) == openssl_blake2b512(data));
  }
}

TEST_CASE("every blake2b implementation this CPU runs agrees with OpenSSL, fed in pieces of any size") {
  using Impl = droot::Blake2b::Impl;
  int tested = 0;
  for (Impl impl : {Impl::portable, Impl::avx2, Impl::avx512}) {
    if (!droot::Blake2b::supported(impl)) continue;
    ++tested;
    CAPTURE(static_cast<int>(impl));
    for (size_t n : {0, 1, 63, 64, 127, 128, 129, 256, 257, 4096, 100000}) {
      const std::string data = random_bytes(n, static_cast<unsigned>(n));
      const std::string want = openssl_blake2b512(data);
      // Whole, then in pieces of 1, 7, 128 and 1000 bytes: a block boundary falls everywhere in a piece.
      for (size_t piece : {n, size_t{1}, size_t{7}, size_t{128}, size_t{1000}}) {
        CAPTURE(n);
        CAPTURE(piece);
        droot::Blake2b b(64, impl);
        for (size_t off = 0; off < n; off += piece) b.update(data.data() + off, std::min(piece ? piece : 1, n - off));
        CHECK(to_hex(b.finish()) == want);
      }
    }
    droot::Blake2b short_hash(32, impl);
    short_hash.update("abc", 3);
    CHECK(to_hex(short_hash.finish()) == "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319");
  }
  CHECK(tested >= 1);
  // Digest::blake2b512 (ours or OpenSSL's, whichever is faster here) is the same function, and so is a copy
  // of its running state.
  const std::string data = random_bytes(300000, 7);
  droot::Digest d = droot::Digest::blake2b512();
  d.update(data.data(), 1000);
  droot::Digest copy(d);
  d.update(data.data() + 1000, data.size() - 1000);
  copy.update(data.data() + 1000, data.size() - 1000);
  CHECK(to_hex(d.finish()) == openssl_blake2b512(data));
  CHECK(to_hex(copy.finish()) == openssl_blake2b512(data));
}

TEST_CASE("blake2b-256 is not a truncated blake2b-512") {
  auto short_hash = blake2b("abc", 32);
  auto long_hash = blake2b("abc", 64);
  CHECK(short_hash.size() == 32);
  CHECK(to_hex(short_hash) == "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319");
  CHECK(to_hex(short_hash) != to_hex(long_hash).substr(0, 64));
}

TEST_CASE("blake2b rejects impossible output lengths") {
  CHECK_THROWS(blake2b("x", 0));
  CHECK_THROWS(blake2b("x", 65));
  CHECK_THROWS(droot::Blake2b(65));
}
