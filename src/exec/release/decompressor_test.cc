#include "decompressor.h"

#include <doctest/doctest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <zstd.h>

#include <random>

#include "error.h"
#include "fd.h"
#include "io.h"

namespace droot::exec {
namespace {

// Bytes compressed as a single stream with libarchive's "raw" writer, as a tar payload would be.
std::string compress(const std::string& data, const char* filter) {
  ArchiveWriter w(archive_write_new());
  REQUIRE((std::string(filter) == "none" ? archive_write_add_filter_none(w.get())
                                          : archive_write_add_filter_by_name(w.get(), filter)) == ARCHIVE_OK);
  REQUIRE(archive_write_set_format_raw(w.get()) == ARCHIVE_OK);
  REQUIRE(archive_write_set_bytes_in_last_block(w.get(), 1) == ARCHIVE_OK);
  std::string out(data.size() + (1 << 16), '\0');
  size_t used = 0;
  REQUIRE(archive_write_open_memory(w.get(), out.data(), out.size(), &used) == ARCHIVE_OK);
  ArchiveEntry e(archive_entry_new());
  archive_entry_set_filetype(e.get(), AE_IFREG);
  archive_entry_set_pathname(e.get(), "data");
  REQUIRE(archive_write_header(w.get(), e.get()) == ARCHIVE_OK);
  REQUIRE(archive_write_data(w.get(), data.data(), data.size()) == static_cast<la_ssize_t>(data.size()));
  REQUIRE(archive_write_close(w.get()) == ARCHIVE_OK);
  out.resize(used);
  return out;
}

UniqueFd memory_file(const std::string& bytes) {
  UniqueFd fd(::memfd_create("decompressor-test", MFD_CLOEXEC));
  REQUIRE(fd.get() >= 0);
  write_all(fd.get(), bytes.data(), bytes.size(), "memfd");
  return fd;
}

std::string sha256_hex(const std::string& bytes) {
  Digest d = Digest::sha256();
  d.update(bytes.data(), bytes.size());
  return to_hex(d.finish());
}

// Several chunks' worth, half of it incompressible so the stream is not trivially short.
std::string sample() {
  std::string s(5 * Decompressor::kChunkSize + 123, 'x');
  std::mt19937 rng(7);
  for (size_t i = 0; i < s.size() / 2; ++i) s[i] = static_cast<char>(rng());
  return s;
}

void drain(Decompressor& d) {
  while (!d.next().empty()) {
  }
}

std::string drain_to_string(Decompressor& d) {
  std::string out;
  for (std::span<const char> chunk; !(chunk = d.next()).empty();) out.append(chunk.data(), chunk.size());
  return out;
}

// One zstd frame made by libzstd itself, with its XXH64 content checksum (as droot-pack writes).
std::string zstd_frame(const std::string& data) {
  ZSTD_CCtx* c = ZSTD_createCCtx();
  REQUIRE(c != nullptr);
  REQUIRE(!ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1)));
  std::string out(ZSTD_compressBound(data.size()), '\0');
  size_t n = ZSTD_compress2(c, out.data(), out.size(), data.data(), data.size());
  ZSTD_freeCCtx(c);
  REQUIRE(!ZSTD_isError(n));
  out.resize(n);
  return out;
}

}  // namespace

TEST_CASE("Decompressor: zstd, gzip and uncompressed payloads come back whole, and the compressed bytes are hashed") {
  const std::string data = sample();
  for (const char* filter : {"zstd", "gzip", "none"}) {
    CAPTURE(filter);
    std::string compressed = compress(data, filter);
    UniqueFd fd = memory_file(compressed + "TRAILER-NOT-READ");
    Decompressor d(fd.get(), compressed.size(), "app.tar.zst");
    std::string out;
    for (;;) {
      std::span<const char> chunk = d.next();
      if (chunk.empty()) break;
      CHECK(chunk.size() <= Decompressor::kChunkSize);
      out.append(chunk.data(), chunk.size());
    }
    CHECK(out == data);
    CHECK(d.finish() == sha256_hex(compressed));
  }
}

