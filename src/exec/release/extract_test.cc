#include "extract.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <filesystem>

#include "../../../tests/hostile/scratch_dir.h"
#include "../../../tests/hostile/test_archive.h"
#include "error.h"
#include "hash.h"
#include "io.h"
#include "object_store.h"

using namespace droot;
using namespace droot::exec;
using droot::testing::Node;

namespace {

// A payload on disk and an empty release root next to it, as deploy has them after verification.
struct Fixture {
  testing::ScratchDir dir;
  std::string payload;
  UniqueFd payload_fd;
  UniqueFd root;

  explicit Fixture(const testing::PayloadSpec& spec) : payload(testing::build_payload(spec)) {
    write_all(open_or_throw(dir / "p.tar.zst", O_WRONLY | O_CREAT, 0644).get(), payload, "payload");
    payload_fd = open_or_throw(dir / "p.tar.zst", O_RDONLY);
    REQUIRE(::mkdir((dir / "root").c_str(), 0700) == 0);
    root = open_or_throw(dir / "root", O_RDONLY | O_DIRECTORY);
  }
  ExtractResult extract(ExtractOptions options = {}) {
    return extract_payload({payload_fd.get(), payload.size(), sha256_hex(payload), "p.tar.zst"}, root.get(), options);
  }
  struct stat lstat_of(const std::string& rel) {
    struct stat st {};
    REQUIRE(::lstat((dir / ("root/" + rel)).c_str(), &st) == 0);
    return st;
  }
  bool exists(const std::string& rel) { return ::access((dir / ("root/" + rel)).c_str(), F_OK) == 0; }
};

testing::PayloadSpec small_tree() {
  testing::PayloadSpec spec;
  Node ping("bin/ping", 'f', 0755, "ping\n");
  ping.xattrs = {{"security.capability", testing::net_raw_capability()}, {"user.other", "x"}};
  spec.rootfs = {{"bin", 'd', 0755},
                 {"bin/su", 'f', 04755, "su\n"},
                 ping,
                 {"etc", 'd', 0755},
                 {"etc/editor", 'l', 0777, "/etc/alternatives/editor"},
                 {"etc/motd", 'f', 0644, "hi\n"},
                 {"etc/motd.hard", 'h', 0644, "etc/motd"},
                 {"ro", 'd', 0555},
                 {"ro/file", 'f', 0444, "read only\n", 1234, 2345},
                 {"tmp", 'd', 01777}};
  return spec;
}

}  // namespace

TEST_CASE("a valid payload extracts with modes, owners, setuid, capabilities, links and times") {
  Fixture fx(small_tree());
  std::vector<std::string> notes;
  ExtractOptions options;
  options.note = [&](const std::string& n) { notes.push_back(n); };
  ExtractResult r = fx.extract(options);
  CHECK(r.entries == 10);
  CHECK(r.files == 5);
  CHECK(r.config_json.find("\"droot_artifact\": 1") != std::string::npos);

  CHECK((fx.lstat_of("bin/su").st_mode & 07777) == 04755);
  CHECK((fx.lstat_of("tmp").st_mode & 07777) == 01777);
  CHECK((fx.lstat_of("ro").st_mode & 07777) == 0555);  // applied after its file was written
  CHECK(fx.lstat_of("ro/file").st_uid == 1234);
  CHECK(fx.lstat_of("ro/file").st_gid == 2345);
  CHECK(fx.lstat_of("etc").st_mtime == testing::kTestMtime);
  CHECK(S_ISLNK(fx.lstat_of("etc/editor").st_mode));
  CHECK(fx.lstat_of("etc/motd.hard").st_ino == fx.lstat_of("etc/motd").st_ino);
  CHECK((fx.lstat_of("").st_mode & 07777) == 0755);
  char cap[64];
  CHECK(::lgetxattr((fx.dir / "root/bin/ping").c_str(), "security.capability", cap, sizeof cap) == 20);
  CHECK(::lgetxattr((fx.dir / "root/bin/ping").c_str(), "user.other", cap, sizeof cap) < 0);
  REQUIRE(notes.size() == 1);
  CHECK(notes[0] == "bin/ping: dropping extended attribute user.other");
  CHECK(fx.exists(".droot/manifest.mtree"));
  CHECK(fx.exists(".droot/config.json"));
  CHECK(fx.exists(".drootenv"));
}

