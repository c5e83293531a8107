#include "frame_index.h"

#include <doctest/doctest.h>
#include <sys/mman.h>
#include <unistd.h>

#include "error.h"
#include "io.h"

using namespace droot;

namespace {

FrameInfo frame(uint64_t compressed, uint64_t tar_bytes, uint64_t entries) {
  FrameInfo f;
  f.compressed = compressed;
  f.tar_bytes = tar_bytes;
  f.entries = entries;
  return f;
}

FrameInfo content_frame(uint64_t compressed, uint64_t size) {
  FrameInfo f = frame(compressed, (size + 511) / 512 * 512, 0);
  f.content = ContentKey{size, std::string(64, 'e'), 04755, 1000, 100, 1700000000, 5};
  return f;
}

// A payload whose data frames are stand-in bytes of the sizes the index gives.
std::string payload_with(const std::vector<FrameInfo>& frames) {
  std::string p;
  for (const FrameInfo& f : frames) p += std::string(f.compressed, 'z');
  return p + make_frame_index(frames);
}

std::string error_of(std::string_view payload) {
  try {
    (void)read_frame_index(payload, "app.tar.zst");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("a frame index round-trips, from memory and from an fd") {
  const std::vector<FrameInfo> frames{frame(1000, 8 << 20, 312), frame(20, 1024, 1), content_frame(3000, 300000), frame(7, 512, 1)};
  const std::string payload = payload_with(frames);
  auto index = read_frame_index(payload, "app.tar.zst");
  REQUIRE(index.has_value());
  CHECK(index->frames == frames);
  CHECK(index->index_size == make_frame_index(frames).size());
  CHECK(payload.substr(payload.size() - 8) == "DROOTIDX");
  // A zstd skippable frame: magic 0x184D2A5B, then the length of what follows.
  CHECK(payload.substr(4027, 4) == std::string("\x5b\x2a\x4d\x18", 4));

  int fd = ::memfd_create("frames", 0);
  write_all(fd, payload, "memfd");
  auto from_fd = read_frame_index(fd, payload.size(), "app.tar.zst");
  ::close(fd);
  REQUIRE(from_fd.has_value());
  CHECK(from_fd->frames == frames);
}

TEST_CASE("a payload without an index has none") {
  CHECK_FALSE(read_frame_index(std::string_view("(one zstd frame)"), "a").has_value());
  CHECK_FALSE(read_frame_index(std::string_view(""), "a").has_value());
}

TEST_CASE("a malformed frame index is an error, never ignored") {
  const std::vector<FrameInfo> frames{frame(100, 4096, 3), frame(10, 1024, 1)};
  const std::string good = payload_with(frames);
  const std::string index = make_frame_index(frames);
  const size_t at = good.size() - index.size();

  SUBCASE("frames that do not add up to the payload") {
    CHECK(error_of("x" + good).find("do not make up the whole payload") != std::string::npos);
    std::string shorter = good.substr(1);  // one data byte fewer than the index says
    CHECK(error_of(shorter).find("larger than the payload") != std::string::npos);
  }
  SUBCASE("frames larger than the payload") {
    CHECK(error_of(payload_with({frame(100, 512, 1)}).substr(50)).find("larger than the payload") != std::string::npos);
  }
  SUBCASE("a footer whose length cannot be") {
    std::string p = good;
    p[p.size() - 16] = 3;  // claims 3 bytes
    p[p.size() - 15] = 0;
    CHECK(error_of(p).find("frame index of 3 bytes") != std::string::npos);
    std::string huge = good;
    huge[huge.size() - 10] = 1;  // 2^48 bytes
    CHECK(error_of(huge).find("which cannot be") != std::string::npos);
  }
  SUBCASE("the wrong magic") {
    std::string p = good;
    p[at] = 0x5d;  // the signature trailer's magic, not the index's
    CHECK(error_of(p).find("magic 0x184D2A5B") != std::string::npos);
  }
  SUBCASE("a frame length that disagrees with the footer") {
    std::string p = good;
    ++p[at + 4];
    CHECK(error_of(p).find("length does not match") != std::string::npos);
  }
  SUBCASE("lines that are not three plain numbers") {
    auto with_line = [&](const std::string& line) {
      std::string body = "droot-frames 1\n" + line;
      // Built by hand: the writer only prints valid lines.
      std::string frame;
      const uint64_t total = 8 + body.size() + 16;
      for (int i = 0; i < 4; ++i) frame.push_back(static_cast<char>((0x184D2A5BULL >> (8 * i)) & 0xff));
      for (int i = 0; i < 4; ++i) frame.push_back(static_cast<char>(((total - 8) >> (8 * i)) & 0xff));
      frame += body;
      for (int i = 0; i < 8; ++i) frame.push_back(static_cast<char>((total >> (8 * i)) & 0xff));
      frame += "DROOTIDX";
      return std::string(100, 'z') + frame;
    };
    CHECK(error_of(with_line("100 512 1\n")).empty());
    CHECK(error_of(with_line("100 512 1")).find("has no newline") != std::string::npos);
    CHECK(error_of(with_line("100 0512 1\n")).find("is not '<compressed>") != std::string::npos);
    CHECK(error_of(with_line("100 +512 1\n")).find("is not '<compressed>") != std::string::npos);
    CHECK(error_of(with_line("100 512\n")).find("is not '<compressed>") != std::string::npos);
    CHECK(error_of(with_line("100  512 1\n")).find("is not '<compressed>") != std::string::npos);
    CHECK(error_of(with_line("100 512 1 7\n")).find("is not '<compressed>") != std::string::npos);
    CHECK(error_of(with_line("100 500 1\n")).find("not whole tar blocks") != std::string::npos);
    CHECK(error_of(with_line("100 512 0\n")).find("nor a content frame's line") != std::string::npos);
    CHECK(error_of(with_line("")).find("lists no frame") != std::string::npos);
    const std::string hex(64, 'a');
    CHECK(error_of(with_line("100 1024 0 1000 " + hex + " 0644 0 0 1700000000.000000000\n")).empty());
    CHECK(error_of(with_line("100 1024 1 1000 " + hex + " 0644 0 0 1700000000.000000000\n")).find("nor a content") !=
          std::string::npos);  // a key on a frame of entries
    CHECK(error_of(with_line("100 1536 0 1000 " + hex + " 0644 0 0 1700000000.000000000\n")).find("rounded up to 512") !=
          std::string::npos);
    CHECK(error_of(with_line("100 512 0 0 " + hex + " 0644 0 0 1700000000.000000000\n")).find("rounded up to 512") !=
          std::string::npos);
    for (const std::string& bad_key :
         {"1000 " + hex.substr(1) + " 0644 0 0 1.000000000", "1000 " + std::string(64, 'A') + " 0644 0 0 1.000000000",
          "1000 " + hex + " 0844 0 0 1.000000000", "1000 " + hex + " 644 0 0 1.000000000",
          "1000 " + hex + " 0644 0 0 1.00000000", "1000 " + hex + " 0644 0 0 1", "1000 " + hex + " 0644 0 0 -1.000000000",
          "1000 " + hex + " 0644 x 0 1.000000000"})
      CHECK(error_of(with_line("100 1024 0 " + bad_key + "\n")).find("is not a content frame's") != std::string::npos);
    CHECK(error_of(with_line("100 512 1\n").replace(100 + 8, 5, "DROOT")).find("'droot-frames 1'") !=
          std::string::npos);
    CHECK(error_of(with_line("18446744073709551616 512 1\n")).find("is not '<compressed>") != std::string::npos);
  }
}
