#include "rootfs_path.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "error.h"

using namespace droot::exec;
namespace fs = std::filesystem;

namespace {

struct TempRoot {
  fs::path dir;
  droot::UniqueFd fd;
  TempRoot() {
    char tmpl[] = "/tmp/droot-rootfs-test.XXXXXX";
    dir = mkdtemp(tmpl);
    fs::create_directories(dir / "etc");
    fs::create_directories(dir / "srv/real");
    std::ofstream(dir / "etc/passwd") << "root:x:0:0::/root:/bin/sh\n";
    fs::create_symlink("/etc", dir / "srv/abs");              // absolute: means the image's /etc
    fs::create_symlink("../../../../../..", dir / "srv/up");  // climbs above the root
    fs::create_symlink("real", dir / "srv/rel");
    fs::create_symlink("/missing/dir", dir / "srv/dangling");
    fs::create_symlink("loop", dir / "srv/loop");
    fd = droot::UniqueFd(open(dir.c_str(), O_PATH | O_DIRECTORY));
  }
  ~TempRoot() { fs::remove_all(dir); }
};

std::string text(int root, const std::string& path) {
  std::string out;
  REQUIRE(read_rootfs_file(root, path, out));
  return out;
}

}  // namespace

TEST_CASE("symlinks are followed as the image sees them: an absolute target stays inside the rootfs") {
  TempRoot t;
  CHECK(resolve_in_rootfs(t.fd.get(), "/srv/abs").path == "/etc");
  CHECK(text(t.fd.get(), "/srv/abs/passwd") == "root:x:0:0::/root:/bin/sh\n");
  CHECK(resolve_in_rootfs(t.fd.get(), "/srv/rel").path == "/srv/real");
  CHECK(resolve_in_rootfs(t.fd.get(), "/../../etc").path == "/etc");  // the given path is cleaned, not refused
}

TEST_CASE("a symlink that climbs above the rootfs is refused, with the path in the message") {
  TempRoot t;
  CHECK_THROWS_WITH(resolve_in_rootfs(t.fd.get(), "/srv/up/etc", Create::Directory),
                    doctest::Contains("leads out of the rootfs"));
  CHECK_THROWS_WITH(resolve_in_rootfs(t.fd.get(), "/srv/loop"), doctest::Contains("too many levels of symlinks"));
  CHECK_FALSE(fs::exists(t.dir / "etc/etc"));
}

TEST_CASE("missing parts are created inside the rootfs, through a dangling symlink too") {
  TempRoot t;
  auto d = resolve_in_rootfs(t.fd.get(), "/srv/dangling/sub", Create::Directory);
  CHECK(d.is_dir);
  CHECK(d.path == "/missing/dir/sub");
  CHECK(fs::is_directory(t.dir / "missing/dir/sub"));
  CHECK_FALSE(fs::exists("/missing"));
  auto f = resolve_in_rootfs(t.fd.get(), "/srv/abs/new-file", Create::File);
  CHECK_FALSE(f.is_dir);
  CHECK(fs::is_regular_file(t.dir / "etc/new-file"));
  CHECK_THROWS_WITH(resolve_in_rootfs(t.fd.get(), "/etc/passwd/x", Create::Directory), doctest::Contains("not a directory"));
}

TEST_CASE("read_rootfs_file: false when missing, error for a FIFO or a directory") {
  TempRoot t;
  std::string out;
  CHECK_FALSE(read_rootfs_file(t.fd.get(), "/etc/group", out));
  REQUIRE(mkfifo((t.dir / "etc/fifo").c_str(), 0644) == 0);
  CHECK_THROWS_WITH(read_rootfs_file(t.fd.get(), "/etc/fifo", out), doctest::Contains("not a regular file"));
  CHECK_THROWS(read_rootfs_file(t.fd.get(), "/etc", out));
}
