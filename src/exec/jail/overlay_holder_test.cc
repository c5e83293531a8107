#include "overlay_holder.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "../../../tests/hostile/scratch_dir.h"
#include "error.h"
#include "overlay_root.h"
#include "terminal.h"

using namespace droot;
using namespace droot::exec;

namespace {

// state/<release>/work as run has it: a work/work inside, and the overlay's lock on the directory.
struct Work {
  testing::ScratchDir d;
  UniqueFd lock;
  Work() {
    REQUIRE(mkdir((d / "work").c_str(), 0700) == 0);
    REQUIRE(mkdir((d / "work/work").c_str(), 0700) == 0);
    lock = UniqueFd(open((d / "work").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    REQUIRE(lock);
    REQUIRE(flock(lock.get(), LOCK_EX) == 0);
  }
  bool lock_free() {
    UniqueFd other(open((d / "work").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    return other && flock(other.get(), LOCK_EX | LOCK_NB) == 0;
  }
  void wait_lock_free() {
    UniqueFd other(open((d / "work").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    REQUIRE(other);
    REQUIRE(flock(other.get(), LOCK_EX) == 0);
  }
};

}  // namespace

// A directory stands in for the jail's root (--userns: init sends it): what is tested is who holds what, and when.
TEST_CASE("the holder keeps only the jail's root and its lock, and lets the lock go after finish()") {
  Work w;
  int p[2];
  REQUIRE(pipe2(p, O_CLOEXEC) == 0);
  UniqueFd out_read(p[0]), out_write(p[1]);  // as a pipe on droot-exec's stdout

  OverlayHolder holder = OverlayHolder::start(nullptr, w.lock.get());
  REQUIRE(holder.jail_end() >= 0);
  out_write.reset();
  char c;
  CHECK(read(out_read.get(), &c, 1) == 0);  // EOF: the holder has no copy of the write end
  UniqueFd root(open(w.d.path().c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  send_fd(holder.jail_end(), root.get());  // init's part
  holder.close_jail_end();
  w.lock.reset();  // droot-exec's copy goes at its exit; the holder still holds it
  CHECK_FALSE(w.lock_free());
  CHECK(access((w.d / "work/work").c_str(), F_OK) == 0);  // nothing removed while the jail may run

  holder.finish();
  w.wait_lock_free();                                    // free once the holder has exited
  CHECK(access((w.d / "work/work").c_str(), F_OK) != 0);  // overlayfs's work/work removed first
}

TEST_CASE("a holder whose jail died before sending its root still ends with finish()") {
  Work w;
  OverlayHolder holder = OverlayHolder::start(nullptr, w.lock.get());
  holder.close_jail_end();  // init gone: EOF
  w.lock.reset();
  holder.finish();
  w.wait_lock_free();
}

TEST_CASE("the holder mounts the overlay itself and sends it, or says which step failed and why") {
  if (geteuid() != 0) return;  // mounts need root; run_test.sh covers this too
  testing::ScratchDir d;
  for (const char* p : {"lower", "upper", "work"}) REQUIRE(mkdir((d / p).c_str(), 0755) == 0);
  UniqueFd lower(open((d / "lower").c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  UniqueFd upper(open((d / "upper").c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  UniqueFd work(open((d / "work").c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  UniqueFd lock(open((d / "work").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  OverlayLayers layers{lower.get(), upper.get(), work.get()};

  SUBCASE("made: a detached overlay, nodev, whose writes land in upper") {
    OverlayHolder holder = OverlayHolder::start(&layers, lock.get());
    HeldOverlay held = receive_overlay(holder.jail_end());
    REQUIRE(held.error == 0);
    REQUIRE(held.mount);
    CHECK_FALSE(held.context);
    UniqueFd f(openat(held.mount.get(), "written", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
    CHECK(f);
    CHECK(access((d / "upper/written").c_str(), F_OK) == 0);
    CHECK(access((d / "lower/written").c_str(), F_OK) != 0);
    struct statvfs sv {};
    REQUIRE(fstatvfs(held.mount.get(), &sv) == 0);
    CHECK((sv.f_flag & ST_NODEV) != 0);
    f.reset();
    held.mount.reset();
    holder.finish();
  }
  SUBCASE("failed: the errno, the step and overlayfs's fs_context") {
    // The upper layer is the lower one's parent: overlayfs refuses overlapping layers at FSCONFIG_CMD_CREATE.
    UniqueFd parent(open(d.path().c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    OverlayLayers overlapping{lower.get(), parent.get(), work.get()};
    OverlayHolder holder = OverlayHolder::start(&overlapping, lock.get());
    HeldOverlay held = receive_overlay(holder.jail_end());
    CHECK(held.error != 0);
    CHECK(held.step == static_cast<int>(overlay_config(overlapping).size()));  // the superblock's creation
    CHECK_FALSE(held.mount);
    CHECK(held.context);
    holder.finish();
  }
}

TEST_CASE("init is told when the holder died without a word") {
  int p[2];
  REQUIRE(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, p) == 0);
  UniqueFd a(p[0]), b(p[1]);
  a.reset();
  CHECK_THROWS_WITH_AS(receive_overlay(b.get()), doctest::Contains("exited without a word"), Error);
}
