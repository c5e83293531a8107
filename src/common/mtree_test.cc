#include "mtree.h"

#include <doctest/doctest.h>

#include "error.h"

using namespace droot;

TEST_CASE("manifest lines round-trip, including hostile path bytes") {
  ManifestEntry f{"usr/bin/a b=c#d\\e\n\xff", "file", 04755, 0, 42, 1234, "", std::string(64, 'a')};
  ManifestEntry d{"usr", "dir", 0755, 0, 0, 0, "", ""};
  ManifestEntry l{"bin/sh", "link", 0777, 0, 0, 0, "/bin/busy box", ""};
  std::string text = manifest_header() + format_manifest_line(f) + format_manifest_line(d) + format_manifest_line(l);
  CHECK(text.find("./usr/bin/a\\040b\\075c\\043d\\134e\\012\\377 type=file mode=4755") != std::string::npos);
  auto m = parse_manifest(text, "m");
  REQUIRE(m.size() == 3);
  CHECK(m.at(f.path) == f);
  CHECK(m.at("usr") == d);
  CHECK(m.at("bin/sh") == l);
}

TEST_CASE("malformed manifests are refused with the line number") {
  CHECK_THROWS_WITH(parse_manifest("#mtree\n/abs type=dir mode=0755\n", "m"), doctest::Contains("m line 2"));
  CHECK_THROWS_WITH(parse_manifest("./a type=file mode=0644 size=1\n", "m"), doctest::Contains("sha256digest"));
  CHECK_THROWS_WITH(parse_manifest("./a type=sock mode=0644\n", "m"), doctest::Contains("unknown type"));
  CHECK_THROWS_WITH(parse_manifest("./a type=dir mode=0755\n./a type=dir mode=0755\n", "m"), doctest::Contains("duplicate"));
  CHECK_THROWS_WITH(parse_manifest("./a type=dir mode=99999\n", "m"), doctest::Contains("bad number"));
  CHECK_THROWS_WITH(parse_manifest("./a\\0 type=dir mode=0755\n", "m"), doctest::Contains("escape"));
  CHECK_THROWS_WITH(parse_manifest("./a type=dir mode=0755 flags=x\n", "m"), doctest::Contains("unknown keyword"));
}
