#include "extracted_records.h"

#include <doctest/doctest.h>

#include "../../../tests/hostile/scratch_dir.h"
#include "error.h"
#include "hash.h"

using namespace droot;
using namespace droot::exec;

namespace {

// The spools are O_TMPFILEs: a directory of the test's own.
using SpoolDir = droot::testing::OpenScratchDir;

void fill(ExtractedRecords& r) {
  r.add({"bin", "dir", 0755, 0, 0, 0, "", ""});
  r.add({"bin/sh", "file", 04755, 0, 0, 5, "", sha256_hex("shell")});
  r.add({"fifo", "fifo", 0644, 0, 0, 0, "", ""});
  r.add({"lib", "link", 0777, 0, 0, 0, "/usr/lib", ""});
}

std::string manifest_text() {
  return manifest_header() + format_manifest_line({"bin", "dir", 0755, 0, 0, 0, "", ""}) +
         format_manifest_line({"bin/sh", "file", 04755, 0, 0, 5, "", sha256_hex("shell")}) +
         format_manifest_line({"fifo", "fifo", 0644, 0, 0, 0, "", ""}) +
         format_manifest_line({"lib", "link", 0777, 0, 0, 0, "/usr/lib", ""});
}

}  // namespace

TEST_CASE("records are found again, recent ones from memory, older ones from the spool") {
  SpoolDir d;
  ExtractedRecords r(d.fd.get(), "m");
  fill(r);
  ManifestEntry e;
  REQUIRE(r.find("bin/sh", e));
  CHECK(e == ManifestEntry{"bin/sh", "file", 04755, 0, 0, 5, "", sha256_hex("shell")});
  REQUIRE(r.find("fifo", e));
  CHECK(e.type == "fifo");
  CHECK_FALSE(r.find("nope", e));
  CHECK_THROWS_WITH(r.add({"big", "dir", 0755, 1ull << 33, 0, 0, "", ""}), doctest::Contains("out of range"));
  // Push bin/sh out of the recent entries: it is read back from the spool, the same.
  for (size_t i = 0; i < ExtractedRecords::kRecent + 10; ++i) r.add({"d" + std::to_string(i), "dir", 0755, 0, 0, 0, "", ""});
  REQUIRE(r.find("bin/sh", e));
  CHECK(e == ManifestEntry{"bin/sh", "file", 04755, 0, 0, 5, "", sha256_hex("shell")});
  // After the recent entries wrapped around: the newest and the oldest kept are found, and a path archived
  // twice is its last record.
  REQUIRE(r.find("d" + std::to_string(ExtractedRecords::kRecent + 9), e));
  CHECK(e.type == "dir");
  REQUIRE(r.find("d10", e));
  CHECK(e.path == "d10");
  r.add({"d11", "dir", 0700, 0, 0, 0, "", ""});
  REQUIRE(r.find("d11", e));
  CHECK(e.mode == 0700);
}

TEST_CASE("memory stays flat: records live in the spool, not in a map") {
  SpoolDir d;
  ExtractedRecords r(d.fd.get(), "m");
  std::string manifest = manifest_header();
  for (int i = 0; i < 50000; ++i) {
    ManifestEntry e{"f" + std::to_string(i), "file", 0644, 0, 0, 1, "", sha256_hex("x")};
    r.add(e);
    manifest += format_manifest_line(e);
  }
  r.feed_manifest(manifest);
  CHECK(r.finish_manifest().empty());
  CHECK(r.records() == 50000);
}

TEST_CASE("a manifest in another order than the archive still compares entry by entry") {
  SpoolDir d;
  ExtractedRecords r(d.fd.get(), "m");
  fill(r);
  r.feed_manifest(format_manifest_line({"lib", "link", 0777, 0, 0, 0, "/usr/lib", ""}) +
                  format_manifest_line({"fifo", "fifo", 0644, 0, 0, 0, "", ""}) +
                  format_manifest_line({"bin/sh", "file", 04755, 0, 0, 5, "", sha256_hex("shell")}) +
                  format_manifest_line({"bin", "dir", 0755, 0, 0, 0, "", ""}));
  CHECK(r.finish_manifest().empty());
}

TEST_CASE("a delta's files from the store merge with the archive's in manifest order") {
  SpoolDir d;
  ExtractedRecords r(d.fd.get(), "m");
  r.add({"a", "dir", 0755, 0, 0, 0, "", ""});
  r.add({"a/new", "file", 0644, 0, 0, 1, "", sha256_hex("n")});
  r.add({"b", "dir", 0755, 0, 0, 0, "", ""});
  r.add({"a/old", "file", 0644, 0, 0, 1, "", sha256_hex("o")}, ExtractedRecords::Source::store);
  r.add({"b/old", "file", 0644, 0, 0, 1, "", sha256_hex("p")}, ExtractedRecords::Source::store);
  r.feed_manifest(format_manifest_line({"a", "dir", 0755, 0, 0, 0, "", ""}) +
                  format_manifest_line({"a/new", "file", 0644, 0, 0, 1, "", sha256_hex("n")}) +
                  format_manifest_line({"a/old", "file", 0644, 0, 0, 1, "", sha256_hex("o")}) +
                  format_manifest_line({"b", "dir", 0755, 0, 0, 0, "", ""}) +
                  format_manifest_line({"b/old", "file", 0644, 0, 0, 1, "", sha256_hex("P")}));
  auto diffs = r.finish_manifest();
  REQUIRE(diffs.size() == 1);
  CHECK((kind_name(diffs[0].kind) == "modified" && diffs[0].path == "b/old"));
}

TEST_CASE("the manifest may arrive in chunks that split lines anywhere") {
  const std::string text = manifest_text();
  for (size_t step : {1, 7, 64, 4096}) {
    SpoolDir d;
    ExtractedRecords r(d.fd.get(), "m");
    fill(r);
    for (size_t at = 0; at < text.size(); at += step) r.feed_manifest(std::string_view(text).substr(at, step));
    CHECK(r.finish_manifest().empty());
  }
}

TEST_CASE("differences: content, missing, extra; a path listed twice is an error") {
  SpoolDir d;
  ExtractedRecords r(d.fd.get(), "m");
  fill(r);
  r.feed_manifest(manifest_header() + format_manifest_line({"bin/sh", "file", 04755, 0, 0, 5, "", sha256_hex("SHELL")}) +
                  format_manifest_line({"gone", "dir", 0755, 0, 0, 0, "", ""}));
  auto diffs = r.finish_manifest();
  REQUIRE(diffs.size() == 5);
  CHECK((kind_name(diffs[0].kind) == "modified" && diffs[0].path == "bin/sh"));
  CHECK((kind_name(diffs[1].kind) == "missing" && diffs[1].path == "gone"));
  CHECK((kind_name(diffs[2].kind) == "extra" && diffs[2].path == "bin"));
  CHECK(r.difference_count() == 5);

  ExtractedRecords twice(d.fd.get(), "m");
  fill(twice);
  twice.feed_manifest(format_manifest_line({"bin", "dir", 0755, 0, 0, 0, "", ""}));
  CHECK_THROWS_WITH(twice.feed_manifest(format_manifest_line({"bin", "dir", 0755, 0, 0, 0, "", ""})),
                    doctest::Contains("'bin' is listed twice"));
}
