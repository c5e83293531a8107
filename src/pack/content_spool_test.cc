#include "content_spool.h"

#include <doctest/doctest.h>

#include <string>

using namespace droot::pack;

namespace {
std::string replayed(const ContentSpool& s) {
  std::string out;
  s.replay([&](const void* data, size_t n) { out.append(static_cast<const char*>(data), n); });
  return out;
}
std::string pattern(size_t n, char seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>(seed + i * 7 % 251);
  return s;
}
}  // namespace

TEST_CASE("small content stays in memory, large content spills to the temp file, and both replay in order") {
  ContentSpool s(1000);
  CHECK(replayed(s).empty());
  const std::string small = pattern(999, 'a');
  s.append(small.data(), 500);
  s.append(small.data() + 500, 499);
  CHECK_FALSE(s.spilled());
  CHECK(s.size() == 999);
  CHECK(replayed(s) == small);

  s.clear();
  const std::string big = pattern(700 * 1024, 'b');  // several 256 KiB chunks from the file
  for (size_t off = 0; off < big.size(); off += 4096) s.append(big.data() + off, std::min<size_t>(4096, big.size() - off));
  CHECK(s.spilled());
  CHECK(s.size() == big.size());
  CHECK(replayed(s) == big);

  // reused for the next file: nothing of the previous one is left, in memory or in the file
  s.clear();
  CHECK(s.size() == 0);
  const std::string next = pattern(1500, 'c');
  s.append(next.data(), next.size());
  CHECK(s.spilled());
  CHECK(replayed(s) == next);
}

TEST_CASE("content of exactly the memory limit does not touch the file") {
  ContentSpool s(64);
  const std::string exact = pattern(64, 'd');
  s.append(exact.data(), exact.size());
  CHECK_FALSE(s.spilled());
  CHECK(replayed(s) == exact);
}
