#include "blake2b.h"

#include <doctest/doctest.h>

#include "hash.h"

using droot::blake2b;
using droot::to_hex;

TEST_CASE("blake2b-512 of the empty string matches RFC 7693 / OpenSSL") {
  CHECK(to_hex(blake2b("", 64)) ==
        "786a02f742015903c6c6fd852552d272912f4740e15847618a86e217f71f5419d25e1031afee585313896444934eb04b903a685b1448b7"
        "55d56f701afe9be2ce");
}

TEST_CASE("blake2b-512 agrees with OpenSSL on inputs around the block size") {
  for (size_t n : {1, 127, 128, 129, 255, 256, 1000}) {
    std::string data(n, 'x');
    droot::Digest d = droot::Digest::blake2b512();
    d.update(data);
    CHECK(to_hex(blake2b(data, 64)) == to_hex(d.finish()));
  }
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
}
