#include "zstd_stream.h"

#include <doctest/doctest.h>
#define ZSTD_STATIC_LINKING_ONLY  // ZSTD_getFrameHeader, to read the window a frame declares
#include <zstd.h>

#include <random>
#include <string>

using namespace droot::pack;

namespace {

std::string random_bytes(size_t n, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::string out(n, '\0');
  for (size_t i = 0; i + 8 <= n; i += 8) {
    uint64_t v = rng();
    out.replace(i, 8, reinterpret_cast<const char*>(&v), 8);
  }
  return out;
}

std::string compress(const std::string& in, int workers, int long_window_log) {
  std::string out;
  ZstdStream z(3, workers, long_window_log, [&](const void* d, size_t n) { out.append(static_cast<const char*>(d), n); });
  // Fed in pieces, as the artifact writer does.
  for (size_t pos = 0; pos < in.size(); pos += 64 * 1024) z.write(in.data() + pos, std::min<size_t>(64 * 1024, in.size() - pos));
  z.finish();
  return out;
}

std::string decompress(const std::string& in) {
  ZSTD_DStream* d = ZSTD_createDStream();
  REQUIRE(d != nullptr);
  std::string out;
  std::string buf(ZSTD_DStreamOutSize(), '\0');
  ZSTD_inBuffer input{in.data(), in.size(), 0};
  while (input.pos < input.size) {
    ZSTD_outBuffer output{buf.data(), buf.size(), 0};
    size_t rc = ZSTD_decompressStream(d, &output, &input);
    REQUIRE_FALSE(ZSTD_isError(rc));
    out.append(buf.data(), output.pos);
  }
  ZSTD_freeDStream(d);
  return out;
}

uint64_t window_size(const std::string& frame) {
  ZSTD_frameHeader header{};
  REQUIRE(ZSTD_getFrameHeader(&header, frame.data(), frame.size()) == 0);
  return header.windowSize;
}

// 4 MiB of noise, 3 MiB of other noise, the first 4 MiB again: the repeat starts 7 MiB back, beyond level 3's
// own 2 MiB window.
const std::string& far_repeat() {
  static const std::string data = [] {
    std::string a = random_bytes(4 << 20, 1);
    return a + random_bytes(3 << 20, 2) + a;
  }();
  return data;
}

}  // namespace

TEST_CASE("--long finds a repeat beyond the level's own window, and the frame says how much memory it needs") {
  std::string plain = compress(far_repeat(), 2, 0);
  std::string longer = compress(far_repeat(), 2, 24);
  CHECK(decompress(plain) == far_repeat());
  CHECK(decompress(longer) == far_repeat());
  CHECK(plain.size() > 10 * (1 << 20));   // noise: nothing found
  CHECK(longer.size() < 8 * (1 << 20));   // the second copy of the 4 MiB found 7 MiB back
  CHECK(window_size(plain) <= (uint64_t{1} << 21));
  CHECK(window_size(longer) == (uint64_t{1} << 24));
}

TEST_CASE("with --long the bytes still do not depend on the worker count") {
  CHECK(compress(far_repeat(), 1, 24) == compress(far_repeat(), 2, 24));
  CHECK(compress(far_repeat(), 1, 0) == compress(far_repeat(), 3, 0));
}
