#include "deferred_dirs.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>

#include "../../../tests/hostile/scratch_dir.h"
#include "error.h"

using namespace droot;
using namespace droot::exec;
using SpoolDir = droot::testing::OpenScratchDir;

namespace {

NodeAttrs attrs_of(int i) {
  NodeAttrs a;
  a.perm = i % 3 == 0 ? 0555 : (i % 3 == 1 ? 0755 : 01777);
  a.uid = 1000 + static_cast<uint64_t>(i);
  a.gid = (uint64_t{1} << 32) + static_cast<uint64_t>(i);  // wider than 32 bits survives the spool
  a.mtime = {1700000000 + i, i * 1000};
  return a;
}

std::string path_of(int i) {  // lengths from 1 to 200 bytes, so records straddle every block size tried
  std::string path = "d";  // appended, not "d" + …: GCC 12 warns falsely (-Wrestrict) on that operator+
  path += std::to_string(i);
  path += '/';
  path.append(static_cast<size_t>(i % 200), 'x');
  return path;
}

void check_reverse(const DeferredDirs& dirs, int n) {
  int expected = n - 1;
  std::string first_wrong;
  dirs.for_each_reverse([&](const std::string& path, const NodeAttrs& a) {
    const NodeAttrs want = attrs_of(expected);
    const bool same = expected >= 0 && path == path_of(expected) && a.perm == want.perm && a.uid == want.uid &&
                      a.gid == want.gid && a.mtime.tv_sec == want.mtime.tv_sec && a.mtime.tv_nsec == want.mtime.tv_nsec;
    if (!same && first_wrong.empty()) first_wrong = "record " + std::to_string(expected) + " came back as " + path;
    --expected;
  });
  CHECK(first_wrong == "");
  CHECK(expected == -1);
}

}  // namespace

TEST_CASE("deferred directories come back last first, from memory alone while they fit in a block") {
  SpoolDir spool;
  DeferredDirs dirs(spool.fd.get());
  for (int i = 0; i < 100; ++i) dirs.add(path_of(i), attrs_of(i));
  CHECK(dirs.count() == 100);
  CHECK(dirs.spilled_blocks() == 0);
  check_reverse(dirs, 100);
}

TEST_CASE("deferred directories beyond a block spill to an unlinked file and memory stays one block") {
  for (size_t block : {size_t{64}, size_t{1000}, size_t{4096}}) {
    CAPTURE(block);
    SpoolDir spool;
    DeferredDirs dirs(spool.fd.get(), block);
    size_t most = 0;
    for (int i = 0; i < 5000; ++i) {
      dirs.add(path_of(i), attrs_of(i));
      most = std::max(most, dirs.buffered_bytes());
    }
    // A record larger than a block is a block of its own; otherwise a block is never exceeded.
    CHECK(most <= std::max(block, size_t{40 + 220}));
    CHECK(dirs.spilled_blocks() > 5000 * 40 / std::max(block, size_t{260}) / 2);
    CHECK(std::filesystem::is_empty(spool.dir.path()));  // the spool has no name in the release
    check_reverse(dirs, 5000);
    check_reverse(dirs, 5000);  // and it can be walked again
  }
}

TEST_CASE("deferred directories: a spool that cannot be made is a clear error") {
  DeferredDirs dirs(-1, 64);
  dirs.add("a", attrs_of(1));
  try {
    dirs.add(std::string(100, 'b'), attrs_of(2));
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find("temporary file for the release's directories") != std::string::npos);
  }
}

TEST_CASE("deferred directories: what fn throws stops the walk") {
  SpoolDir spool;
  DeferredDirs dirs(spool.fd.get(), 64);
  for (int i = 0; i < 50; ++i) dirs.add(path_of(i), attrs_of(i));
  int seen = 0;
  CHECK_THROWS_AS(dirs.for_each_reverse([&](const std::string&, const NodeAttrs&) {
    if (++seen == 3) throw Error("stop");
  }),
                  Error);
  CHECK(seen == 3);
}
