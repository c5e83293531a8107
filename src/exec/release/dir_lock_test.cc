#include "dir_lock.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../../tests/hostile/scratch_dir.h"
#include "io.h"

using namespace droot;
using namespace droot::exec;

namespace {
// Whether another open file description can take the lock right now (flock locks belong to those).
bool lock_is_free(const std::string& path) {
  UniqueFd fd = open_or_throw(path, O_RDWR);
  bool free = ::flock(fd.get(), LOCK_EX | LOCK_NB) == 0;
  if (free) ::flock(fd.get(), LOCK_UN);
  return free;
}
}  // namespace

TEST_CASE("the lock is held while the DirLock lives and released with it") {
  testing::ScratchDir dir;
  UniqueFd dest = open_or_throw(dir.path(), O_RDONLY | O_DIRECTORY);
  std::vector<std::string> waits;
  {
    DirLock lock(dest.get(), dir.path(), [&](const std::string& s) { waits.push_back(s); });
    CHECK_FALSE(lock_is_free(dir / ".droot.lock"));
  }
  CHECK(lock_is_free(dir / ".droot.lock"));
  CHECK(waits.empty());
}

TEST_CASE("a second locker waits and says so") {
  testing::ScratchDir dir;
  UniqueFd dest = open_or_throw(dir.path(), O_RDONLY | O_DIRECTORY);
  int ready[2];
  REQUIRE(::pipe(ready) == 0);
  pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    DirLock lock(dest.get(), dir.path(), nullptr);
    char c = 'x';
    (void)::write(ready[1], &c, 1);
    ::usleep(300 * 1000);
    ::_exit(0);
  }
  char c;
  REQUIRE(::read(ready[0], &c, 1) == 1);
  std::vector<std::string> waits;
  DirLock lock(dest.get(), dir.path(), [&](const std::string& s) { waits.push_back(s); });
  REQUIRE(waits.size() == 1);
  CHECK(waits[0].find("waiting for another deploy") != std::string::npos);
  int status = 0;
  ::waitpid(child, &status, 0);
  ::close(ready[0]);
  ::close(ready[1]);
}
