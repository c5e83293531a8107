#include "state_dir.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../../tests/hostile/scratch_dir.h"
#include "error.h"
#include "io.h"

using namespace droot;
using namespace droot::exec;

namespace {

mode_t mode_of(const std::string& path) {
  struct stat st {};
  REQUIRE(lstat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

struct Dest {
  testing::ScratchDir dir;
  UniqueFd fd;
  struct stat root {};

  Dest() {
    REQUIRE(mkdir((dir / "releases").c_str(), 0755) == 0);
    REQUIRE(mkdir((dir / "releases/r1").c_str(), 0751) == 0);
    REQUIRE(chmod((dir / "releases/r1").c_str(), 0751) == 0);
    REQUIRE(symlink("releases/r1", (dir / "current").c_str()) == 0);
    REQUIRE(stat((dir / "releases/r1").c_str(), &root) == 0);
    fd = open_or_throw(dir.path(), O_PATH | O_DIRECTORY);
  }
};

}  // namespace

TEST_CASE("the state of a release is DEST/state/<release>") {
  CHECK(state_dir_name("20250101T000000-abcdef012345") == "state/20250101T000000-abcdef012345");
}

TEST_CASE("a release is recognised by its place in a deploy directory, not by its name") {
  Dest d;
  auto ref = release_of(d.dir / "releases/r1");
  REQUIRE(ref);
  CHECK(ref->dest == d.dir.path());
  CHECK(ref->name == "r1");
  // Without `current` a deploy's lock file marks DEST as well.
  REQUIRE(unlink((d.dir / "current").c_str()) == 0);
  CHECK_FALSE(release_of(d.dir / "releases/r1"));
  { UniqueFd lock = open_or_throw(d.dir / ".droot.lock", O_WRONLY | O_CREAT, 0600); }
  CHECK(release_of(d.dir / "releases/r1"));
  // Not a release: the directory itself, something under a release, a rootfs elsewhere.
  CHECK_FALSE(release_of(d.dir / "releases"));
  CHECK_FALSE(release_of(d.dir / "releases/r1/etc"));
  CHECK_FALSE(release_of(d.dir.path()));
  CHECK_FALSE(release_of("/"));
  testing::ScratchDir other;
  REQUIRE(mkdir((other / "releases").c_str(), 0755) == 0);
  CHECK_FALSE(release_of(other / "releases/x"));  // no current, no lock: not a deploy directory
}

TEST_CASE("state dirs are made 0700, upper with the release root's mode, and reused as they are") {
  Dest d;
  StateDirs s = make_state_dirs(d.fd.get(), d.dir.path(), "r1", d.root);
  CHECK(mode_of(d.dir / "state") == 0700);
  CHECK(mode_of(d.dir / "state/r1") == 0700);
  CHECK(mode_of(d.dir / "state/r1/work") == 0700);
  CHECK(mode_of(d.dir / "state/r1/upper") == 0751);  // overlayfs shows it as the jail's "/"
  CHECK(s.dir.valid());
  CHECK(s.upper.valid());
  CHECK(s.work.valid());
  // A later run leaves them alone (the service may have changed "/"'s mode: that is its state).
  REQUIRE(chmod((d.dir / "state/r1/upper").c_str(), 0755) == 0);
  make_state_dirs(d.fd.get(), d.dir.path(), "r1", d.root);
  CHECK(mode_of(d.dir / "state/r1/upper") == 0755);
  CHECK_THROWS_WITH(make_state_dirs(d.fd.get(), d.dir.path(), "..", d.root), doctest::Contains("not a release name"));
}

TEST_CASE("a symlinked or group-writable state is refused, never followed or used") {
  Dest d;
  testing::ScratchDir elsewhere;
  REQUIRE(symlink(elsewhere.path().c_str(), (d.dir / "state").c_str()) == 0);
  CHECK_THROWS_WITH(make_state_dirs(d.fd.get(), d.dir.path(), "r1", d.root), doctest::Contains("symlink"));
  CHECK(access((elsewhere / "r1").c_str(), F_OK) != 0);

  REQUIRE(unlink((d.dir / "state").c_str()) == 0);
  REQUIRE(mkdir((d.dir / "state").c_str(), 0700) == 0);
  REQUIRE(chmod((d.dir / "state").c_str(), 0770) == 0);
  CHECK_THROWS_WITH(make_state_dirs(d.fd.get(), d.dir.path(), "r1", d.root), doctest::Contains("mode 0770"));
  REQUIRE(chmod((d.dir / "state").c_str(), 0700) == 0);
  REQUIRE(symlink(elsewhere.path().c_str(), (d.dir / "state/r1").c_str()) == 0);
  CHECK_THROWS_WITH(make_state_dirs(d.fd.get(), d.dir.path(), "r1", d.root), doctest::Contains("symlink"));
}

TEST_CASE("one run at a time holds a release's state") {
  Dest d;
  StateDirs first = make_state_dirs(d.fd.get(), d.dir.path(), "r1", d.root);
  CHECK_FALSE(state_in_use(first.dir.get()));
  lock_state(first, d.dir.path(), "r1");
  CHECK(state_in_use(first.dir.get()));
  StateDirs second = make_state_dirs(d.fd.get(), d.dir.path(), "r1", d.root);
  CHECK_THROWS_WITH(lock_state(second, d.dir.path(), "r1"), doctest::Contains("in use by another run of it"));
  CHECK_THROWS_WITH(lock_state(second, d.dir.path(), "r1"), doctest::Contains("--volatile"));
  first.dir.reset();  // the run ended
  CHECK_NOTHROW(lock_state(second, d.dir.path(), "r1"));
}

TEST_CASE("a run that has ended keeps the next one and prune waiting until its overlay is taken down") {
  Dest d;
  StateDirs first = make_state_dirs(d.fd.get(), d.dir.path(), "r1", d.root);
  lock_state(first, d.dir.path(), "r1");
  UniqueFd overlay = lock_state_mount(first, d.dir.path(), "r1");
  first.dir.reset();  // the run ended; its overlay's holder (overlay_holder.h) holds the mount lock ~100 ms more
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    usleep(100 * 1000);
    _exit(0);
  }
  overlay.reset();  // the child's copy holds it now
  StateDirs second = make_state_dirs(d.fd.get(), d.dir.path(), "r1", d.root);
  struct timespec t0 {}, t1 {};
  clock_gettime(CLOCK_MONOTONIC, &t0);
  CHECK_FALSE(state_in_use(second.dir.get()));  // waited for, then free
  clock_gettime(CLOCK_MONOTONIC, &t1);
  CHECK((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 >= 50);
  lock_state(second, d.dir.path(), "r1");
  CHECK_NOTHROW(lock_state_mount(second, d.dir.path(), "r1"));  // free at once now
  int status = 0;
  waitpid(pid, &status, 0);
}

TEST_CASE("an overlay taken down for more than a second: prune reports the state in use, run says why it waits") {
  Dest d;
  StateDirs first = make_state_dirs(d.fd.get(), d.dir.path(), "r1", d.root);
  lock_state(first, d.dir.path(), "r1");
  UniqueFd overlay = lock_state_mount(first, d.dir.path(), "r1");
  first.dir.reset();
  pid_t pid = fork();  // a holder whose superblock something outside keeps: 2.5 s
  REQUIRE(pid >= 0);
  if (pid == 0) {
    usleep(2500 * 1000);
    _exit(0);
  }
  overlay.reset();
  StateDirs second = make_state_dirs(d.fd.get(), d.dir.path(), "r1", d.root);
  struct timespec t0 {}, t1 {};
  clock_gettime(CLOCK_MONOTONIC, &t0);
  CHECK(state_in_use(second.dir.get()));  // prune keeps it after a second instead of waiting on
  clock_gettime(CLOCK_MONOTONIC, &t1);
  const long waited = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
  CHECK(waited >= 900);
  CHECK(waited < 1400);
  // run: waits on past the second, saying why on stderr, and gets the lock once the holder is gone.
  lock_state(second, d.dir.path(), "r1");
  int p[2];
  REQUIRE(pipe(p) == 0);
  const int saved = dup(STDERR_FILENO);
  REQUIRE(dup2(p[1], STDERR_FILENO) == STDERR_FILENO);
  close(p[1]);
  UniqueFd got;
  CHECK_NOTHROW(got = lock_state_mount(second, d.dir.path(), "r1"));
  dup2(saved, STDERR_FILENO);
  close(saved);
  char buf[1024] = {};
  ssize_t n = read(p[0], buf, sizeof buf - 1);
  close(p[0]);
  CHECK(n > 0);
  CHECK(std::string(buf).find("waiting for the previous overlay of release r1") != std::string::npos);
  CHECK(got);
  int status = 0;
  waitpid(pid, &status, 0);
}

TEST_CASE("a state records the ids it was written with; other ids are refused unless upper is empty") {
  Dest d;
  IdRange ids{2147483648u, 65536};
  make_state_dirs(d.fd.get(), d.dir.path(), "r1", d.root, ids);
  struct stat st {};
  REQUIRE(stat((d.dir / "state/r1/upper").c_str(), &st) == 0);
  CHECK(st.st_uid == d.root.st_uid + ids.base);  // the jail's view of the release root's owner
  CHECK(st.st_gid == d.root.st_gid + ids.base);
  CHECK(mode_of(d.dir / "state/r1/upper") == 0751);
  CHECK(read_file(d.dir / "state/r1/ids") == "2147483648:65536\n");
  // Empty: it just changes hands.
  make_state_dirs(d.fd.get(), d.dir.path(), "r1", d.root);
  REQUIRE(stat((d.dir / "state/r1/upper").c_str(), &st) == 0);
  CHECK(st.st_uid == d.root.st_uid);
  CHECK(read_file(d.dir / "state/r1/ids") == "host\n");
  // Something written: refused both ways, naming the ids and the way out, and nothing changes.
  { UniqueFd f = open_or_throw(d.dir / "state/r1/upper/written", O_WRONLY | O_CREAT, 0644); }
  CHECK_THROWS_WITH(make_state_dirs(d.fd.get(), d.dir.path(), "r1", d.root, ids),
                    doctest::Contains("written without --userns"));
  CHECK(read_file(d.dir / "state/r1/ids") == "host\n");
  REQUIRE(unlink((d.dir / "state/r1/upper/written").c_str()) == 0);
  make_state_dirs(d.fd.get(), d.dir.path(), "r1", d.root, ids);
  { UniqueFd f = open_or_throw(d.dir / "state/r1/upper/written", O_WRONLY | O_CREAT, 0644); }
  CHECK_THROWS_WITH(make_state_dirs(d.fd.get(), d.dir.path(), "r1", d.root, IdRange{2147549184u, 65536}),
                    doctest::Contains("--userns=2147483648:65536"));
  CHECK_THROWS_WITH(make_state_dirs(d.fd.get(), d.dir.path(), "r1", d.root), doctest::Contains("remove"));
  CHECK_NOTHROW(make_state_dirs(d.fd.get(), d.dir.path(), "r1", d.root, ids));
}
