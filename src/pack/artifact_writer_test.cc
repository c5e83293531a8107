#include "artifact_writer.h"

#include <doctest/doctest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <string>

#include "archive_ptr.h"
#include "io.h"

using namespace droot;
using namespace droot::pack;

namespace {

struct Written {
  std::string bytes;
  PayloadDigests digests;
};

Written write_sample(Compression c, const std::string& trailer_text = "") {
  int fd = ::memfd_create("artifact", 0);
  ArtifactWriter w(fd, "memfd", CompressionOptions{c, -1, 2});
  w.add_text_file(".droot/config.json", "{}\n", 1700000000);
  w.add_text_file("etc/motd", std::string(100000, 'm'), 1700000000);
  Written out;
  out.digests = w.finish_payload();
  if (!trailer_text.empty()) w.append_raw(make_trailer(c, trailer_text));
  uint64_t size = file_size(fd, "memfd");
  out.bytes.resize(size);
  pread_exact(fd, out.bytes.data(), size, 0, "memfd");
  ::close(fd);
  return out;
}

std::vector<std::string> list_entries(const std::string& bytes) {
  ArchiveReader r(archive_read_new());
  archive_read_support_filter_all(r.get());
  archive_read_support_format_tar(r.get());
  REQUIRE(archive_read_open_memory(r.get(), bytes.data(), bytes.size()) == ARCHIVE_OK);
  std::vector<std::string> names;
  archive_entry* e;
  while (archive_read_next_header(r.get(), &e) == ARCHIVE_OK) names.push_back(archive_entry_pathname(e));
  return names;
}

}  // namespace

TEST_CASE("the payload is a readable compressed tar and its digests cover exactly its bytes") {
  for (Compression c : {Compression::zstd, Compression::gzip, Compression::none}) {
    Written w = write_sample(c);
    CHECK(w.digests.size == w.bytes.size());
    CHECK(w.digests.sha256 == sha256_hex(w.bytes));
    CHECK(detect_compression(w.bytes.substr(0, 4)) == c);
    CHECK(list_entries(w.bytes) == std::vector<std::string>{".droot/config.json", "etc/motd"});
  }
}

TEST_CASE("the same input gives the same bytes (reproducible), whatever the zstd thread count") {
  CHECK(write_sample(Compression::zstd).bytes == write_sample(Compression::zstd).bytes);
  CHECK(write_sample(Compression::gzip).bytes == write_sample(Compression::gzip).bytes);
}

TEST_CASE("no zero padding between the compressed payload and the trailer") {
  Written w = write_sample(Compression::zstd, "untrusted comment: x\n");
  CHECK(w.bytes.substr(w.digests.size, 4) == std::string("\x5d\x2a\x4d\x18", 4));
}