TEST_CASE("a symlink already in the release directory is never written through") {
  testing::ScratchDir victim;
  testing::PayloadSpec spec;
  spec.rootfs = {{"etc", 'd', 0755}, {"etc/passwd", 'f', 0644, "root::0:0::/:/bin/sh\n"}};
  Fixture fx(spec);
  // Planted before extraction starts (a racing local attacker, or a reused directory).
  REQUIRE(::symlink(victim.path().c_str(), (fx.dir / "root/etc").c_str()) == 0);
  CHECK_THROWS_WITH(fx.extract(), doctest::Contains("entry 'etc/': a second entry for the same path: the name already exists"));
  CHECK(::access((victim / "passwd").c_str(), F_OK) != 0);
}

TEST_CASE("a file planted under an entry's name is not opened") {
  testing::PayloadSpec spec;
  spec.rootfs = {{"f", 'f', 0644, "new\n"}};
  Fixture fx(spec);
  write_all(open_or_throw(fx.dir / "root/f", O_WRONLY | O_CREAT, 0600).get(), "old", "f");
  CHECK_THROWS_WITH(fx.extract(), doctest::Contains("entry 'f': a second entry for the same path: the name already exists"));
  CHECK(read_file(fx.dir / "root/f") == "old");
}

TEST_CASE("a payload changed after verification is refused at the end") {
  // Uncompressed, so that the rewritten payload has exactly the same size.
  auto tree = [](const char* su) {
    auto s = small_tree();
    s.compression = Compression::none;
    s.rootfs[1].data = su;
    return s;
  };
  Fixture fx(tree("su\n"));
  std::string verified_sha = sha256_hex(fx.payload);
  // What an in-place rewrite between verification and extraction looks like: the same size, other bytes,
  // and a consistent archive (its manifest matches), so only the re-hash can notice.
  std::string other = testing::build_payload(tree("SU\n"));
  REQUIRE(other.size() == fx.payload.size());
  write_all(open_or_throw(fx.dir / "p.tar.zst", O_WRONLY).get(), other, "payload");
  CHECK_THROWS_WITH(
      extract_payload({fx.payload_fd.get(), fx.payload.size(), verified_sha, "p.tar.zst"}, fx.root.get(), {}),
      doctest::Contains("modified in place"));
}

TEST_CASE("devices and FIFOs only with allow_devices") {
  testing::PayloadSpec spec;
  spec.rootfs = {{"dev", 'd', 0755}, {"dev/fifo", 'p', 0620}, {"dev/null", 'c', 0666, "1:3"}};
  {
    // Under dev/ (an artifact of a droot-pack that did not drop these yet): the error says to re-pack.
    Fixture fx(spec);
    CHECK_THROWS_WITH(fx.extract(), doctest::Contains("entry 'dev/fifo': a FIFO under dev/, where droot-exec run mounts "
                                                      "its own /dev: droot-pack now drops these, so re-pack the image "
                                                      "with it (or deploy with --allow-devices)"));
  }
  for (const char* path : {"srv/null", "devices/null"}) {  // elsewhere, as always
    testing::PayloadSpec other;
    const std::string dir = std::string(path).substr(0, std::string(path).find('/'));
    other.rootfs = {{dir, 'd', 0755}, {path, 'c', 0666, "1:3"}};
    Fixture fx(other);
    const std::string expected = "entry '" + std::string(path) + "': a device node (refused unless deploy is given --allow-devices)";
    CHECK_THROWS_WITH(fx.extract(), doctest::Contains(expected.c_str()));
  }
  Fixture fx(spec);
  ExtractOptions options;
  options.allow_devices = true;
  fx.extract(options);
  CHECK(S_ISFIFO(fx.lstat_of("dev/fifo").st_mode));
  CHECK((fx.lstat_of("dev/fifo").st_mode & 07777) == 0620);
  CHECK(S_ISCHR(fx.lstat_of("dev/null").st_mode));
  CHECK(fx.lstat_of("dev/null").st_rdev == makedev(1, 3));
}

TEST_CASE("a '.' entry does not touch the release root") {
  testing::PayloadSpec spec;
  spec.rootfs = {{".", 'd', 0777, "", 1234, 1234}, {"a", 'd', 0755}};
  Fixture fx(spec);
  fx.extract();
  CHECK((fx.lstat_of("").st_mode & 07777) == 0755);
  CHECK(fx.lstat_of("").st_uid == ::geteuid());
}

