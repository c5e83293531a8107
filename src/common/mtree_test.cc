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

TEST_CASE("time: written between size and sha256digest as SEC.NSEC with nine digits, and parsed back") {
  ManifestEntry f{"usr/bin/app", "file", 0755, 1, 2, 42, "", std::string(64, 'b')};
  const std::string without = format_manifest_line(f);
  CHECK(without.find("time=") == std::string::npos);
  f.time = MtreeTime{1700000000, 5};
  CHECK(format_manifest_line(f) == "./usr/bin/app type=file mode=0755 uid=1 gid=2 size=42 time=1700000000.000000005 sha256digest=" +
                                       std::string(64, 'b') + "\n");
  ManifestEntry old{"old", "file", 0644, 0, 0, 0, "", std::string(64, 'c'), MtreeTime{-1, 999999999}};
  ManifestEntry dir{"d", "dir", 0755, 0, 0, 0, "", "", MtreeTime{0, 0}};
  CHECK(format_manifest_line(dir) == "./d type=dir mode=0755 uid=0 gid=0 time=0.000000000\n");
  auto m = parse_manifest(manifest_header() + format_manifest_line(f) + format_manifest_line(old) + format_manifest_line(dir),
                          "delta.mtree");
  CHECK(m.at("usr/bin/app") == f);
  CHECK(m.at("old").time == MtreeTime{-1, 999999999});
  CHECK(m.at("d") == dir);
}

TEST_CASE("a manifest without time parses as before: no time, and lines written back are unchanged") {
  const std::string line = "./bin/sh type=file mode=4755 uid=0 gid=0 size=5 sha256digest=" + std::string(64, 'a') + "\n";
  auto m = parse_manifest(line, "m");
  CHECK_FALSE(m.at("bin/sh").time.has_value());
  CHECK(format_manifest_line(m.at("bin/sh")) == line);
}

TEST_CASE("malformed times are refused") {
  const std::string head = "./a type=dir mode=0755 time=";
  CHECK_THROWS_WITH(parse_manifest(head + "12\n", "m"), doctest::Contains("bad time"));
  CHECK_THROWS_WITH(parse_manifest(head + "12.5\n", "m"), doctest::Contains("nine digits"));
  CHECK_THROWS_WITH(parse_manifest(head + "12.0000000001\n", "m"), doctest::Contains("bad time"));
  CHECK_THROWS_WITH(parse_manifest(head + "x.000000000\n", "m"), doctest::Contains("bad number"));
  CHECK_THROWS_WITH(parse_manifest(head + ".000000000\n", "m"), doctest::Contains("bad number"));
  CHECK_THROWS_WITH(parse_manifest(head + "1.00000000x\n", "m"), doctest::Contains("bad number"));
  CHECK_THROWS_WITH(parse_manifest(head + "99999999999999999999.000000000\n", "m"), doctest::Contains("m line 1"));
}
