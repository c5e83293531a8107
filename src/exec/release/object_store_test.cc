#include "object_store.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>

#include "../../../tests/hostile/scratch_dir.h"
#include "beneath.h"
#include "hash.h"
#include "io.h"

using namespace droot;
using namespace droot::exec;
using droot::testing::ScratchDir;

namespace {

ObjectKey key_for(const std::string& content, uint32_t mode) {
  return object_key(sha256_hex(content), mode, ::geteuid(), ::getegid(), timespec{1700000000, 5}, "", "f");
}

void store(const ObjectStore& objects, int dir, const ObjectKey& key, const std::string& content) {
  UniqueFd tmp(::openat(dir, "new", O_WRONLY | O_CREAT | O_EXCL, 0600));
  REQUIRE(tmp.valid());
  write_all(tmp.get(), content.data(), content.size(), "tmp");
  REQUIRE(::fchmod(tmp.get(), key.mode) == 0);
  timespec times[2] = {key.mtime, key.mtime};
  REQUIRE(::futimens(tmp.get(), times) == 0);
  objects.adopt(dir, "new", key, "new");
  REQUIRE(::unlinkat(dir, "new", 0) == 0);
}

}  // namespace

TEST_CASE("object names carry the whole key and parse back") {
  ObjectKey k = key_for("hello", 04755);
  k.capability = "cap";
  const std::string sha = sha256_hex("hello");
  CHECK(k.dir() == sha.substr(0, 2));
  CHECK(k.name().rfind(sha.substr(2) + "-4755-", 0) == 0);
  CHECK(k.name().find("-1700000000.000000005-c" + sha256_hex("cap").substr(0, 16)) != std::string::npos);
  auto parsed = parse_object_name(k.dir(), k.name());
  REQUIRE(parsed);
  CHECK(parsed->key.sha256 == k.sha256);
  CHECK(parsed->key.mode == 04755);
  CHECK(parsed->key.mtime.tv_nsec == 5);
  CHECK(parsed->capability_digest == sha256_hex("cap").substr(0, 16));
  CHECK_FALSE(parse_object_name(k.dir(), "stray"));
  CHECK_FALSE(parse_object_name("zz", k.name()));
  CHECK_FALSE(parse_object_name(k.dir(), k.name() + "-x"));
}

TEST_CASE("object names are formatted as DEST's existing objects were named (printf's format), without it") {
  // Names already in a DEST were made with snprintf("-%04o-%u-%u-%lld.%09ld"): a name formatted by hand must
  // be the same, byte for byte, or a deploy would no longer find them.
  const std::string sha = sha256_hex("x");
  struct Case {
    uint32_t mode;
    uint32_t uid, gid;
    timespec mtime;
  } cases[] = {{0, 0, 0, {0, 0}},
               {07777, 4294967295u, 4294967295u, {253402300799, 999999999}},
               {0644, 1000, 100, {1700000000, 5}},
               {01, 7, 8, {-1, 0}},
               {0755, 0, 0, {-9223372036854775807LL - 1, 1}},
               {0600, 1, 2, {3, 1000000000}},  // out of range: printf's own output is kept
               {0600, 1, 2, {3, -1}}};
  for (const Case& c : cases) {
    ObjectKey k = object_key(sha, c.mode, c.uid, c.gid, c.mtime, "", "f");
    char meta[96];
    std::snprintf(meta, sizeof meta, "-%04o-%u-%u-%lld.%09ld", c.mode, c.uid, c.gid, static_cast<long long>(c.mtime.tv_sec),
                  static_cast<long>(c.mtime.tv_nsec));
    CAPTURE(meta);
    CHECK(ObjectName(k).view() == sha.substr(2) + meta);
    CHECK(k.name() == sha.substr(2) + meta);
    CHECK(std::string(ObjectName(k).c_str()) == sha.substr(2) + meta);
    k.capability = std::string("\x01\0\0\x02", 4);
    CHECK(k.name() == sha.substr(2) + meta + "-c" + sha256_hex(k.capability).substr(0, 16));
  }
}

