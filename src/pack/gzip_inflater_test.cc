#include "gzip_inflater.h"

#include <archive.h>
#include <archive_entry.h>
#include <doctest/doctest.h>

#include <algorithm>
#include <string>

#include "archive_ptr.h"
#include "error.h"

using namespace droot;
using namespace droot::pack;

namespace {

// `data` as one gzip member, written by libarchive's gzip filter (zlib), as a builder's layer would be.
std::string gzip(const std::string& data) {
  std::string out(data.size() + 4096, '\0');
  size_t used = 0;
  ArchiveWriter w(archive_write_new());
  archive_write_set_format_raw(w.get());
  archive_write_add_filter_gzip(w.get());
  archive_write_set_bytes_in_last_block(w.get(), 1);
  REQUIRE(archive_write_open_memory(w.get(), out.data(), out.size(), &used) == ARCHIVE_OK);
  ArchiveEntry e(archive_entry_new());
  archive_entry_set_filetype(e.get(), AE_IFREG);
  REQUIRE(archive_write_header(w.get(), e.get()) == ARCHIVE_OK);
  if (!data.empty()) REQUIRE(archive_write_data(w.get(), data.data(), data.size()) == static_cast<la_ssize_t>(data.size()));
  REQUIRE(archive_write_close(w.get()) == ARCHIVE_OK);
  out.resize(used);
  return out;
}

// Inflates `gz`, handed over `piece` bytes at a time, read `chunk` bytes at a time.
std::string inflate(const std::string& gz, size_t piece = 1 << 20, size_t chunk = 1 << 20) {
  size_t at = 0;
  GzipInflater in([&](char* buf, size_t n) {
    const size_t k = std::min({n, piece, gz.size() - at});
    gz.copy(buf, k, at);
    at += k;
    return k;
  }, "test.gz");
  std::string out, buf(chunk, '\0');
  while (size_t n = in.read(buf.data(), buf.size())) out.append(buf.data(), n);
  return out;
}

std::string sample(size_t size) {
  std::string s;
  uint32_t x = 12345;
  while (s.size() < size) {
    x = x * 1103515245 + 12345;
    s += "line " + std::to_string(x % 1000) + (x % 7 == 0 ? std::string(1, static_cast<char>(x >> 24)) : "") + "\n";
  }
  s.resize(size);
  return s;
}

}  // namespace

TEST_CASE("gzip inflater: the same bytes as zlib wrote, whatever the input and output pieces") {
  if (!have_fast_gzip()) return;  // built without ISA-L: libarchive inflates
  const std::string data = sample(3 << 20);
  const std::string gz = gzip(data);
  REQUIRE(looks_like_gzip(gz.data(), gz.size()));
  CHECK(inflate(gz) == data);
  CHECK(inflate(gz, 7, 1000) == data);
  CHECK(inflate(gzip("")).empty());
}

TEST_CASE("gzip inflater: members one after another are one stream; bytes after the last are ignored") {
  if (!have_fast_gzip()) return;
  CHECK(inflate(gzip("first ") + gzip("second")) == "first second");
  CHECK(inflate(gzip("only") + std::string(512, '\0')) == "only");
}

TEST_CASE("gzip inflater: a wrong CRC-32, corrupt data or a truncated member is an error") {
  if (!have_fast_gzip()) return;
  const std::string gz = gzip(sample(100000));
  std::string bad_crc = gz;
  bad_crc[bad_crc.size() - 8] = static_cast<char>(bad_crc[bad_crc.size() - 8] ^ 1);
  CHECK_THROWS_WITH_AS(inflate(bad_crc), doctest::Contains("test.gz: the gzip data is corrupt"), Error);
  std::string garbage = gz.substr(0, 10) + std::string(1000, '\xff');
  CHECK_THROWS_AS(inflate(garbage), Error);
  CHECK_THROWS_WITH_AS(inflate(gz.substr(0, gz.size() / 2)), doctest::Contains("truncated"), Error);
  CHECK_THROWS_WITH_AS(inflate(gz.substr(0, gz.size() - 3)), doctest::Contains("truncated"), Error);
}
