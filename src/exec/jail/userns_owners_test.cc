#include "userns_owners.h"

#include <doctest/doctest.h>

using namespace droot::exec;

TEST_CASE("the owner scan names the first entry whose uid or gid the namespace cannot map") {
  const std::string manifest =
      "#mtree\n"
      "./bin type=dir mode=0755 uid=0 gid=0\n"
      "./home/app type=dir mode=0700 uid=1000 gid=1000\n"
      "./srv/odd\\040name type=file mode=0644 uid=5 gid=70000 size=0 sha256digest="
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
      "./srv/later type=dir mode=0755 uid=99999 gid=0\n";
  OwnerScan scan(65536, "m");
  // Fed in awkward pieces: a line split anywhere still counts once.
  for (size_t i = 0; i < manifest.size(); i += 7) scan.feed(std::string_view(manifest).substr(i, 7));
  auto bad = scan.finish();
  REQUIRE(bad);
  CHECK(bad->path == "srv/odd name");
  CHECK(bad->id == 70000);
  CHECK(bad->is_gid);

  OwnerScan wide(100000, "m");
  wide.feed(manifest);
  CHECK_FALSE(wide.finish());
  OwnerScan narrow(1000, "m");
  narrow.feed(manifest);
  auto n = narrow.finish();
  REQUIRE(n);
  CHECK(n->path == "home/app");
  CHECK_FALSE(n->is_gid);
}
