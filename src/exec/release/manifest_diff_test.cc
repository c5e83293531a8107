#include "manifest_diff.h"

#include <doctest/doctest.h>

using namespace droot;
using namespace droot::exec;

namespace {
Manifest manifest_of(std::initializer_list<ManifestEntry> entries) {
  Manifest m;
  for (const auto& e : entries) m.emplace(e.path, e);
  return m;
}
}  // namespace

TEST_CASE("identical trees have no differences") {
  Manifest m = manifest_of({{"bin", "dir", 0755, 0, 0, 0, "", ""},
                            {"bin/sh", "file", 0755, 0, 0, 3, "", std::string(64, 'a')},
                            {"lib", "link", 0777, 0, 0, 0, "/usr/lib", ""}});
  CHECK(diff_against_manifest(m, m).empty());
}

TEST_CASE("every kind of difference is reported, in path order") {
  Manifest want = manifest_of({{"a", "file", 0644, 0, 0, 3, "", std::string(64, 'a')},
                               {"b", "file", 0644, 0, 0, 3, "", std::string(64, 'b')},
                               {"c", "dir", 0755, 0, 0, 0, "", ""},
                               {"d", "link", 0777, 0, 0, 0, "/x", ""},
                               {"e", "dir", 0755, 0, 0, 0, "", ""}});
  Manifest seen = manifest_of({{"a", "file", 0600, 1, 2, 3, "", std::string(64, 'a')},
                               {"b", "file", 0644, 0, 0, 3, "", std::string(64, 'c')},
                               {"c", "file", 0755, 0, 0, 0, "", std::string(64, 'a')},
                               {"d", "link", 0700, 0, 0, 0, "/y", ""},
                               {"f", "fifo", 0644, 0, 0, 0, "", ""}});
  auto diffs = diff_against_manifest(seen, want);
  REQUIRE(diffs.size() == 7);
  CHECK(kind_name(diffs[0].kind) == "mode");
  CHECK(diffs[0].detail == "mode 0600, manifest says 0644");
  CHECK(kind_name(diffs[1].kind) == "owner");
  CHECK(diffs[1].detail == "owner 1:2, manifest says 0:0");
  CHECK(kind_name(diffs[2].kind) == "modified");
  CHECK(diffs[2].path == "b");
  CHECK(kind_name(diffs[3].kind) == "type");
  CHECK(diffs[3].detail == "is a file, manifest says dir");
  // A symlink's mode is not compared (Linux has no lchmod), its target is.
  CHECK(kind_name(diffs[4].kind) == "link");
  CHECK(kind_name(diffs[5].kind) == "missing");
  CHECK(diffs[5].path == "e");
  CHECK(kind_name(diffs[6].kind) == "extra");
  CHECK(diffs[6].path == "f");
}
