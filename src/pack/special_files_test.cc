#include "special_files.h"

#include <archive_entry.h>
#include <doctest/doctest.h>

#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

#include "archive_ptr.h"
#include "error.h"

using namespace droot;
using namespace droot::pack;

namespace {

struct TarNode {
  std::string path;
  unsigned type;           // AE_IF*, or 0 for a hard link to `link`
  std::string link = "";
  std::string data = "";   // a regular file's content
};

std::string make_tar(const std::vector<TarNode>& nodes) {
  ArchiveWriter w(archive_write_new());
  archive_write_set_format_pax_restricted(w.get());
  std::string out(8 << 20, '\0');
  size_t used = 0;
  REQUIRE(archive_write_open_memory(w.get(), out.data(), out.size(), &used) == ARCHIVE_OK);
  for (const auto& n : nodes) {
    ArchiveEntry e(archive_entry_new());
    archive_entry_set_pathname(e.get(), n.path.c_str());
    archive_entry_set_perm(e.get(), 0644);
    if (n.type == 0) {
      archive_entry_set_filetype(e.get(), AE_IFREG);
      archive_entry_set_hardlink(e.get(), n.link.c_str());
    } else {
      archive_entry_set_filetype(e.get(), n.type);
      if (n.type == AE_IFCHR) archive_entry_set_rdev(e.get(), 0x0103);
      if (n.type == AE_IFLNK) archive_entry_set_symlink(e.get(), "target");
      if (n.type == AE_IFREG) archive_entry_set_size(e.get(), static_cast<la_int64_t>(n.data.size()));
    }
    REQUIRE(archive_write_header(w.get(), e.get()) == ARCHIVE_OK);
    if (n.type == AE_IFREG && !n.data.empty())
      REQUIRE(archive_write_data(w.get(), n.data.data(), n.data.size()) == static_cast<la_ssize_t>(n.data.size()));
  }
  REQUIRE(archive_write_close(w.get()) == ARCHIVE_OK);
  out.resize(used);
  return out;
}

// The export as droot-pack gets it: a pipe, written by another thread.
struct ExportPipe {
  UniqueFd read_end;
  std::thread writer;
  explicit ExportPipe(std::string tar) {
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    read_end.reset(fds[0]);
    writer = std::thread([fd = fds[1], tar = std::move(tar)] {
      (void)write_all_or_stop(fd, tar);
      ::close(fd);
    });
  }
  ~ExportPipe() {
    read_end.reset();  // a writer blocked on a full pipe gets EPIPE
    writer.join();
  }
  static bool write_all_or_stop(int fd, const std::string& data) {
    for (size_t off = 0; off < data.size();) {
      ssize_t n = ::write(fd, data.data() + off, data.size() - off);
      if (n <= 0) return false;
      off += static_cast<size_t>(n);
    }
    return true;
  }
};

struct Listed {
  std::vector<std::string> names;
  std::string data;  // every regular file's content, in order
};

Listed list_from(DevLookahead& lookahead) {
  ArchiveReader r(archive_read_new());
  archive_read_support_format_tar(r.get());
  REQUIRE(lookahead.open(r.get()) == ARCHIVE_OK);
  Listed out;
  archive_entry* e = nullptr;
  while (archive_read_next_header(r.get(), &e) == ARCHIVE_OK) {
    out.names.push_back(archive_entry_pathname(e));
    char buf[65536];
    for (la_ssize_t n; (n = archive_read_data(r.get(), buf, sizeof buf)) > 0;) out.data.append(buf, static_cast<size_t>(n));
  }
  return out;
}

ManifestEntry line(const std::string& path, const std::string& type) { return ManifestEntry{path, type, 0644, 0, 0, 0, "", ""}; }

}  // namespace

TEST_CASE("special files are devices, FIFOs and sockets; under dev/ means below it") {
  for (unsigned t : {AE_IFCHR, AE_IFBLK, AE_IFIFO, AE_IFSOCK}) {
    CHECK(is_special_file_type(t));
    CHECK_FALSE(special_file_kind(t).empty());
  }
  for (unsigned t : {AE_IFREG, AE_IFDIR, AE_IFLNK}) {
    CHECK_FALSE(is_special_file_type(t));
    CHECK(special_file_kind(t).empty());
  }
  CHECK(special_file_kind(AE_IFIFO) == "FIFO");
  CHECK(special_file_kind("char") == "character device");
  CHECK(is_special_manifest_type("block"));
  CHECK_FALSE(is_special_manifest_type("file"));
  CHECK(under_dev("dev/null"));
  CHECK(under_dev("dev/pts/ptmx"));
  CHECK_FALSE(under_dev("dev"));
  CHECK_FALSE(under_dev("devices/null"));
  CHECK_FALSE(under_dev("srv/dev/null"));
  CHECK_FALSE(under_dev("device"));
}