TEST_CASE("Decompressor: finish() hashes what the consumer did not ask for") {
  std::string compressed = compress(sample(), "zstd");
  UniqueFd fd = memory_file(compressed);
  Decompressor d(fd.get(), compressed.size(), "app.tar.zst");
  CHECK_FALSE(d.next().empty());
  CHECK(d.finish() == sha256_hex(compressed));
}

// Not every flipped byte is a decoder error (zstd stores incompressible blocks raw, without a checksum):
// that is what the payload's sha256 is for. A stream that stops mid-frame is one.
TEST_CASE("Decompressor: a corrupt stream is an error naming the artifact") {
  std::string compressed = compress(sample(), "zstd");
  compressed.resize(compressed.size() / 2);
  UniqueFd fd = memory_file(compressed);
  Decompressor d(fd.get(), compressed.size(), "app.tar.zst");
  CHECK_THROWS_WITH_AS(drain(d), doctest::Contains("app.tar.zst"), Error);
}

TEST_CASE("Decompressor: a file that shrank after verification is refused with that reason") {
  std::string compressed = compress(sample(), "zstd");
  UniqueFd fd = memory_file(compressed);
  REQUIRE(::ftruncate(fd.get(), static_cast<off_t>(compressed.size() / 3)) == 0);
  Decompressor d(fd.get(), compressed.size(), "app.tar.zst");
  CHECK_THROWS_WITH_AS(drain(d), doctest::Contains("shrank after it was verified"), Error);
}

TEST_CASE("Decompressor: a consumer that gives up early does not leave the thread blocked") {
  std::string compressed = compress(sample(), "gzip");
  UniqueFd fd = memory_file(compressed);
  {
    Decompressor d(fd.get(), compressed.size(), "app.tar.gz");
    CHECK_FALSE(d.next().empty());
  }  // the destructor must return: the thread is stopped while its queue is full
  CHECK(true);
}

}  // namespace droot::exec

namespace droot::exec {

TEST_CASE("Decompressor: a zstd payload of several frames comes back whole, across the two read buffers") {
  const std::string a = sample(), b(3 * Decompressor::kChunkSize, 'b');
  const std::string compressed = zstd_frame(a) + zstd_frame(b) + zstd_frame("");
  REQUIRE(compressed.size() > 2 * Decompressor::kChunkSize);  // the hashing thread's buffers are reused
  UniqueFd fd = memory_file(compressed + "TRAILER");
  Decompressor d(fd.get(), compressed.size(), "app.tar.zst");
  CHECK(drain_to_string(d) == a + b);
  CHECK(d.finish() == sha256_hex(compressed));
}

// The compressed bytes are verified by their SHA-256 before and after: zstd's own XXH64 of each frame is
// not computed (decompressor.h says why). A frame whose checksum field alone is wrong decodes; the caller's
// comparison of finish() with the verified sha256 is what refuses changed bytes.
TEST_CASE("Decompressor: zstd's frame checksum is left to the payload's sha256") {
  const std::string data = sample();
  std::string compressed = zstd_frame(data);
  compressed.back() ^= 0x55;  // the last 4 bytes are the XXH64 checksum
  UniqueFd fd = memory_file(compressed);
  Decompressor d(fd.get(), compressed.size(), "app.tar.zst");
  CHECK(drain_to_string(d) == data);
  CHECK(d.finish() == sha256_hex(compressed));
}

TEST_CASE("Decompressor: a zstd payload cut in the middle of a frame, or followed by other bytes, is refused") {
  const std::string frame = zstd_frame(sample());
  SUBCASE("cut") {
    const std::string compressed = frame.substr(0, frame.size() - 100);
    UniqueFd fd = memory_file(compressed);
    Decompressor d(fd.get(), compressed.size(), "app.tar.zst");
    CHECK_THROWS_WITH_AS(drain(d), "app.tar.zst: corrupt payload: the zstd stream ends in the middle of a frame",
                         Error);
  }
  SUBCASE("followed by bytes that are no frame") {
    const std::string compressed = frame + "not zstd";
    UniqueFd fd = memory_file(compressed);
    Decompressor d(fd.get(), compressed.size(), "app.tar.zst");
    CHECK_THROWS_WITH_AS(drain(d), doctest::Contains("app.tar.zst: corrupt payload: zstd: "), Error);
  }
}

TEST_CASE("Decompressor: a zstd consumer that gives up early does not leave either thread blocked") {
  const std::string compressed = zstd_frame(sample() + sample());
  UniqueFd fd = memory_file(compressed);
  {
    Decompressor d(fd.get(), compressed.size(), "app.tar.zst");
    CHECK_FALSE(d.next().empty());
  }
  CHECK(true);
}

}  // namespace droot::exec

