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
