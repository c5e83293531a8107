#include "trailer.h"

#include <doctest/doctest.h>
#include <sys/mman.h>
#include <unistd.h>

#include "error.h"
#include "io.h"

using namespace droot;

namespace {
struct MemFile {
  explicit MemFile(const std::string& bytes) {
    fd = ::memfd_create("trailer", 0);
    write_all(fd, bytes, "memfd");
  }
  ~MemFile() { ::close(fd); }
  int fd;
};
const std::string kSig = "untrusted comment: u\nRUQ...\ntrusted comment: t\nAAAA\n";
}  // namespace

TEST_CASE("zstd and gzip trailers are found from the end and give back the signature text") {
  for (Compression c : {Compression::zstd, Compression::gzip}) {
    std::string payload = "PAYLOAD-BYTES";
    std::string file = payload + make_trailer(c, kSig);
    MemFile f(file);
    auto t = read_trailer(f.fd, file.size(), "art");
    REQUIRE(t.has_value());
    CHECK(t->payload_size == payload.size());
    CHECK(t->minisig_text == kSig);
    CHECK(t->compression == c);
  }
}

TEST_CASE("the zstd trailer is a skippable frame; the gzip one an empty member with a DS extra field") {
  std::string z = make_trailer(Compression::zstd, kSig);
  CHECK(z.substr(0, 4) == std::string("\x5d\x2a\x4d\x18", 4));
  std::string g = make_trailer(Compression::gzip, kSig);
  CHECK(g.substr(0, 4) == std::string("\x1f\x8b\x08\x04", 4));
  CHECK(g.substr(12, 2) == "DS");
  CHECK_THROWS(make_trailer(Compression::none, kSig));
}

TEST_CASE("no trailer is not an error; a damaged trailer is") {
  std::string plain = "just a tar stream, no trailer";
  MemFile f(plain);
  CHECK_FALSE(read_trailer(f.fd, plain.size(), "art").has_value());

  std::string file = "PAYLOAD" + make_trailer(Compression::zstd, kSig);
  file[file.size() - 16] ^= 0x7f;  // the length field
  MemFile g(file);
  CHECK_THROWS_WITH(read_trailer(g.fd, file.size(), "art.tar.zst"), doctest::Contains("art.tar.zst"));

  std::string file2 = "PAYLOAD" + make_trailer(Compression::zstd, kSig);
  file2[7 + 5] ^= 1;  // the frame length
  MemFile h(file2);
  CHECK_THROWS_WITH(read_trailer(h.fd, file2.size(), "art"), doctest::Contains("skippable"));
}

TEST_CASE("compression is sniffed from magic bytes") {
  CHECK(detect_compression("\x28\xb5\x2f\xfd....") == Compression::zstd);
  CHECK(detect_compression("\x1f\x8b\x08") == Compression::gzip);
  CHECK(detect_compression("bin/") == Compression::none);
  CHECK(parse_compression("gzip") == Compression::gzip);
  CHECK_THROWS_WITH(parse_compression("xz"), doctest::Contains("zstd, gzip or none"));
}

TEST_CASE("read_trailer over bytes in memory finds what the fd reader finds, and never reads outside them") {
  const std::string file = "PAYLOAD" + make_trailer(Compression::gzip, kSig);
  MemFile f(file);
  auto from_fd = read_trailer(f.fd, file.size(), "art");
  auto from_bytes = read_trailer(std::string_view(file), "art");
  REQUIRE(from_bytes.has_value());
  CHECK(from_bytes->payload_size == from_fd->payload_size);
  CHECK(from_bytes->minisig_text == from_fd->minisig_text);
  CHECK_FALSE(read_trailer(std::string_view("DROOTSIG"), "short").has_value());
  // A length field claiming more than the file holds is an error, not a read past the end.
  std::string lying = std::string(8, '\xff') + "DROOTSIG";
  CHECK_THROWS_AS(read_trailer(std::string_view(lying), "lying"), Error);
}
