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

// A release and its state as run has them: the layers open, and the overlay's lock on state/<release>/work.
struct Layers {
  testing::ScratchDir d;
  UniqueFd lower, upper, work, lock;
  MountPlan plan;
  Layers() {
    for (const char* p : {"releases", "releases/r1", "state", "state/r1", "state/r1/upper", "state/r1/work"})
      REQUIRE(mkdir((d / p).c_str(), 0755) == 0);
    lower = UniqueFd(open((d / "releases/r1").c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    upper = UniqueFd(open((d / "state/r1/upper").c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    work = UniqueFd(open((d / "state/r1/work").c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    lock = UniqueFd(open((d / "state/r1/work").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    REQUIRE(flock(lock.get(), LOCK_EX) == 0);
    plan.root = RootMode::State;
    plan.rootfs = d / "releases/r1";
    plan.dest = d.path();
    plan.release = "r1";
    plan.layers = {lower.get(), upper.get(), work.get()};
  }
  bool lock_free() {
    UniqueFd other(open((d / "state/r1/work").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    return other && flock(other.get(), LOCK_EX | LOCK_NB) == 0;
  }
  void wait_lock_free() {
    UniqueFd other(open((d / "state/r1/work").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    REQUIRE(other);
    REQUIRE(flock(other.get(), LOCK_EX) == 0);
  }
};

}  // namespace

TEST_CASE("the holder mounts the overlay, keeps no other fd, and holds it and its lock until finish()") {
  if (geteuid() != 0) return;  // mounts need root; run_test.sh covers this too
  Layers l;
  int p[2];
  REQUIRE(pipe2(p, O_CLOEXEC) == 0);
  UniqueFd out_read(p[0]), out_write(p[1]);  // as a pipe on droot-exec's stdout

  OverlayHolder holder = OverlayHolder::prepare(l.plan, l.lock.get());
  holder.launch();
  REQUIRE(holder.jail_end() >= 0);
  out_write.reset();
  char c;
  CHECK(read(out_read.get(), &c, 1) == 0);  // EOF: the holder has no copy of the write end
  HeldOverlay held = receive_overlay(holder.jail_end());  // init's part
  REQUIRE(held.error == 0);
  REQUIRE(held.mount);
  CHECK_FALSE(held.context);
  UniqueFd f(openat(held.mount.get(), "written", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  CHECK(f);
  CHECK(access((l.d / "state/r1/upper/written").c_str(), F_OK) == 0);
  CHECK(access((l.d / "releases/r1/written").c_str(), F_OK) != 0);
  struct statvfs sv {};
  REQUIRE(fstatvfs(held.mount.get(), &sv) == 0);
  CHECK((sv.f_flag & ST_NODEV) != 0);
  f.reset();
  held.mount.reset();  // the jail's namespace is gone
  holder.close_jail_end();
  l.lock.reset();  // droot-exec's copy goes at its exit; the holder still holds it
  CHECK_FALSE(l.lock_free());
  CHECK(access((l.d / "state/r1/work/work").c_str(), F_OK) == 0);  // overlayfs's, while the overlay lives

  holder.finish();
  l.wait_lock_free();                                                 // free once the holder has exited
  CHECK(access((l.d / "state/r1/work/work").c_str(), F_OK) != 0);  // overlayfs's work/work removed first
}

TEST_CASE("the holder keeps the lock until the overlay's superblock is gone, not only its own reference") {
  if (geteuid() != 0) return;
  Layers l;
  OverlayHolder holder = OverlayHolder::prepare(l.plan, l.lock.get());
  holder.launch();
  HeldOverlay held = receive_overlay(holder.jail_end());
  REQUIRE(held.mount);
  // As a process outside the jail that opened its root through /proc/PID/root: a reference of its own.
  UniqueFd outside(openat(held.mount.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  REQUIRE(outside);
  held.mount.reset();
  holder.close_jail_end();
  l.lock.reset();
  holder.finish();  // the holder drops its reference; the superblock lives on in `outside`
  usleep(300 * 1000);
  CHECK_FALSE(l.lock_free());  // a next run would otherwise mount a second overlay on the same upper layer
  CHECK(access((l.d / "state/r1/work/work").c_str(), F_OK) == 0);
  outside.reset();                 // the last reference: the superblock goes
  l.wait_lock_free();              // and the holder lets the lock go
  CHECK(access((l.d / "state/r1/work/work").c_str(), F_OK) != 0);
}

TEST_CASE("a holder whose jail died before taking the overlay still ends with finish()") {
  if (geteuid() != 0) return;
  Layers l;
  OverlayHolder holder = OverlayHolder::prepare(l.plan, l.lock.get());
  holder.launch();
  holder.close_jail_end();  // init gone; its end, and the overlay sent on it, with it
  l.lock.reset();
  holder.finish();
  l.wait_lock_free();
}

TEST_CASE("a holder prepared but never launched: init reads that it exited, and the lock is droot-exec's alone") {
  Layers l;
  OverlayHolder holder = OverlayHolder::prepare(l.plan, l.lock.get());
  const int jail_end = dup(holder.jail_end());  // init's inherited copy
  REQUIRE(jail_end >= 0);
  UniqueFd init_end(jail_end);
  holder.finish();  // run_jail's failure path: no process to tell, nothing left open on the holder's side
  CHECK_THROWS_WITH_AS(receive_overlay(init_end.get()), doctest::Contains("exited without a word"), Error);
  l.lock.reset();
  CHECK(l.lock_free());
}

TEST_CASE("a holder that cannot mount the overlay says which step failed and why") {
  if (geteuid() != 0) return;
  Layers l;
  // The upper layer is the lower one's parent: overlayfs refuses overlapping layers at FSCONFIG_CMD_CREATE.
  UniqueFd parent(open((l.d / "releases").c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  l.plan.layers.upper = parent.get();
  OverlayHolder holder = OverlayHolder::prepare(l.plan, l.lock.get());
  holder.launch();
  HeldOverlay held = receive_overlay(holder.jail_end());
  CHECK(held.error != 0);
  CHECK(held.step == static_cast<int>(overlay_config(l.plan.layers).size()));  // the superblock's creation
  CHECK_FALSE(held.mount);
  CHECK(held.context);
  holder.finish();
}

TEST_CASE("init is told when the holder died without a word") {
  int p[2];
  REQUIRE(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, p) == 0);
  UniqueFd a(p[0]), b(p[1]);
  a.reset();
  CHECK_THROWS_WITH_AS(receive_overlay(b.get()), doctest::Contains("exited without a word"), Error);
}
