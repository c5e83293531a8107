#include "blob_store.h"

#include <archive.h>
#include <archive_entry.h>
#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>

#include <string>

#include "archive_ptr.h"
#include "error.h"
#include "hash.h"
#include "io.h"

using namespace droot;
using namespace droot::pack;

namespace {

std::string temp_path(const char* name) { return "/tmp/droot-blob-store-test-" + std::to_string(::getpid()) + "-" + name; }

// A pax tar with the given members (regular files), one with a name longer than ustar's 100 bytes.
void write_tar(const std::string& path, const std::vector<std::pair<std::string, std::string>>& members) {
  ArchiveWriter w(archive_write_new());
  archive_write_set_format_pax_restricted(w.get());
  REQUIRE(archive_write_open_filename(w.get(), path.c_str()) == ARCHIVE_OK);
  for (const auto& [name, data] : members) {
    ArchiveEntry e(archive_entry_new());
    archive_entry_set_pathname(e.get(), name.c_str());
    archive_entry_set_filetype(e.get(), AE_IFREG);
    archive_entry_set_perm(e.get(), 0644);
    archive_entry_set_size(e.get(), static_cast<la_int64_t>(data.size()));
    REQUIRE(archive_write_header(w.get(), e.get()) == ARCHIVE_OK);
    archive_write_data(w.get(), data.data(), data.size());
  }
  archive_write_close(w.get());
}

}  // namespace

TEST_CASE("a tar's members are found by name and read in place; a blob's digest is checked") {
  const std::string path = temp_path("a.tar");
  const std::string long_name = "blobs/sha256/" + std::string(120, 'x');
  write_tar(path, {{"./index.json", "{\"a\":1}"}, {long_name, std::string(3000, 'z')}, {"empty", ""}});
  BlobStore s = BlobStore::open_tar(path);
  auto idx = s.get("index.json", "the index");
  std::string text = read_blob(idx, "sha256:" + sha256_hex("{\"a\":1}"), 100, "index");
  CHECK(text == "{\"a\":1}");
  auto big = s.find(long_name);
  REQUIRE(big);
  CHECK(big->size == 3000);
  verify_blob(*big, "sha256:" + sha256_hex(std::string(3000, 'z')), "layer");
  const std::string zeros = "not the sha256:" + std::string(64, '0');
  CHECK_THROWS_WITH_AS(verify_blob(*big, "sha256:" + std::string(64, '0'), "layer"), doctest::Contains(zeros.c_str()), Error);
  CHECK(s.find("empty")->size == 0);
  CHECK_FALSE(s.find("missing"));
  CHECK_THROWS_WITH_AS(s.get("missing", "the manifest"), doctest::Contains("has no missing"), Error);
  CHECK_THROWS_WITH_AS(read_blob(*big, "", 100, "config"), doctest::Contains("more than the 100"), Error);
  CHECK_THROWS_WITH_AS(sha256_hex_of_digest("sha512:ab", "x"), doctest::Contains("not sha256:"), Error);
  CHECK_THROWS_WITH_AS(sha256_hex_of_digest("sha256:../../etc/passwd", "x"), doctest::Contains("not sha256:"), Error);
  ::unlink(path.c_str());
}

TEST_CASE("a truncated tar and a file that is no tar are refused, naming the file") {
  const std::string path = temp_path("t.tar");
  write_tar(path, {{"a", std::string(5000, 'a')}});
  REQUIRE(::truncate(path.c_str(), 2048) == 0);
  CHECK_THROWS_WITH_AS(BlobStore::open_tar(path), doctest::Contains("truncated"), Error);
  {
    UniqueFd fd = open_or_throw(path, O_WRONLY | O_TRUNC);
    write_all(fd.get(), std::string(1024, 'q'), path);
  }
  CHECK_THROWS_WITH_AS(BlobStore::open_tar(path), doctest::Contains("not a tar archive"), Error);
  ::unlink(path.c_str());
}

TEST_CASE("a layout directory never hands out a path outside it") {
  BlobStore s = BlobStore::open_directory("/etc");
  CHECK_FALSE(s.find("../etc/passwd"));
  CHECK_FALSE(s.find("/etc/passwd"));
}