TEST_CASE("thousands of directories: their modes, owners and times, spilled past a block, all applied") {
  // 3,000 directories of ~100-byte paths are ~450 KiB of deferred records: more than one 256 KiB block, so
  // part of them is read back from the spool (deferred_dirs.h). Read-only parents hold writable children.
  testing::PayloadSpec spec;
  const std::string pad(80, 'p');
  auto top_of = [](int i) {  // appended: GCC 12 warns falsely (-Wrestrict) on "t" + std::to_string(i)
    std::string t = "t";
    t += std::to_string(i);
    return t;
  };
  auto mode_of = [](int i) { return i % 4 == 0 ? 0555u : (i % 4 == 1 ? 0750u : (i % 4 == 2 ? 01777u : 0700u)); };
  for (int i = 0; i < 100; ++i) {
    const std::string top = top_of(i);
    spec.rootfs.push_back({top, 'd', 0555});
    for (int j = 0; j < 29; ++j) {
      const int k = i * 29 + j;
      spec.rootfs.push_back({top + "/" + pad + std::to_string(j), 'd', mode_of(k), "", 1000u + k, 2000u + k});
    }
  }
  spec.rootfs.push_back({"t99/last", 'f', 0444, "in the last directory\n"});
  Fixture fx(spec);
  fx.extract();
  int wrong = 0;
  for (int i = 0; i < 100; ++i) {
    const std::string top = top_of(i);
    struct stat t = fx.lstat_of(top);
    wrong += (t.st_mode & 07777) != 0555 || t.st_mtime != testing::kTestMtime;
    for (int j = 0; j < 29; ++j) {
      const int k = i * 29 + j;
      struct stat st = fx.lstat_of(top + "/" + pad + std::to_string(j));
      wrong += (st.st_mode & 07777) != mode_of(k) || st.st_uid != 1000u + k || st.st_gid != 2000u + k ||
               st.st_mtime != testing::kTestMtime;
    }
  }
  CHECK(wrong == 0);
  CHECK(read_file(fx.dir / "root/t99/last") == "in the last directory\n");
  // Nothing but the tree and droot's metadata: the spool had no name.
  int others = 0;
  for (const auto& e : std::filesystem::directory_iterator(fx.dir / "root")) {
    const std::string name = e.path().filename();
    others += name != ".droot" && name != ".drootenv" && name[0] != 't';
  }
  CHECK(others == 0);
}

TEST_CASE("the poll callback can abort the extraction") {
  Fixture fx(small_tree());
  ExtractOptions options;
  options.poll = [] { throw Interrupted(15); };
  CHECK_THROWS_AS(fx.extract(options), Interrupted);
}

TEST_CASE("metadata: reserved names, duplicates and missing files are refused") {
  {
    testing::PayloadSpec spec;
    spec.rootfs = {{".droot/extra", 'f', 0644, "x"}};
    Fixture fx(spec);
    CHECK_THROWS_WITH(fx.extract(), doctest::Contains("entry '.droot/extra': the name is reserved"));
  }
  {
    testing::PayloadSpec spec;
    spec.with_manifest = false;
    Fixture fx(spec);
    CHECK_THROWS_WITH(fx.extract(), doctest::Contains("no .droot/manifest.mtree"));
  }
  {
    testing::PayloadSpec spec;
    spec.rootfs = {Node(".drootenv", 'f', 0644, "A=b\n").unlisted()};
    Fixture fx(spec);
    CHECK_THROWS_WITH(fx.extract(), doctest::Contains("entry '.drootenv': a second copy of droot's metadata file"));
  }
}

// Files of several blocks (libarchive hands data over in pieces) are hashed across their blocks: the sha256
// must be the manifest's, and a single different byte in the last block must be noticed.
namespace {
std::string patterned(size_t size, unsigned seed) {
  std::string s(size, '\0');
  for (size_t i = 0; i < size; ++i) s[i] = static_cast<char>((i * 131 + seed * 7 + (i >> 12)) & 0xff);
  return s;
}
}  // namespace

TEST_CASE("large and small files are hashed right across their blocks") {
  testing::PayloadSpec spec;
  spec.rootfs = {{"data", 'd', 0755},
                 {"data/big", 'f', 0644, patterned(3 * 1024 * 1024 + 17, 1)},
                 {"data/edge", 'f', 0644, patterned(256 * 1024, 2)},
                 {"data/below", 'f', 0644, patterned(256 * 1024 - 1, 3)},
                 {"data/small", 'f', 0644, "small\n"}};
  Fixture fx(spec);
  ExtractResult r = fx.extract();
  CHECK(r.bytes == 3 * 1024 * 1024 + 17 + 256 * 1024 + 256 * 1024 - 1 + 6);
  CHECK(read_file(fx.dir / "root/data/big", 8 << 20) == spec.rootfs[1].data);
  CHECK(read_file(fx.dir / "root/data/edge", 8 << 20) == spec.rootfs[2].data);
}

