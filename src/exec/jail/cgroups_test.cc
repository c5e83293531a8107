#include "cgroups.h"

#include <doctest/doctest.h>

using namespace droot::exec;

TEST_CASE("cgroup mounts of a v1 hybrid host and of a v2 host are told apart") {
  const char* mountinfo =
      "30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
      "31 30 0:28 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct\n"
      "34 30 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
      "39 30 0:36 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd\n"
      "40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n"
      "41 30 0:38 /sub /with\\040space rw shared:4 - cgroup cgroup rw,pids\n";
  auto m = parse_cgroup_mounts(mountinfo);
  REQUIRE(m.size() == 5);
  CHECK(m[0].mountpoint == "/sys/fs/cgroup/cpu,cpuacct");
  CHECK(m[0].controllers == std::vector<std::string>{"cpu", "cpuacct"});
  CHECK(m[2].controllers == std::vector<std::string>{"xattr"});  // name=systemd carries no controller
  CHECK(m[3].v2);
  CHECK(m[4].mountpoint == "/with space");
  CHECK(m[4].root == "/sub");
}

TEST_CASE("/proc/self/cgroup maps each v1 controller and the v2 path") {
  auto c = parse_proc_cgroup("4:memory:/svc/x\n1:cpu,cpuacct:/\n9:name=systemd:/s\n0::/user.slice\n");
  CHECK(c["memory"] == "/svc/x");
  CHECK(c["cpu"] == "/");
  CHECK(c["cpuacct"] == "/");
  CHECK(c[""] == "/user.slice");
}

TEST_CASE("limits are written in each version's own words") {
  CgroupLimits l{64 << 20, 10, 1500};
  CHECK(limit_writes("memory", l, true)[0].file == "memory.max");
  CHECK(limit_writes("memory", l, false)[0].file == "memory.limit_in_bytes");
  CHECK(limit_writes("pids", l, false)[0].value == "10");
  CHECK(limit_writes("cpu", l, true)[0].value == "150000 100000");
  auto v1 = limit_writes("cpu", l, false);
  REQUIRE(v1.size() == 2);
  CHECK(v1[1].file == "cpu.cfs_quota_us");
  CHECK(v1[1].value == "150000");
  CHECK(limit_writes("cpu", CgroupLimits{}, true).empty());
}

TEST_CASE("only other processes keep a v2 cgroup from delegating") {
  CHECK(other_processes({"42"}, 42).empty());
  CHECK(other_processes({}, 42).empty());
  CHECK(other_processes({"7", "42", "420"}, 42) == std::vector<std::string>{"7", "420"});
}
