#include "background_digest.h"

#include <doctest/doctest.h>

#include <string>

#include "hash.h"

namespace droot {

TEST_CASE("BackgroundDigest gives the digest of all blocks, in order, as Digest does") {
  std::string a(3 << 20, 'a'), b = "the second block", c(70000, '\x01');
  Digest plain = Digest::sha256();
  BackgroundDigest background(Digest::sha256());
  for (const std::string* block : {&a, &b, &c}) {
    plain.update(*block);
    background.update(block->data(), block->size());
  }
  CHECK(to_hex(background.finish()) == to_hex(plain.finish()));
}

TEST_CASE("BackgroundDigest: order matters, so a swapped pair of blocks gives another digest") {
  BackgroundDigest ab(Digest::blake2b512()), ba(Digest::blake2b512());
  ab.update("first", 5);
  ab.update("second", 6);
  ba.update("second", 6);
  ba.update("first", 5);
  CHECK(to_hex(ab.finish()) != to_hex(ba.finish()));
}

TEST_CASE("BackgroundDigest with no block is the digest of nothing") {
  BackgroundDigest empty(Digest::sha256());
  CHECK(to_hex(empty.finish()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST_CASE("BackgroundDigest can be destroyed while a block is being hashed") {
  std::string big(64 << 20, 'x');
  {
    BackgroundDigest d(Digest::sha256());
    d.update(big.data(), big.size());
  }  // joins after the block: `big` is still alive here, and the sanitizer run would catch a late read
  CHECK(big.size() == (64u << 20));
}

}  // namespace droot