TEST_CASE("special files under dev/ are dropped, elsewhere kept and reported, everything else kept") {
  CHECK(special_action("dev/null", AE_IFCHR, nullptr, std::nullopt) == SpecialAction::drop);
  CHECK(special_action("dev/sda", AE_IFBLK, nullptr, std::nullopt) == SpecialAction::drop);
  CHECK(special_action("dev/initctl", AE_IFIFO, nullptr, std::nullopt) == SpecialAction::drop);
  CHECK(special_action("dev/log", AE_IFSOCK, nullptr, std::nullopt) == SpecialAction::drop);
  CHECK(special_action("dev/pts/x", AE_IFCHR, nullptr, std::nullopt) == SpecialAction::drop);
  // The directory itself, and what is not special under it, stay.
  CHECK(special_action("dev", AE_IFDIR, nullptr, std::nullopt) == SpecialAction::keep);
  CHECK(special_action("dev/shm", AE_IFDIR, nullptr, std::nullopt) == SpecialAction::keep);
  CHECK(special_action("dev/console", AE_IFREG, nullptr, std::nullopt) == SpecialAction::keep);
  CHECK(special_action("dev/fd", AE_IFLNK, nullptr, std::nullopt) == SpecialAction::keep);
  // Elsewhere: kept.
  CHECK(special_action("srv/fifo", AE_IFIFO, nullptr, std::nullopt) == SpecialAction::keep_special);
  CHECK(special_action("zz-null", AE_IFCHR, nullptr, std::nullopt) == SpecialAction::keep_special);
  CHECK(special_action("etc/passwd", AE_IFREG, nullptr, std::nullopt) == SpecialAction::keep);
}

TEST_CASE("a hard link is judged by its target") {
  // To a kept special file: dropped under dev/, reported elsewhere.
  CHECK(special_action("dev/null", AE_IFREG, "bin/null", line("bin/null", "char")) == SpecialAction::drop);
  CHECK(special_action("srv/null2", AE_IFREG, "srv/null", line("srv/null", "char")) == SpecialAction::keep_special);
  // To a regular file: kept, wherever it is.
  CHECK(special_action("dev/file", AE_IFREG, "bin/file", line("bin/file", "file")) == SpecialAction::keep);
  CHECK(special_action("bin/file", AE_IFREG, "dev/file", line("dev/file", "file")) == SpecialAction::keep);
  // To a special file dropped under dev/ (so not in the artifact): dropped with it under dev/ ...
  CHECK(special_action("dev/full2", AE_IFREG, "dev/full", std::nullopt) == SpecialAction::drop);
  // ... and an error elsewhere, naming both.
  CHECK_THROWS_WITH_AS(special_action("srv/full", AE_IFREG, "dev/full", std::nullopt),
                       doctest::Contains("srv/full is a hard link to dev/full, a special file under dev/"), Error);
  // A target that is neither in the artifact nor under dev/: the caller's broken-link error.
  CHECK(special_action("bin/x", AE_IFREG, "nowhere", std::nullopt) == SpecialAction::keep);
}

TEST_CASE("past dev/ means a leading name that sorts after \"dev\", as the export walks names") {
  CHECK_FALSE(past_dev(""));
  CHECK_FALSE(past_dev(".dockerenv"));
  CHECK_FALSE(past_dev("bin/zz"));
  CHECK_FALSE(past_dev("deploy/x"));  // "deploy" < "dev"
  CHECK_FALSE(past_dev("dev"));
  CHECK_FALSE(past_dev("dev/zz/zz"));
  CHECK(past_dev("dev-x"));  // walked after dev/'s whole subtree, though "dev-x" < "dev/..." byte for byte
  CHECK(past_dev("dev0"));
  CHECK(past_dev("etc"));
  CHECK(past_dev("etc/passwd"));
  CHECK(past_dev("\xe9"));
}

