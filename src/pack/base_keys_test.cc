#include "base_keys.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "archive_ptr.h"
#include "artifact_writer.h"
#include "error.h"
#include "hash.h"
#include "io.h"
#include "minisign.h"

using namespace droot;
using namespace droot::pack;
namespace fs = std::filesystem;

namespace {

constexpr int64_t kTime = 1700000000;

ManifestEntry keyed(const std::string& path, const std::string& content, uint32_t mode = 0644, uint64_t uid = 0,
                    int64_t mtime = kTime) {
  ManifestEntry e{path, "file", mode, uid, uid, content.size(), "", sha256_hex(content)};
  e.time = MtreeTime{mtime, 0};
  return e;
}

struct BaseSpec {
  Compression compression = Compression::zstd;
  bool sign = true;
  std::string signed_sha256;   // the trusted comment's payload_sha256 (default: the real one)
  std::string delta_mtree;     // a .droot/delta.mtree entry, when not empty
  bool first_not_config = false;
};

struct Fixture {
  Fixture() {
    char tmpl[] = "/tmp/droot-base-keys-test.XXXXXX";
    dir = ::mkdtemp(tmpl);
  }
  ~Fixture() { fs::remove_all(dir); }

  // Writes an artifact as droot-pack lays it out; returns its payload's sha256.
  std::string write(const std::string& name, const BaseSpec& spec = {}) {
    const std::string path = dir + "/" + name;
    UniqueFd fd = open_or_throw(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ArtifactWriter w(fd.get(), path, CompressionOptions{spec.compression, -1, 1});
    if (spec.first_not_config) w.add_text_file("etc/first", "x", kTime);
    ImageInfo image{"app:1", "sha256:one", {}, "2023-11-14T22:13:20Z", "linux", "amd64"};
    w.add_text_file(".droot/config.json", make_config_json(image, nlohmann::json::object(), kTime, "test"), kTime);
    w.add_text_file(".drootenv", "A=1\n", kTime);
    add(w, "etc", AE_IFDIR, 0755, 0, kTime, "");
    add(w, "etc/motd", AE_IFREG, 0644, 0, kTime, "hello\n");
    add(w, "bin/app", AE_IFREG, 04755, 1000, kTime - 5, std::string(300000, 'z'));
    add(w, "etc/empty", AE_IFREG, 0600, 0, kTime, "");
    add(w, "bin/cap", AE_IFREG, 0755, 0, kTime, "capable", true);
    ArchiveEntry link(archive_entry_new());
    archive_entry_set_pathname(link.get(), "bin/app-again");
    archive_entry_set_hardlink(link.get(), "bin/app");
    archive_entry_set_filetype(link.get(), AE_IFREG);
    archive_entry_set_perm(link.get(), 04755);
    archive_entry_set_uid(link.get(), 1000);
    archive_entry_set_gid(link.get(), 1000);
    archive_entry_set_mtime(link.get(), kTime - 5, 0);
    w.write_header(link.get());
    if (!spec.delta_mtree.empty()) w.add_text_file(".droot/delta.mtree", spec.delta_mtree, kTime);
    w.add_text_file(".droot/manifest.mtree", "#mtree\n", kTime);
    PayloadDigests d = w.finish_payload();
    if (spec.sign && spec.compression != Compression::none) {
      auto comment = "droot-artifact 1 image=app:1 id=sha256:one payload_sha256=" +
                     (spec.signed_sha256.empty() ? d.sha256 : spec.signed_sha256) + " compression=zstd";
      auto sig = minisign::sign_prehashed(key, d.blake2b512, comment, "u");
      w.append_raw(make_trailer(spec.compression, minisign::format_signature(sig)));
    }
    return d.sha256;
  }

  static void add(ArtifactWriter& w, const std::string& path, unsigned type, unsigned mode, int64_t uid, int64_t mtime,
                  const std::string& content, bool xattr = false) {
    ArchiveEntry e(archive_entry_new());
    archive_entry_set_pathname(e.get(), path.c_str());
    archive_entry_set_filetype(e.get(), type);
    archive_entry_set_perm(e.get(), mode);
    archive_entry_set_uid(e.get(), uid);
    archive_entry_set_gid(e.get(), uid);
    archive_entry_set_mtime(e.get(), mtime, 0);
    if (type == AE_IFREG) archive_entry_set_size(e.get(), static_cast<la_int64_t>(content.size()));
    if (xattr) archive_entry_xattr_add_entry(e.get(), "security.capability", "\x01\x00\x00\x02", 4);
    w.write_header(e.get());
    if (!content.empty()) w.write_data(content.data(), content.size());
    if (type == AE_IFREG) w.content_written(sha256_hex(content));
  }

  std::string path(const std::string& name) const { return dir + "/" + name; }
  std::string dir;
  minisign::SecretKey key = minisign::generate_secret_key();
};

}  // namespace

TEST_CASE("a base's regular files become keys; hard links add nothing, files with xattrs never count") {
  for (Compression c : {Compression::zstd, Compression::gzip, Compression::none}) {
    Fixture fx;
    BaseSpec spec;
    spec.compression = c;
    const std::string payload_sha256 = fx.write("base", spec);
    ObjectKeySet keys;
    BaseArtifact base = read_base_keys(fx.path("base"), keys);
    keys.seal();
    CHECK(base.path == fx.path("base"));
    CHECK(base.base.image == "app:1");
    CHECK(base.base.id == "sha256:one");
    CHECK(base.base.payload_sha256 == payload_sha256);
    CHECK(base.keys == 3);
    CHECK(keys.size() == 3);
    CHECK(keys.contains(object_key(keyed("etc/motd", "hello\n"))));
    CHECK(keys.contains(object_key(keyed("anywhere/else", "hello\n"))));  // the path is not part of the key
    CHECK(keys.contains(object_key(keyed("bin/app", std::string(300000, 'z'), 04755, 1000, kTime - 5))));
    CHECK(keys.contains(object_key(keyed("etc/empty", "", 0600))));
    CHECK_FALSE(keys.contains(object_key(keyed("bin/cap", "capable", 0755))));  // it has an xattr
    CHECK_FALSE(keys.contains(object_key(keyed("etc/motd", "hello\n", 0600))));  // another mode
    CHECK_FALSE(keys.contains(object_key(keyed("etc/motd", "hello\n", 0644, 0, kTime - 1))));  // another mtime
    CHECK_FALSE(keys.contains(object_key(keyed(".drootenv", "A=1\n"))));  // droot's metadata is not a file of the tree
  }
}

TEST_CASE("a base that is itself a delta contributes the files it left out, from its delta.mtree") {
  Fixture fx;
  BaseSpec spec;
  const ManifestEntry old = keyed("usr/lib/big.so", "from an older base", 0755);
  spec.delta_mtree = manifest_header() + format_manifest_line(old) + format_manifest_line(keyed("usr/lib/other", "x"));
  fx.write("delta-base", spec);
  ObjectKeySet keys;
  BaseArtifact base = read_base_keys(fx.path("delta-base"), keys);
  keys.seal();
  CHECK(base.keys == 5);
  CHECK(keys.contains(object_key(old)));
  CHECK(keys.contains(object_key(keyed("etc/motd", "hello\n"))));

  spec.delta_mtree = manifest_header() + "./usr/lib/x type=file mode=0644 uid=0 gid=0 size=1 sha256digest=" + std::string(64, 'a') + "\n";
  fx.write("bad-delta", spec);
  CHECK_THROWS_WITH(read_base_keys(fx.path("bad-delta"), keys), doctest::Contains("not a regular file with a time"));
}

TEST_CASE("bases that are not artifacts, truncated or altered are refused, naming the file and the problem") {
  Fixture fx;
  ObjectKeySet keys;
  CHECK_THROWS_WITH(read_base_keys(fx.path("missing"), keys), doctest::Contains(fx.path("missing").c_str()));
  write_all(open_or_throw(fx.path("empty"), O_WRONLY | O_CREAT, 0644).get(), "", "empty");
  CHECK_THROWS_WITH(read_base_keys(fx.path("empty"), keys), doctest::Contains("empty file, not a droot artifact"));
  write_all(open_or_throw(fx.path("text"), O_WRONLY | O_CREAT, 0644).get(), std::string(4000, 'x'), "text");
  CHECK_THROWS_WITH(read_base_keys(fx.path("text"), keys), doctest::Contains((fx.path("text") + ": not a droot artifact").c_str()));
  BaseSpec not_config;
  not_config.first_not_config = true;
  fx.write("tar", not_config);
  CHECK_THROWS_WITH(read_base_keys(fx.path("tar"), keys), doctest::Contains("its first entry is 'etc/first'"));

  // Truncated: signed (trailer lost with the end) and unsigned.
  for (bool sign : {true, false}) {
    BaseSpec spec;
    spec.sign = sign;
    fx.write("whole", spec);
    std::string bytes = read_file(fx.path("whole"), 1 << 24);
    for (size_t keep : {bytes.size() / 2, bytes.size() - 40}) {
      write_all(open_or_throw(fx.path("cut"), O_WRONLY | O_CREAT | O_TRUNC, 0644).get(), bytes.substr(0, keep), "cut");
      CAPTURE(keep);
      CHECK_THROWS_WITH(read_base_keys(fx.path("cut"), keys), doctest::Contains((fx.path("cut") + ": ").c_str()));
    }
  }
  BaseSpec wrong;
  wrong.signed_sha256 = std::string(64, '0');
  fx.write("altered", wrong);
  CHECK_THROWS_WITH(read_base_keys(fx.path("altered"), keys), doctest::Contains("checksum mismatch"));

  fx.write("sidecar");
  write_all(open_or_throw(fx.path("sidecar.sha256"), O_WRONLY | O_CREAT, 0644).get(), std::string(64, 'f') + "  sidecar\n", "s");
  CHECK_THROWS_WITH(read_base_keys(fx.path("sidecar"), keys), doctest::Contains("sidecar.sha256 says ffff"));
  Digest whole = Digest::sha256();
  whole.update(read_file(fx.path("sidecar"), 1 << 24));
  write_all(open_or_throw(fx.path("sidecar.sha256"), O_WRONLY | O_TRUNC).get(), to_hex(whole.finish()) + "  sidecar\n", "s");
  CHECK_NOTHROW(read_base_keys(fx.path("sidecar"), keys));
}
