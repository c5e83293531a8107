#include "user.h"

#include <doctest/doctest.h>

#include "error.h"

using namespace droot::exec;

namespace {

const char* kPasswd =
    "root:x:0:0:root:/root:/bin/sh\n"
    "# a comment\n"
    "+nis:::::: \n"
    "app:x:1234:2345:app user:/home/app:/bin/sh\n"
    "broken:x:notanumber:1:::\n"
    "short:x:1:1\n"
    "1000:x:7:7::/home/numeric:/bin/sh\n"
    "nohome:x:50:50:::/bin/false\r\n";
const char* kGroup =
    "root:x:0:\n"
    "app:x:2345:\n"
    "extra:x:3456:app,other\n"
    "more:x:4567:other,app\n"
    "bad:x:x:app\n";

Credentials resolve(const std::string& spec) { return resolve_user(spec, parse_passwd(kPasswd), parse_group(kGroup)); }

}  // namespace

TEST_CASE("passwd and group files are parsed without NSS; malformed and NIS lines are skipped") {
  auto pw = parse_passwd(kPasswd);
  REQUIRE(pw.size() == 4);
  CHECK(pw[1].name == "app");
  CHECK(pw[1].uid == 1234);
  CHECK(pw[1].gid == 2345);
  CHECK(pw[1].home == "/home/app");
  auto gr = parse_group(kGroup);
  REQUIRE(gr.size() == 4);
  CHECK(gr[2].members == std::vector<std::string>{"app", "other"});
}

TEST_CASE("a user name gets its uid, primary group, home and supplementary groups (primary first)") {
  auto c = resolve("app");
  CHECK(c.uid == 1234);
  CHECK(c.gid == 2345);
  CHECK(c.home == "/home/app");
  CHECK(c.groups == std::vector<gid_t>{2345, 3456, 4567});
  auto root = resolve("");
  CHECK(root.uid == 0);
  CHECK(root.gid == 0);
  CHECK(root.home == "/root");
  CHECK(root.groups == std::vector<gid_t>{0});
}

TEST_CASE("numeric ids: known ones take the passwd entry, unknown ones run with gid 0 and HOME=/") {
  CHECK(resolve("1234").gid == 2345);
  auto n = resolve("4242");
  CHECK(n.uid == 4242);
  CHECK(n.gid == 0);
  CHECK(n.home == "/");
  CHECK(n.groups == std::vector<gid_t>{0});
  auto g = resolve("4242:4343");
  CHECK(g.gid == 4343);
  // A name that looks like a number is a name first (as runc does).
  CHECK(resolve("1000").uid == 7);
  CHECK(resolve("nohome").home == "/");
}

TEST_CASE("an explicit group replaces the primary one, by name or number") {
  auto c = resolve("app:extra");
  CHECK(c.gid == 3456);
  CHECK(c.groups.front() == 3456);
  CHECK(resolve("app:99").gid == 99);
}

TEST_CASE("unknown names are errors that say which file was searched") {
  CHECK_THROWS_WITH(resolve("ghost"), doctest::Contains("user 'ghost' not found in the image's /etc/passwd"));
  CHECK_THROWS_WITH(resolve("app:ghosts"), doctest::Contains("group 'ghosts' not found in the image's /etc/group"));
  CHECK_THROWS(resolve(":app"));
  CHECK_THROWS(resolve("app:"));
  CHECK_THROWS(resolve("4294967295"));  // (uid_t)-1 is nobody's id
}
