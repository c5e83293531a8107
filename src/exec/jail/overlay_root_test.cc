#include "overlay_root.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <functional>

#include "../../../tests/hostile/scratch_dir.h"
#include "error.h"
#include "io.h"
#include "overlay_holder.h"
#include "state_dir.h"

using namespace droot;
using namespace droot::exec;

namespace {

void write_text(const std::string& path, const std::string& text) {
  UniqueFd fd = open_or_throw(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  write_all(fd.get(), text, path);
}

// Runs `body` in a child of its own mount namespace (nothing it mounts reaches this process's); returns what
// it printed on failure, "" when it exited 0.
std::string in_mount_namespace(const std::function<void()>& body) {
  int fds[2];
  REQUIRE(pipe2(fds, O_CLOEXEC) == 0);
  UniqueFd read_end(fds[0]), write_end(fds[1]);
  std::fflush(nullptr);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    read_end.reset();
    std::string message;
    try {
      if (unshare(CLONE_NEWNS) < 0) throw_errno("unshare");
      if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) < 0) throw_errno("make / private");
      body();
    } catch (const std::exception& e) {
      message = e.what();
    }
    if (!message.empty()) (void)!write(write_end.get(), message.data(), message.size());
    _exit(message.empty() ? 0 : 1);
  }
  write_end.reset();
  std::string out;
  char buf[512];
  for (ssize_t n; (n = read(read_end.get(), buf, sizeof buf)) > 0;) out.append(buf, static_cast<size_t>(n));
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  if (out.empty() && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) out = "the child failed without a message";
  return out;
}

struct FakeDest {
  testing::ScratchDir dir;
  std::string release = "r1";
  MountPlan plan;

  FakeDest() {
    REQUIRE(mkdir((dir / "releases").c_str(), 0755) == 0);
    REQUIRE(mkdir((dir / "releases/r1").c_str(), 0755) == 0);
    REQUIRE(mkdir((dir / "releases/r1/etc").c_str(), 0755) == 0);
    write_text(dir / "releases/r1/etc/conf", "from the image\n");
    write_text(dir / "releases/r1/etc/gone", "deleted in the jail\n");
    REQUIRE(symlink("releases/r1", (dir / "current").c_str()) == 0);
    plan.rootfs = dir / "releases/r1";
    plan.dest = dir.path();
    plan.release = release;
    plan.root = RootMode::State;
  }
};

std::string slurp(const std::string& path) { return read_file(path); }

// What run does for a release's state before the jail (run_cmd.cc, jail.cc): the state made and its layers
// open, the overlay's lock, and the holder that mounts the overlay and sends it on plan.overlay_sock. Made in
// the caller's mount namespace, which must see the layers.
struct HeldState {
  UniqueFd release;
  StateDirs dirs;
  UniqueFd lock;
  OverlayHolder holder;

  explicit HeldState(MountPlan& plan) {
    release = open_or_throw(plan.rootfs, O_PATH | O_DIRECTORY);
    UniqueFd dest = open_or_throw(plan.dest, O_PATH | O_DIRECTORY);
    struct stat root {};
    if (fstat(release.get(), &root) < 0) throw_errno("stat the release");
    dirs = make_state_dirs(dest.get(), plan.dest, plan.release, root);
    lock = lock_state_mount(dirs, plan.dest, plan.release);
    plan.layers = {release.get(), dirs.upper.get(), dirs.work.get()};
    holder = OverlayHolder::prepare(plan, lock.get());
    holder.launch();
    plan.overlay_sock = holder.jail_end();
  }
};

}  // namespace

TEST_CASE("overlayfs messages name the layers instead of /proc/self/fd/N") {
  std::vector<std::pair<int, std::string>> names = {{7, "/srv/app/releases/r1"}, {12, "/srv/app/state/r1/upper"}};
  CHECK(name_fd_paths("overlayfs: filesystem on /proc/self/fd/12 not supported as upperdir", names) ==
        "overlayfs: filesystem on /srv/app/state/r1/upper not supported as upperdir");
  // /proc/self/fd/1 is not the start of /proc/self/fd/12, and an fd nobody named stays as it is.
  CHECK(name_fd_paths("a /proc/self/fd/7, b /proc/self/fd/71, c /proc/self/fd/", names) ==
        "a /srv/app/releases/r1, b /proc/self/fd/71, c /proc/self/fd/");
  CHECK(name_fd_paths("", names).empty());
}

TEST_CASE("the filesystem type comes from mountinfo, by mount id") {
  UniqueFd proc = open_or_throw("/proc/self", O_PATH | O_DIRECTORY);
  CHECK(filesystem_type(proc.get()) == "proc");
  CHECK(filesystem_type(-1) == "an unknown filesystem");
}