// ---- with a frame index (frame_index.h) ----

namespace droot::exec {
namespace {

struct Framed {
  std::string payload;  // the frames and the index
  FrameIndex index;
  std::vector<std::string> tars;  // what each frame decodes to
};

// Frames of the given tar bytes (each a multiple of 512); `content` marks the content frames.
Framed framed(const std::vector<std::string>& tars, const std::vector<bool>& content) {
  Framed f;
  std::vector<FrameInfo> infos;
  for (size_t i = 0; i < tars.size(); ++i) {
    FrameInfo info;
    std::string frame = zstd_frame(tars[i]);
    info.compressed = frame.size();
    info.tar_bytes = tars[i].size();
    info.entries = content[i] ? 0 : 1;
    if (content[i]) info.content = ContentKey{tars[i].size(), sha256_hex(tars[i]), 0644, 0, 0, 1700000000, 0};
    f.payload += frame;
    infos.push_back(info);
  }
  f.payload += make_frame_index(infos);
  f.index = *read_frame_index(f.payload, "framed");
  f.tars = tars;
  return f;
}

std::string block(char c, size_t blocks) { return std::string(512 * blocks, c); }

}  // namespace

TEST_CASE("Decompressor with a frame index: every frame decoded, whole, chunks never spanning two frames") {
  const Framed f = framed({block('h', 3), block('c', 2100), block('i', 1), block('d', 4000)}, {false, true, false, true});
  UniqueFd fd = memory_file(f.payload + "TRAILER");
  Decompressor d(fd.get(), f.payload.size(), "app.tar.zst", FrameSkipping{&f.index, nullptr});
  std::string out;
  std::vector<uint64_t> ends{1536, 1536 + 2100 * 512, 1536 + 2101 * 512, 1536 + 6101 * 512};
  for (std::span<const char> chunk; !(chunk = d.next()).empty();) {
    for (uint64_t end : ends) CHECK_FALSE((out.size() < end && out.size() + chunk.size() > end));
    out.append(chunk.data(), chunk.size());
  }
  CHECK(out == f.tars[0] + f.tars[1] + f.tars[2] + f.tars[3]);
  CHECK(d.finish() == sha256_hex(f.payload));
}

TEST_CASE("Decompressor with a frame index: a content frame the store has is not decoded, only read and hashed") {
  const Framed f = framed({block('h', 3), block('c', 2100), block('i', 1), block('d', 4000), block('m', 2)},
                          {false, true, false, true, false});
  UniqueFd fd = memory_file(f.payload);
  std::vector<std::string> asked;
  FrameSkipping skipping{&f.index, [&](const ContentKey& k) {
                           asked.push_back(k.sha256);
                           return k.sha256 == sha256_hex(f.tars[3]);  // the second content frame only
                         }};
  Decompressor d(fd.get(), f.payload.size(), "app.tar.zst", skipping);
  std::string out;
  for (std::span<const char> chunk; !(chunk = d.next()).empty();) {
    out.append(chunk.data(), chunk.size());
    if (out.size() == 1536) {  // the first content frame: not stored, so decoded, and its key still there
      auto frame = d.content_frame_at(out.size());
      REQUIRE(frame.has_value());
      CHECK(frame->decoded);
      d.pop_skip();
    }
    if (out.size() == 1536 + 2101 * 512) {  // the end of the frame in front of the skipped one: decided already
      CHECK_FALSE(d.content_frame_at(out.size() - 512).has_value());
      auto skip = d.content_frame_at(out.size());
      REQUIRE(skip.has_value());
      CHECK_FALSE(skip->decoded);
      CHECK(skip->tar_bytes == 4000 * 512);
      CHECK(skip->key.sha256 == sha256_hex(f.tars[3]));
      d.pop_skip();
    }
  }
  CHECK(out == f.tars[0] + f.tars[1] + f.tars[2] + f.tars[4]);  // the tar bytes of frame 4 never came out
  CHECK(asked == std::vector<std::string>{sha256_hex(f.tars[1]), sha256_hex(f.tars[3])});
  CHECK(d.finish() == sha256_hex(f.payload));  // every compressed byte was read and hashed all the same
}

TEST_CASE("Decompressor with a frame index: frames that are not what the index says are refused") {
  const std::vector<std::string> tars{block('h', 3), block('c', 2100), block('m', 2)};
  Framed f = framed(tars, {false, true, false});
  SUBCASE("a frame that decodes to fewer bytes than the index says") {
    f.index.frames[1].tar_bytes += 512;
    f.index.frames[2].tar_bytes -= 512;
    UniqueFd fd = memory_file(f.payload);
    Decompressor d(fd.get(), f.payload.size(), "app.tar.zst", FrameSkipping{&f.index, nullptr});
    CHECK_THROWS_WITH_AS(drain(d), doctest::Contains("app.tar.zst: the payload does not match its frame index (frame 2 "
                                                     "decodes to 1075200 bytes, not 1075712)"),
                         Error);
  }
  SUBCASE("frame boundaries that are not the frames'") {
    f.index.frames[0].compressed += 5;
    f.index.frames[1].compressed -= 5;
    UniqueFd fd = memory_file(f.payload);
    Decompressor d(fd.get(), f.payload.size(), "app.tar.zst", FrameSkipping{&f.index, nullptr});
    CHECK_THROWS_WITH_AS(drain(d), doctest::Contains("does not match its frame index (frame 1 ends before its"), Error);
  }
  SUBCASE("a frame that decodes to more") {
    f.index.frames[0].tar_bytes -= 512;
    UniqueFd fd = memory_file(f.payload);
    Decompressor d(fd.get(), f.payload.size(), "app.tar.zst", FrameSkipping{&f.index, nullptr});
    CHECK_THROWS_WITH_AS(drain(d), doctest::Contains("frame 1 decodes to more than 1024 bytes"), Error);
  }
}

TEST_CASE("Decompressor with a frame index: a content frame that is no file's content is refused") {
  const Framed f = framed({block('h', 3), block('c', 2100), block('m', 2)}, {false, true, false});
  UniqueFd fd = memory_file(f.payload);
  SUBCASE("passed without being taken") {
    Decompressor d(fd.get(), f.payload.size(), "app.tar.zst", FrameSkipping{&f.index, [](const ContentKey&) { return false; }});
    std::string out = drain_to_string(d);
    CHECK_THROWS_WITH_AS(d.content_frame_at(out.size()), doctest::Contains("the content frame at tar offset 1536 is not "
                                                                            "where a regular file's data starts"),
                         Error);
  }
  SUBCASE("never taken at all") {
    Decompressor d(fd.get(), f.payload.size(), "app.tar.zst", FrameSkipping{&f.index, [](const ContentKey&) { return false; }});
    CHECK_THROWS_WITH_AS(d.finish(), doctest::Contains("is not where a regular file's data starts"), Error);
  }
}

}  // namespace droot::exec
