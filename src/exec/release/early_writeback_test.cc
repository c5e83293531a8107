#include "early_writeback.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

namespace droot::exec {
namespace {

int open_fds() {
  int n = 0;
  for (int fd = 0; fd < 4096; ++fd)
    if (::fcntl(fd, F_GETFD) >= 0) ++n;
  return n;
}

}  // namespace

TEST_CASE("EarlyWriteback starts the writeback of every file handed over and closes each one") {
  char dir[] = "/var/tmp/droot-writeback-XXXXXX";
  REQUIRE(::mkdtemp(dir) != nullptr);
  const int before = open_fds();
  std::vector<std::string> names;
  {
    EarlyWriteback writeback;
    for (int i = 0; i < 20; ++i) {
      names.push_back(std::string(dir) + "/f" + std::to_string(i));
      int fd = ::open(names.back().c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
      REQUIRE(fd >= 0);
      std::string data(100000, static_cast<char>('a' + i));
      REQUIRE(::write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size()));
      writeback.hand_over(UniqueFd(fd));
    }
  }  // the destructor drains the queue
  CHECK(open_fds() == before);
  for (const auto& n : names) {
    struct stat st {};
    REQUIRE(::stat(n.c_str(), &st) == 0);
    CHECK(st.st_size == 100000);
    ::unlink(n.c_str());
  }
  ::rmdir(dir);
}

TEST_CASE("EarlyWriteback counts the files it started writing back") {
  char dir[] = "/var/tmp/droot-writeback-XXXXXX";
  REQUIRE(::mkdtemp(dir) != nullptr);
  std::string name = std::string(dir) + "/f";
  size_t started = 0;
  {
    EarlyWriteback writeback;
    int fd = ::open(name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    REQUIRE(fd >= 0);
    REQUIRE(::write(fd, "data", 4) == 4);
    writeback.hand_over(UniqueFd(fd));
    for (int i = 0; i < 1000 && writeback.started() == 0; ++i) ::usleep(1000);
    started = writeback.started();
  }
  CHECK(started == 1);
  ::unlink(name.c_str());
  ::rmdir(dir);
}

TEST_CASE("EarlyWriteback syncs the filesystem each time small files have left the given bytes dirty") {
  char dir[] = "/var/tmp/droot-writeback-XXXXXX";
  REQUIRE(::mkdtemp(dir) != nullptr);
  int fs = ::open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  REQUIRE(fs >= 0);
  size_t syncs = 0;
  {
    // 100-byte files count as a page and an inode's share each: 4 of them pass 16 KiB, 3 do not.
    EarlyWriteback writeback(fs, 16 << 10);
    for (int i = 0; i < 3; ++i) writeback.small_file(100);
    ::usleep(50000);
    CHECK(writeback.syncs() == 0);
    writeback.small_file(100);
    for (int i = 0; i < 2000 && writeback.syncs() == 0; ++i) ::usleep(1000);
    syncs = writeback.syncs();
  }
  CHECK(syncs == 1);
  {
    // Without a filesystem descriptor (or with no threshold) small files are only left to the final sync.
    EarlyWriteback none;
    EarlyWriteback unbounded(fs, 0);
    for (int i = 0; i < 100; ++i) {
      none.small_file(1 << 20);
      unbounded.small_file(1 << 20);
    }
    ::usleep(50000);
    CHECK(none.syncs() == 0);
    CHECK(unbounded.syncs() == 0);
  }
  ::close(fs);
  ::rmdir(dir);
}

TEST_CASE("EarlyWriteback: a descriptor it cannot write back (a pipe) is still closed") {
  int p[2];
  REQUIRE(::pipe(p) == 0);
  {
    EarlyWriteback writeback;
    writeback.hand_over(UniqueFd(p[0]));
  }
  CHECK(::fcntl(p[0], F_GETFD) < 0);
  ::close(p[1]);
}

}  // namespace droot::exec