TEST_CASE("the lookahead counts what the copy will drop and hands the whole export on, byte for byte") {
  const std::string big(2 << 20, 'x');
  const std::vector<TarNode> nodes = {
      {".dockerenv", AE_IFREG},
      {"bin/", AE_IFDIR},
      {"bin/busybox", AE_IFREG, "", "#!busybox\n"},
      {"bin/null", AE_IFCHR},                 // kept (outside dev/)
      {"dev/", AE_IFDIR},
      {"dev/console", AE_IFREG},
      {"dev/full", AE_IFCHR},                 // 1
      {"dev/full2", 0, "dev/full"},           // 2: a hard link to a special file under dev/
      {"dev/initctl", AE_IFIFO},              // 3
      {"dev/null", 0, "bin/null"},            // 4: a hard link to a special file elsewhere
      {"dev/pts/", AE_IFDIR},
      {"dev/pts/ptmx", AE_IFCHR},             // 5
      {"dev/shm/", AE_IFDIR},
      {"dev/shm/data", AE_IFREG, "", "data"},
      {"dev/shm/data2", 0, "dev/shm/data"},   // a hard link to a regular file: kept
      {"dev/stdin", AE_IFLNK},
      {"dev-x/", AE_IFDIR},                   // past dev/: where the lookahead stops
      {"dev-x/null", AE_IFCHR},
      {"etc/", AE_IFDIR},
      {"etc/big", AE_IFREG, "", big},
      {"srv/fifo", AE_IFIFO},
  };
  const std::string tar = make_tar(nodes);
  ExportPipe pipe(tar);
  DevLookahead lookahead(pipe.read_end.get());
  CHECK(lookahead.count("app:1") == 5);
  // What it kept: the beginning, not the 2 MiB file past dev/ (one read of at most 256 KiB goes beyond).
  CHECK(lookahead.kept_bytes() > 0);
  CHECK(lookahead.kept_bytes() <= tar.size() - big.size() + (256 << 10));
  const Listed listed = list_from(lookahead);
  std::vector<std::string> names;
  for (const auto& n : nodes) names.push_back(n.path);
  CHECK(listed.names == names);
  CHECK(listed.data.size() == 14 + big.size());
  CHECK((listed.data == "#!busybox\ndata" + big));  // (not decomposed: no 2 MiB in a failure message)
}

TEST_CASE("an export without dev/, or whose dev/ holds no special file, counts none; one that ends early is read whole") {
  for (const auto& nodes : std::vector<std::vector<TarNode>>{
           {{"bin/", AE_IFDIR}, {"etc/", AE_IFDIR}, {"etc/null", AE_IFCHR}},
           {{"dev/", AE_IFDIR}, {"dev/pts/", AE_IFDIR}, {"dev/console", AE_IFREG}, {"etc/", AE_IFDIR}},
           {{"dev", AE_IFLNK}, {"etc/", AE_IFDIR}},
           {{"bin/", AE_IFDIR}, {"bin/fifo", AE_IFIFO}},
       }) {
    const std::string tar = make_tar(nodes);
    ExportPipe pipe(tar);
    DevLookahead lookahead(pipe.read_end.get());
    CHECK(lookahead.count("x") == 0);
    CHECK(list_from(lookahead).names.size() == nodes.size());
  }
  // Nothing past dev/: the lookahead reads to the end, and the copy still gets every entry.
  const std::string tar = make_tar({{"app/", AE_IFDIR}, {"dev/", AE_IFDIR}, {"dev/null", AE_IFCHR}});
  ExportPipe pipe(tar);
  DevLookahead lookahead(pipe.read_end.get());
  CHECK(lookahead.count("x") == 1);
  CHECK(lookahead.kept_bytes() == tar.size());
  CHECK(list_from(lookahead).names == std::vector<std::string>{"app/", "dev/", "dev/null"});
}

TEST_CASE("a damaged export is an error naming what was read") {
  std::string tar = make_tar({{"dev/", AE_IFDIR}, {"dev/shm/data", AE_IFREG, "", std::string(4096, 'd')}});
  tar.resize(1500);  // inside the file's data
  ExportPipe pipe(tar);
  DevLookahead lookahead(pipe.read_end.get());
  CHECK_THROWS_WITH_AS(lookahead.count("app:1"), doctest::Contains("reading dev/shm/data from the export of app:1: "), Error);
}
