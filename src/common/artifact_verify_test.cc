#include "artifact_verify.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>

#include "error.h"
#include "hash.h"
#include "io.h"

using namespace droot;
namespace fs = std::filesystem;

namespace {
struct Fixture {
  Fixture() {
    char tmpl[] = "/tmp/droot-verify-test.XXXXXX";
    dir = ::mkdtemp(tmpl);
    key = minisign::generate_secret_key();
    pub_path = dir + "/k.pub";
    std::string pub = minisign::format_public_key(key.public_part());
    write_all(open_or_throw(pub_path, O_WRONLY | O_CREAT, 0644).get(), pub, pub_path);
  }
  ~Fixture() { fs::remove_all(dir); }
  std::string write_artifact(const std::string& payload, bool tamper_comment = false) {
    auto d = Digest::blake2b512();
    d.update(payload);
    std::string comment = comment_head + " image=t id=x payload_sha256=" + sha256_hex(payload) + " compression=zstd" + comment_tail;
    auto sig = minisign::sign_prehashed(key, d.finish(), comment, "u");
    if (tamper_comment) sig.trusted_comment[0] = 'D';
    std::string path = dir + "/a.tar.zst";
    std::string bytes = payload + make_trailer(Compression::zstd, minisign::format_signature(sig));
    write_all(open_or_throw(path, O_WRONLY | O_CREAT | O_TRUNC, 0644).get(), bytes, path);
    return path;
  }
  std::string dir, pub_path;
  minisign::SecretKey key;
  std::string comment_head = "droot-artifact 1";
  std::string comment_tail;
};
}  // namespace

TEST_CASE("a signed artifact verifies and reports its signer and payload") {
  Fixture fx;
  std::string payload = "\x28\xb5\x2f\xfd fake zstd payload";
  auto art = verify_artifact(fx.write_artifact(payload), VerifyOptions{{fx.pub_path}, {}, false, fx.dir});
  CHECK(art.is_signed);
  CHECK(art.payload_size == payload.size());
  CHECK(art.compression == Compression::zstd);
  CHECK(art.key_id == minisign::key_id_hex(fx.key.key_id));
  CHECK(art.comment_fields.at("image") == "t");
}

TEST_CASE("tampered payload, trusted comment, sidecar or key are refused") {
  Fixture fx;
  std::string path = fx.write_artifact("payload bytes");
  std::string bytes = read_file(path);
  bytes[3] ^= 1;
  write_all(open_or_throw(path, O_WRONLY | O_TRUNC).get(), bytes, path);
  CHECK_THROWS_WITH(verify_artifact(path, VerifyOptions{{fx.pub_path}, {}, false, fx.dir}),
                    doctest::Contains("signature verification failed"));

  path = fx.write_artifact("payload bytes", true);
  CHECK_THROWS_WITH(verify_artifact(path, VerifyOptions{{fx.pub_path}, {}, false, fx.dir}),
                    doctest::Contains("trusted comment"));

  path = fx.write_artifact("payload bytes");
  write_all(open_or_throw(path + ".sha256", O_WRONLY | O_CREAT, 0644).get(), std::string(64, '0') + "  a.tar.zst\n", "s");
  CHECK_THROWS_WITH(verify_artifact(path, VerifyOptions{{fx.pub_path}, {}, false, fx.dir}), doctest::Contains(".sha256"));
  ::unlink((path + ".sha256").c_str());

  auto other = minisign::generate_secret_key();
  std::string other_pub = fx.dir + "/other.pub";
  write_all(open_or_throw(other_pub, O_WRONLY | O_CREAT, 0644).get(), minisign::format_public_key(other.public_part()), "o");
  CHECK_THROWS_WITH(verify_artifact(path, VerifyOptions{{other_pub}, {}, false, fx.dir}),
                    doctest::Contains("not a trusted key"));
}

TEST_CASE("an unsigned artifact needs --insecure-unsigned") {
  Fixture fx;
  std::string path = fx.dir + "/plain.tar";
  write_all(open_or_throw(path, O_WRONLY | O_CREAT, 0644).get(), std::string("tar bytes"), path);
  CHECK_THROWS_WITH(verify_artifact(path, VerifyOptions{{fx.pub_path}, {}, false, fx.dir}), doctest::Contains("not signed"));
  auto art = verify_artifact(path, VerifyOptions{{}, {}, true, fx.dir});
  CHECK_FALSE(art.is_signed);
}

TEST_CASE("the trusted comment splits into fields") {
  auto f = parse_trusted_comment("droot-artifact 1 image=app:1.2 id=sha256:ab payload_sha256=ff compression=zstd");
  CHECK(f.at("image") == "app:1.2");
  CHECK(f.at("id") == "sha256:ab");
  CHECK(f.count("droot-artifact") == 0);
}

TEST_CASE("a delta's trusted comment (droot-artifact 2 ... delta=) verifies and keeps delta= as a field") {
  Fixture fx;
  fx.comment_head = "droot-artifact 2";
  const std::string bases = std::string(64, 'a') + "," + std::string(64, 'b');
  fx.comment_tail = " delta=" + bases;
  std::string payload = "\x28\xb5\x2f\xfd fake delta payload";
  auto art = verify_artifact(fx.write_artifact(payload), VerifyOptions{{fx.pub_path}, {}, false, fx.dir});
  CHECK(art.is_signed);
  CHECK(art.trusted_comment.rfind("droot-artifact 2 image=t ", 0) == 0);
  CHECK(art.comment_fields.at("delta") == bases);
  CHECK(art.comment_fields.at("payload_sha256") == sha256_hex(payload));
  CHECK(art.comment_fields.count("2") == 0);
  auto f = parse_trusted_comment("droot-artifact 2 image=a id=b payload_sha256=ff compression=zstd delta=" + bases);
  CHECK(f.at("delta") == bases);
  CHECK(f.at("compression") == "zstd");
}
