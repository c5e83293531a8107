#include "teardown.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../../tests/hostile/scratch_dir.h"

using namespace droot;
using namespace droot::exec;

// A directory stands in for the overlay's root: what is tested is who holds what, and when.
TEST_CASE("the teardown process keeps only the overlay and its lock, and lets the lock go after finish()") {
  testing::ScratchDir d;
  REQUIRE(mkdir((d / "work").c_str(), 0700) == 0);
  REQUIRE(mkdir((d / "work/work").c_str(), 0700) == 0);
  UniqueFd lock(open((d / "work").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  REQUIRE(lock);
  REQUIRE(flock(lock.get(), LOCK_EX) == 0);
  UniqueFd root(open(d.path().c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  int p[2];
  REQUIRE(pipe2(p, O_CLOEXEC) == 0);
  UniqueFd out_read(p[0]), out_write(p[1]);  // as a pipe on droot-exec's stdout
  UniqueFd own_pid_ns(open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC));
  REQUIRE(own_pid_ns);

  OverlayTeardown teardown = OverlayTeardown::start(std::move(root), lock.get(), own_pid_ns.get());
  out_write.reset();
  char c;
  CHECK(read(out_read.get(), &c, 1) == 0);  // EOF: the process has no copy of the write end
  lock.reset();                             // droot-exec's copy goes at its exit; the process still holds it
  UniqueFd other(open((d / "work").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  REQUIRE(other);
  CHECK(flock(other.get(), LOCK_EX | LOCK_NB) < 0);
  CHECK(access((d / "work/work").c_str(), F_OK) == 0);  // nothing removed while the jail may run

  teardown.finish();
  CHECK(flock(other.get(), LOCK_EX) == 0);  // free once the process has exited
  CHECK(access((d / "work/work").c_str(), F_OK) != 0);  // overlayfs's work/work removed first
}

TEST_CASE("without a way back to its own PID namespace, droot-exec keeps the overlay and drops it itself") {
  testing::ScratchDir d;
  REQUIRE(mkdir((d / "work").c_str(), 0700) == 0);
  REQUIRE(mkdir((d / "work/work").c_str(), 0700) == 0);
  UniqueFd lock(open((d / "work").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  REQUIRE(lock);
  UniqueFd root(open(d.path().c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  OverlayTeardown teardown = OverlayTeardown::start(std::move(root), lock.get(), -1);
  teardown.finish();
  CHECK(access((d / "work/work").c_str(), F_OK) == 0);  // no process: nothing else done
}