TEST_CASE("keys are the same object only when everything in them is") {
  ObjectKey a = key_for("hello", 0644);
  ObjectKey b = a;
  CHECK(same_object_key(a, b));
  CHECK(object_key_hash(a) == object_key_hash(b));
  b.mtime.tv_nsec += 1;
  CHECK_FALSE(same_object_key(a, b));
  CHECK(object_key_hash(a) != object_key_hash(b));
  b = a;
  b.capability = "c";
  CHECK_FALSE(same_object_key(a, b));
  b = a;
  b.gid += 1;
  CHECK_FALSE(same_object_key(a, b));
  b = a;
  b.sha256[31] ^= 1;
  CHECK_FALSE(same_object_key(a, b));
}

TEST_CASE("a stored object is found, linked, and collected once nothing links it") {
  ScratchDir dir;
  UniqueFd dest(::open(dir.path().c_str(), O_RDONLY | O_DIRECTORY));
  ObjectStore objects(dest.get(), dir.path(), true);
  ObjectKey k = key_for("content", 0644);
  CHECK(objects.find(k, 7, true, nullptr) == ObjectStore::Found::absent);
  store(objects, dest.get(), k, "content");
  CHECK(objects.find(k, 7, true, nullptr) == ObjectStore::Found::present);
  CHECK(objects.try_link(k, dest.get(), "linked"));
  struct stat st {};
  REQUIRE(::fstatat(dest.get(), "linked", &st, 0) == 0);
  CHECK(st.st_nlink == 2);
  CHECK_THROWS_AS(objects.link_into(k, dest.get(), "linked", "linked"), NameExists);
  CHECK_FALSE(objects.try_link(key_for("other", 0644), dest.get(), "other"));
  CHECK(objects.totals().objects == 1);
  CHECK(objects.collect_garbage().objects == 0);  // still linked
  REQUIRE(::unlinkat(dest.get(), "linked", 0) == 0);
  StoreTotals removed = objects.collect_garbage();
  CHECK(removed.objects == 1);
  CHECK(removed.bytes == 7);
  CHECK(objects.find(k, 7, true, nullptr) == ObjectStore::Found::absent);
}

TEST_CASE("an object changed on disk is damaged, never present") {
  ScratchDir dir;
  UniqueFd dest(::open(dir.path().c_str(), O_RDONLY | O_DIRECTORY));
  ObjectStore objects(dest.get(), dir.path(), true);
  ObjectKey k = key_for("content", 0644);
  store(objects, dest.get(), k, "content");
  const std::string path = dir.path() + "/objects/" + k.path();
  REQUIRE(::chmod(path.c_str(), 0666) == 0);
  std::string why;
  CHECK(objects.find(k, 7, true, &why) == ObjectStore::Found::damaged);
  CHECK(why.find("mode changed") != std::string::npos);
  REQUIRE(::chmod(path.c_str(), 0644) == 0);
  CHECK(objects.find(k, 8, true, &why) == ObjectStore::Found::damaged);  // another size than the key's content
  objects.forget(k);
  CHECK(objects.find(k, 7, true, nullptr) == ObjectStore::Found::absent);
}

TEST_CASE("a deploy into an empty store finds what it added itself, and nothing else") {
  ScratchDir dir;
  UniqueFd dest(::open(dir.path().c_str(), O_RDONLY | O_DIRECTORY));
  ObjectStore objects(dest.get(), dir.path(), true);
  objects.begin_deploy();  // empty: the filter is in use
  ObjectKey k = key_for("content", 0644);
  CHECK_FALSE(objects.try_link(k, dest.get(), "a"));
  store(objects, dest.get(), k, "content");
  CHECK(objects.try_link(k, dest.get(), "a"));  // added by this deploy: the filter says maybe, the kernel links
  for (int i = 0; i < 1000; ++i) CHECK_FALSE(objects.try_link(key_for("other " + std::to_string(i), 0644), dest.get(), "b"));
  // another key with the same content but another mode is another object
  CHECK_FALSE(objects.try_link(key_for("content", 0600), dest.get(), "c"));
  // a second deploy into the now non-empty store asks the kernel every time
  ObjectStore again(dest.get(), dir.path(), false);
  again.begin_deploy();
  CHECK(again.try_link(k, dest.get(), "d"));
}
