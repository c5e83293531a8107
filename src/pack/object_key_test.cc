#include "object_key.h"

#include <doctest/doctest.h>

#include "error.h"

using namespace droot;
using namespace droot::pack;

namespace {
ManifestEntry file(const std::string& path) {
  ManifestEntry e{path, "file", 0755, 1000, 1000, 42, "", std::string(64, 'a')};
  e.time = MtreeTime{1700000000, 0};
  return e;
}
}  // namespace

TEST_CASE("the object key covers content, size, mode, owner and mtime, but not the path") {
  const KeyDigest k = object_key(file("a"));
  CHECK(object_key(file("elsewhere/b")) == k);
  auto changed = [&](auto&& mutate) {
    ManifestEntry e = file("a");
    mutate(e);
    return object_key(e) != k;
  };
  CHECK(changed([](ManifestEntry& e) { e.sha256 = std::string(64, 'b'); }));
  CHECK(changed([](ManifestEntry& e) { e.size = 43; }));
  CHECK(changed([](ManifestEntry& e) { e.mode = 04755; }));
  CHECK(changed([](ManifestEntry& e) { e.uid = 0; }));
  CHECK(changed([](ManifestEntry& e) { e.gid = 0; }));
  CHECK(changed([](ManifestEntry& e) { e.time->sec += 1; }));
  CHECK(changed([](ManifestEntry& e) { e.time->nsec = 1; }));
}

TEST_CASE("the object key needs a regular file with sha256 and time") {
  ManifestEntry no_time = file("a");
  no_time.time.reset();
  CHECK_THROWS_AS(object_key(no_time), Error);
  ManifestEntry dir = file("d");
  dir.type = "dir";
  CHECK_THROWS_AS(object_key(dir), Error);
}

TEST_CASE("the key set finds what was added once sealed, duplicates counted once") {
  ObjectKeySet set;
  CHECK(set.empty());
  ManifestEntry a = file("a"), b = file("b");
  b.size = 7;
  set.add(object_key(a));
  set.add(object_key(a));
  set.add(object_key(b));
  CHECK_THROWS_AS(set.contains(object_key(a)), Error);  // not sealed yet
  set.seal();
  CHECK(set.size() == 2);
  CHECK(set.contains(object_key(a)));
  CHECK(set.contains(object_key(b)));
  ManifestEntry c = file("c");
  c.uid = 1;
  CHECK_FALSE(set.contains(object_key(c)));
}
