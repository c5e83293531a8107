#include "entry_normalizer.h"

#include <doctest/doctest.h>

#include "archive_ptr.h"

using namespace droot;
using namespace droot::pack;

TEST_CASE("export paths become relative, without trailing slashes") {
  CHECK(relative_path("bin/") == "bin");
  CHECK(relative_path("./bin/sh") == "bin/sh");
  CHECK(relative_path("/etc/passwd") == "etc/passwd");
  CHECK(relative_path("./") == "");
  CHECK(relative_path(".") == "");
}

TEST_CASE("Docker's marker and droot's own names are left out; everything else stays") {
  CHECK(skip_reason(".dockerenv"));
  CHECK(skip_reason(".drootenv"));
  CHECK(skip_reason(".droot/config.json"));
  CHECK(skip_reason(""));
  CHECK_FALSE(skip_reason("etc/hostname"));
  CHECK_FALSE(skip_reason(".drootish"));
  CHECK_FALSE(skip_reason("proc"));
}

TEST_CASE("normalisation clamps mtime, drops names and extra times, keeps ids and modes") {
  ArchiveEntry e(archive_entry_new());
  archive_entry_set_pathname(e.get(), "./usr/bin/ping");
  archive_entry_set_filetype(e.get(), AE_IFREG);
  archive_entry_set_perm(e.get(), 04755);
  archive_entry_set_uid(e.get(), 7);
  archive_entry_set_gid(e.get(), 8);
  archive_entry_set_uname(e.get(), "someone");
  archive_entry_set_gname(e.get(), "somegroup");
  archive_entry_set_mtime(e.get(), 2000000000, 5);
  archive_entry_set_atime(e.get(), 2000000001, 0);
  archive_entry_set_ctime(e.get(), 2000000002, 0);
  std::string path = normalise_entry(e.get(), 1700000000);
  CHECK(path == "usr/bin/ping");
  CHECK(archive_entry_mtime(e.get()) == 1700000000);
  CHECK(archive_entry_mtime_nsec(e.get()) == 0);
  CHECK_FALSE(archive_entry_atime_is_set(e.get()));
  CHECK_FALSE(archive_entry_ctime_is_set(e.get()));
  CHECK(archive_entry_uname(e.get()) == nullptr);
  CHECK(archive_entry_gname(e.get()) == nullptr);
  auto m = manifest_entry_for(e.get(), path);
  CHECK(m.type == "file");
  CHECK(m.mode == 04755);
  CHECK(m.uid == 7);
  CHECK(m.gid == 8);

  archive_entry_set_mtime(e.get(), 1600000000, 0);
  normalise_entry(e.get(), 1700000000);
  CHECK(archive_entry_mtime(e.get()) == 1600000000);  // older times are kept, not raised
}

TEST_CASE("symlinks keep their target in the manifest") {
  ArchiveEntry e(archive_entry_new());
  archive_entry_set_pathname(e.get(), "bin/sh");
  archive_entry_set_filetype(e.get(), AE_IFLNK);
  archive_entry_set_perm(e.get(), 0777);
  archive_entry_set_symlink(e.get(), "/bin/busybox");
  auto m = manifest_entry_for(e.get(), normalise_entry(e.get(), 1));
  CHECK(m.type == "link");
  CHECK(m.link == "/bin/busybox");
}