TEST_CASE("overlayfs gets index, redirect_dir, metacopy and xino off, whatever the kernel's defaults") {
  auto options = overlay_options();
  for (const char* key : {"index", "redirect_dir", "metacopy", "xino"}) {
    bool off = false;
    for (const auto& [k, v] : options) off |= k == key && v == "off";
    CHECK_MESSAGE(off, key);
  }
}

TEST_CASE("the overlay root keeps the release as it is and writes into the state's upper layer") {
  if (geteuid() != 0) return;  // mounts need root; the integration tests (run_test.sh) cover this too
  FakeDest d;
  HeldState state(d.plan);
  std::string failure = in_mount_namespace([&] {
    UniqueFd root = mount_overlay_root(d.plan);
    UniqueFd f(openat(root.get(), "etc/conf", O_WRONLY | O_TRUNC | O_CLOEXEC));
    if (!f) throw_errno("open etc/conf in the overlay");
    write_all(f.get(), std::string("written in the jail\n"), "etc/conf");
    UniqueFd n(openat(root.get(), "new", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
    if (!n) throw_errno("create /new in the overlay");
    if (unlinkat(root.get(), "etc/gone", 0) < 0) throw_errno("delete etc/gone in the overlay");
  });
  CHECK(failure == "");
  state.holder.finish();
  CHECK(slurp(d.dir / "releases/r1/etc/conf") == "from the image\n");
  CHECK(access((d.dir / "releases/r1/new").c_str(), F_OK) != 0);
  CHECK(slurp(d.dir / "state/r1/upper/etc/conf") == "written in the jail\n");
  CHECK(access((d.dir / "state/r1/upper/new").c_str(), F_OK) == 0);
  CHECK(slurp(d.dir / "releases/r1/etc/gone") == "deleted in the jail\n");
  struct stat whiteout {};
  REQUIRE(lstat((d.dir / "state/r1/upper/etc/gone").c_str(), &whiteout) == 0);
  CHECK(S_ISCHR(whiteout.st_mode));
  CHECK(whiteout.st_rdev == 0);

  // Volatile: the same writes land in a tmpfs that is gone with the namespace.
  d.plan.root = RootMode::Volatile;
  failure = in_mount_namespace([&] {
    UniqueFd root = mount_overlay_root(d.plan);
    UniqueFd n(openat(root.get(), "volatile", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
    if (!n) throw_errno("create /volatile in the overlay");
    struct stat st {};
    if (fstatat(root.get(), "etc/conf", &st, 0) < 0 || st.st_size != 15) throw Error("the release's etc/conf is not seen");
  });
  CHECK(failure == "");
  CHECK(access((d.dir / "releases/r1/volatile").c_str(), F_OK) != 0);
  CHECK(access((d.dir / "state/r1/upper/volatile").c_str(), F_OK) != 0);
}

TEST_CASE("an upper layer overlayfs cannot use is an error naming the filesystem and the way out") {
  if (geteuid() != 0) return;
  testing::ScratchDir outer;
  MountPlan plan;
  // DEST on an overlayfs (as in a container): overlayfs refuses another overlayfs as its upper layer.
  std::string failure = in_mount_namespace([&] {
    for (const char* p : {"lower", "upper", "work", "dest"})
      if (mkdir((outer / p).c_str(), 0755) < 0) throw_errno(std::string("mkdir ") + p);
    std::string data = "lowerdir=" + outer / "lower" + ",upperdir=" + outer / "upper" + ",workdir=" + outer / "work";
    if (mount("overlay", (outer / "dest").c_str(), "overlay", 0, data.c_str()) < 0) throw_errno("mount the outer overlay");
    const std::string dest = outer / "dest";
    for (const char* p : {"/releases", "/releases/r1"})
      if (mkdir((dest + p).c_str(), 0755) < 0) throw_errno(std::string("mkdir ") + p);
    if (symlink("releases/r1", (dest + "/current").c_str()) < 0) throw_errno("symlink current");
    plan.rootfs = dest + "/releases/r1";
    plan.dest = dest;
    plan.release = "r1";
    plan.root = RootMode::State;
    HeldState state(plan);  // here: the holder must see the outer overlay, mounted in this namespace only
    try {
      mount_overlay_root(plan);
    } catch (const Error& e) {
      std::string m = e.what();
      if (m.find("cannot mount the jail's root") == std::string::npos || m.find(dest + " is on overlay") == std::string::npos ||
          m.find("--volatile") == std::string::npos || m.find("--read-only") == std::string::npos)
        throw Error("unexpected message: " + m);
      // --volatile: the upper layer in a tmpfs, the overlayfs only below: that works.
      plan.root = RootMode::Volatile;
      UniqueFd r = mount_overlay_root(plan);
      if (mkdirat(r.get(), "written", 0755) < 0) throw_errno("mkdir in the --volatile root");
      return;
    }
    throw Error("an overlayfs upper layer was accepted");
  });
  CHECK(failure == "");
}
