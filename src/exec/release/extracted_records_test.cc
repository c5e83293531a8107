#include "extracted_records.h"

#include <doctest/doctest.h>

#include "error.h"
#include "hash.h"

using namespace droot;
using namespace droot::exec;

namespace {

ExtractedRecords sample() {
  ExtractedRecords r("m");
  r.add({"bin", "dir", 0755, 0, 0, 0, "", ""});
  r.add({"bin/sh", "file", 04755, 0, 0, 5, "", sha256_hex("shell")});
  r.add({"fifo", "fifo", 0644, 0, 0, 0, "", ""});
  r.add({"lib", "link", 0777, 0, 0, 0, "/usr/lib", ""});
  return r;
}

std::string manifest_text() {
  return manifest_header() + format_manifest_line({"bin", "dir", 0755, 0, 0, 0, "", ""}) +
         format_manifest_line({"bin/sh", "file", 04755, 0, 0, 5, "", sha256_hex("shell")}) +
         format_manifest_line({"fifo", "fifo", 0644, 0, 0, 0, "", ""}) +
         format_manifest_line({"lib", "link", 0777, 0, 0, 0, "/usr/lib", ""});
}

}  // namespace

TEST_CASE("records round-trip through their compact form") {
  ExtractedRecords r = sample();
  ManifestEntry e;
  REQUIRE(r.find("bin/sh", e));
  CHECK(e == ManifestEntry{"bin/sh", "file", 04755, 0, 0, 5, "", sha256_hex("shell")});
  REQUIRE(r.find("fifo", e));
  CHECK(e.type == "fifo");  // not confused with "file"
  CHECK_FALSE(r.find("nope", e));
  CHECK(r.contains("lib"));
  CHECK_THROWS_WITH(r.add({"big", "dir", 0755, 1ull << 33, 0, 0, "", ""}), doctest::Contains("out of range"));
}

TEST_CASE("the manifest may arrive in chunks that split lines anywhere") {
  const std::string text = manifest_text();
  for (size_t step : {1, 7, 64, 4096}) {
    ExtractedRecords r = sample();
    for (size_t at = 0; at < text.size(); at += step) r.feed_manifest(std::string_view(text).substr(at, step));
    CHECK(r.finish_manifest().empty());
  }
}

TEST_CASE("differences: content, missing, extra; a path listed twice is an error") {
  ExtractedRecords r = sample();
  r.feed_manifest(manifest_header() + format_manifest_line({"bin/sh", "file", 04755, 0, 0, 5, "", sha256_hex("SHELL")}) +
                  format_manifest_line({"gone", "dir", 0755, 0, 0, 0, "", ""}));
  auto diffs = r.finish_manifest();
  REQUIRE(diffs.size() == 5);
  CHECK((kind_name(diffs[0].kind) == "modified" && diffs[0].path == "bin/sh"));
  CHECK((kind_name(diffs[1].kind) == "missing" && diffs[1].path == "gone"));
  CHECK((kind_name(diffs[2].kind) == "extra" && diffs[2].path == "bin"));
  CHECK(r.difference_count() == 5);

  ExtractedRecords twice = sample();
  twice.feed_manifest(format_manifest_line({"bin", "dir", 0755, 0, 0, 0, "", ""}));
  CHECK_THROWS_WITH(twice.feed_manifest(format_manifest_line({"bin", "dir", 0755, 0, 0, 0, "", ""})),
                    doctest::Contains("'bin' is listed twice"));
}
