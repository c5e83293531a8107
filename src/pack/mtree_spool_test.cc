#include "mtree_spool.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <string>

#include "io.h"

using namespace droot;
using namespace droot::pack;

TEST_CASE("the spool holds the header and every line, and finds a line by its path") {
  MtreeSpool spool("test spool");
  ManifestEntry f{"bin/a b", "file", 0755, 0, 0, 3, "", std::string(64, 'a')};
  f.time = MtreeTime{12, 345};
  ManifestEntry d{"bin", "dir", 0755, 0, 0, 0, "", ""};
  spool.append(d);
  spool.append(f);
  std::string text(spool.size(), '\0');
  pread_exact(spool.fd(), text.data(), text.size(), 0, "spool");
  CHECK(text == manifest_header() + format_manifest_line(d) + format_manifest_line(f));
  CHECK(spool.find("bin/a b") == f);
  CHECK(spool.find("bin") == d);
  CHECK_FALSE(spool.find("bin/a").has_value());  // a prefix of another path is not that path
  CHECK_FALSE(spool.find("nothing").has_value());
}
