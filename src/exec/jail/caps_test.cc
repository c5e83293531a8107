#include "caps.h"

#include <doctest/doctest.h>
#include <linux/capability.h>

#include <cstdio>

#include "error.h"

using namespace droot::exec;

namespace {
constexpr CapMask kAll40 = (CapMask{1} << 41) - 1;
}

TEST_CASE("the default keep-list is yuuki/droot's seven capabilities") {
  CHECK(default_cap_keep() == 0x4cf);
  CHECK(cap_from_name("net_bind_service") == CAP_NET_BIND_SERVICE);
  CHECK(cap_from_name("CAP_SYS_ADMIN") == CAP_SYS_ADMIN);
  CHECK(cap_from_name("CHECKPOINT_RESTORE") == 40);
  CHECK_FALSE(cap_from_name("SYS_GOD"));
  CHECK(cap_name(CAP_MKNOD) == "MKNOD");
}

TEST_CASE("root keeps the list in bounding, permitted and effective; inheritable and ambient stay empty") {
  CapState s = plan_caps({}, {}, true, kAll40);
  CHECK(s.bounding == 0x4cf);
  CHECK(s.permitted == 0x4cf);
  CHECK(s.effective == 0x4cf);
  CHECK(s.inheritable == 0);
  CHECK(s.ambient == 0);
}

TEST_CASE("--cap-drop applies before --cap-add; ALL works both ways") {
  CHECK(plan_caps({}, {"CHOWN"}, true, kAll40).bounding == 0x4ce);
  CHECK(plan_caps({"NET_BIND_SERVICE"}, {"ALL"}, true, kAll40).bounding == 0x400);
  CHECK(plan_caps({"SYS_ADMIN"}, {}, true, kAll40).effective == (0x4cf | (CapMask{1} << CAP_SYS_ADMIN)));
  CHECK(plan_caps({}, {"all"}, true, kAll40).bounding == 0);
  CHECK(plan_caps({"ALL"}, {}, true, kAll40).bounding == kAll40);
}

TEST_CASE("ALL means what droot-exec has; naming a capability it lacks is an error") {
  CapMask no_sys_resource = kAll40 & ~(CapMask{1} << CAP_SYS_RESOURCE);
  CHECK(plan_caps({"ALL"}, {}, true, no_sys_resource).bounding == no_sys_resource);
  CHECK_THROWS_WITH(plan_caps({"SYS_RESOURCE"}, {}, true, no_sys_resource),
                    doctest::Contains("droot-exec does not have this capability"));
  CHECK_THROWS_WITH(plan_caps({"FLY"}, {}, true, kAll40), doctest::Contains("unknown capability"));
  CHECK_THROWS(plan_caps({}, {"FLY"}, true, kAll40));
}

TEST_CASE("a non-root user gets nothing but the explicit --cap-add, as ambient capabilities") {
  CapState s = plan_caps({}, {}, false, kAll40);
  CHECK(s.bounding == 0x4cf);
  CHECK(s.permitted == 0);
  CHECK(s.effective == 0);
  CHECK(s.ambient == 0);
  CapState a = plan_caps({"NET_BIND_SERVICE"}, {}, false, kAll40);
  CHECK(a.ambient == 0x400);
  CHECK(a.permitted == 0x400);
  CHECK(a.inheritable == 0x400);
}

TEST_CASE("the last capability and the bounding set found by probing are the kernel's own answers") {
  std::FILE* f = std::fopen("/proc/sys/kernel/cap_last_cap", "r");
  REQUIRE(f != nullptr);
  int last = -1;
  CHECK(std::fscanf(f, "%d", &last) == 1);
  std::fclose(f);
  CHECK(kernel_last_cap() == last);

  f = std::fopen("/proc/self/status", "r");
  REQUIRE(f != nullptr);
  unsigned long long bounding = 0;
  char line[256];
  bool found = false;
  while (std::fgets(line, sizeof line, f))
    if (std::sscanf(line, "CapBnd: %llx", &bounding) == 1) found = true;
  std::fclose(f);
  REQUIRE(found);
  CHECK(own_bounding_set() == bounding);
}

TEST_CASE("--userns: capabilities the kernel checks only against the host's namespace are named") {
  CHECK(cap_meaningless_in_userns(*cap_from_name("SYS_MODULE"), false).find("host's user namespace only") != std::string::npos);
  CHECK(cap_meaningless_in_userns(*cap_from_name("MKNOD"), true) != "");
  CHECK(cap_meaningless_in_userns(*cap_from_name("BPF"), true) != "");
  // The namespace's own: files, ids, its hostname and IPC.
  for (const char* name : {"CHOWN", "DAC_OVERRIDE", "FOWNER", "SETUID", "SETGID", "KILL", "SYS_ADMIN"})
    CHECK_MESSAGE(cap_meaningless_in_userns(*cap_from_name(name), false) == "", name);
  // The network: the host's with --net host, the jail's own with --net none.
  CHECK(cap_meaningless_in_userns(*cap_from_name("NET_ADMIN"), false).find("--net none") != std::string::npos);
  CHECK(cap_meaningless_in_userns(*cap_from_name("NET_ADMIN"), true) == "");
  CHECK(cap_meaningless_in_userns(*cap_from_name("NET_RAW"), true) == "");
  // NET_BIND_SERVICE is on the keep-list itself, so it is never refused; with --net host it binds nothing
  // below 1024 (docs/run.md says so).
  CHECK(cap_meaningless_in_userns(*cap_from_name("NET_BIND_SERVICE"), false) == "");
}