TEST_CASE("one different byte at the end of a large file is caught against the manifest") {
  for (size_t size : {size_t{256 * 1024 - 1}, size_t{2 * 1024 * 1024 + 5}}) {
    CAPTURE(size);
    testing::PayloadSpec spec;
    std::string content = patterned(size, 4);
    std::string claimed = content;
    claimed.back() = static_cast<char>(claimed.back() ^ 1);
    testing::Node big("big", 'f', 0644, content);
    big.manifest_data = claimed;
    spec.rootfs = {big};
    Fixture fx(spec);
    CHECK_THROWS_WITH(fx.extract(), doctest::Contains("'big': content differs"));
  }
}

namespace {

// A deploy's extraction: regular files go through DEST/objects (small ones on the writer's background
// threads). The store sits beside the release root, as DEST/objects does.
struct StoreFixture : Fixture {
  UniqueFd dest;
  std::unique_ptr<ObjectStore> store;
  explicit StoreFixture(const testing::PayloadSpec& spec) : Fixture(spec) {
    dest = open_or_throw(dir.path(), O_RDONLY | O_DIRECTORY);
    store = std::make_unique<ObjectStore>(dest.get(), dir.path(), true);
    store->begin_deploy();
  }
  ExtractResult extract_stored() {
    ExtractOptions options;
    options.objects = store.get();
    return extract(options);
  }
};

}  // namespace

TEST_CASE("stored in the background: thousands of small files, duplicates sharing one object, links to them") {
  testing::PayloadSpec spec;
  spec.rootfs.push_back({"d", 'd', 0755});
  // More files than the queue holds (it blocks and drains), every tenth with the same content and attributes.
  uint64_t unique_bytes = 5;  // "same\n" once
  for (int i = 0; i < 3000; ++i) {
    std::string content = i % 10 == 0 ? std::string("same\n") : "file " + std::to_string(i) + "\n";
    if (i % 10 != 0) unique_bytes += content.size();
    spec.rootfs.push_back({"d/f" + std::to_string(i), 'f', 0644, content});
  }
  spec.rootfs.push_back({"d/f1.hard", 'h', 0644, "d/f1"});  // right after its target: the writer settles first
  spec.rootfs.push_back({"ro", 'd', 0555});
  spec.rootfs.push_back({"ro/x", 'f', 0444, "in a read-only directory\n"});
  StoreFixture fx(spec);
  // A deploy's descriptors stay bounded whatever the number of files: files waiting for their object name
  // hold only their (shared) directory, with the store's 256 fan-out directories and the test's own few (a
  // slow thread, under a sanitizer, fills the queues).
  rlimit saved{};
  REQUIRE(::getrlimit(RLIMIT_NOFILE, &saved) == 0);
  rlimit low = saved;
  low.rlim_cur = 448;
  REQUIRE(::setrlimit(RLIMIT_NOFILE, &low) == 0);
  ExtractResult r;
  try {
    r = fx.extract_stored();
  } catch (...) {
    ::setrlimit(RLIMIT_NOFILE, &saved);
    throw;
  }
  ::setrlimit(RLIMIT_NOFILE, &saved);
  CHECK(r.files == 3002);
  CHECK(r.stored_files == 2700 + 1 + 1);  // the 300 "same" files are one object
  CHECK(r.stored_bytes == unique_bytes + 25);
  CHECK(read_file(fx.dir / "root/d/f7") == "file 7\n");
  CHECK(read_file(fx.dir / "root/ro/x") == "in a read-only directory\n");
  struct stat a = fx.lstat_of("d/f0"), b = fx.lstat_of("d/f2990"), h = fx.lstat_of("d/f1.hard"), one = fx.lstat_of("d/f1");
  CHECK(a.st_ino == b.st_ino);
  CHECK(a.st_nlink == 300 + 1);  // 300 names in the release, one in the store
  CHECK(h.st_ino == one.st_ino);
  CHECK(one.st_nlink == 3);
  CHECK((one.st_mode & 07777) == 0644);
  CHECK(one.st_mtime == fx.lstat_of("d/f2").st_mtime);
  CHECK((fx.lstat_of("ro").st_mode & 07777) == 0555);  // modes of directories come after every file is in
  CHECK(fx.store->totals().objects == 2702);
}

TEST_CASE("stored in the background: a failure names its own entry, however far the loop has gone") {
  testing::PayloadSpec spec;
  for (int i = 0; i < 50; ++i) spec.rootfs.push_back({"e" + std::to_string(i), 'f', 0644, "x" + std::to_string(i)});
  StoreFixture fx(spec);
  REQUIRE(::mkdir((fx.dir / "root/e7").c_str(), 0700) == 0);  // a directory under a small file's name
  CHECK_THROWS_WITH(fx.extract_stored(), doctest::Contains("p.tar.zst: entry 'e7': a second entry for the same path"));
  CHECK(fx.store->totals().objects < 50);
}
