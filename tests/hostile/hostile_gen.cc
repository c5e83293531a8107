// droot-hostile-gen CASE OUTDIR [ARG]: builds one artifact from scratch with libarchive and signs it through
// the real code path (src/common minisign + trailer), with the test key OUTDIR/test.sec (made on first use;
// OUTDIR/test.pub is the key to trust). Writes OUTDIR/CASE.tar.zst and prints its path.
//
// "valid" (ARG: a variant string stored in srv/version, so two variants are two different releases) is what
// droot-pack would produce: config.json, .drootenv, a small rootfs, the manifest last. Every other case is
// "valid" with one thing wrong; `droot-hostile-gen --list` prints them. tests/integration/hostile_test.sh
// asserts what droot-exec says about each.
#include <fcntl.h>
#include <sys/stat.h>
#include <zstd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include "archive_ptr.h"
#include "error.h"
#include "frame_index.h"
#include "hash.h"
#include "io.h"
#include "minisign.h"
#include "mtree.h"
#include "test_archive.h"
#include "trailer.h"

namespace {

using namespace droot;

using testing::Node;

struct Spec : testing::PayloadSpec {
  // Post-processing of the signed bytes.
  enum class Sign { trailer, none, wrong_key, key_id_mismatch } sign = Sign::trailer;
  std::function<void(std::string& payload, std::string& minisig)> tamper;
  std::function<void(std::string& artifact)> tamper_file;
  // A frame index at the end of the zstd payload (droot-artifact(5), "Frame index"), before it is signed:
  // `index_off_by` bytes more compressed bytes than the payload has (0: the true index of its one frame).
  std::optional<int> frame_index;
  // A payload cut into zstd frames with srv/big's content (64 KiB, the same in every variant) in a content
  // frame of its own, as droot-pack does for large files, keyed in the frame index. lies_content ships other
  // bytes under the key of the usual ones; lies_header gives srv/big mode 0600 under the key of mode 0644.
  enum class Framed { no, yes, lies_content, lies_header } framed = Framed::no;
};

std::string noise(size_t size);

// The tar `tar` (uncompressed) as three zstd frames — up to srv/big's header, its content, the rest — and
// the frame index, srv/big keyed by `key_sha256` and `key_mode` (and its header's size, owner and mtime).
std::string framed_payload(const std::string& tar, const std::string& key_sha256, uint32_t key_mode) {
  ArchiveReader r(archive_read_new());
  archive_read_support_format_tar(r.get());
  if (archive_read_open_memory(r.get(), tar.data(), tar.size()) != ARCHIVE_OK) throw Error("cannot read the tar back");
  archive_entry* e = nullptr;
  uint64_t before = 0, total = 0, data_start = 0;
  ContentKey key;
  while (archive_read_next_header(r.get(), &e) == ARCHIVE_OK) {
    ++total;
    if (data_start != 0) continue;
    ++before;
    if (std::string(archive_entry_pathname(e)) != "srv/big") continue;
    data_start = static_cast<uint64_t>(archive_filter_bytes(r.get(), 0));  // the header consumed: its data
    key = ContentKey{static_cast<uint64_t>(archive_entry_size(e)), key_sha256, key_mode,
                     static_cast<uint64_t>(archive_entry_uid(e)), static_cast<uint64_t>(archive_entry_gid(e)),
                     static_cast<int64_t>(archive_entry_mtime(e)), static_cast<uint32_t>(archive_entry_mtime_nsec(e))};
  }
  if (data_start == 0) throw Error("no srv/big in the tar");
  const uint64_t content_end = data_start + (key.size + 511) / 512 * 512;
  auto frame = [](std::string_view bytes) {
    ZSTD_CCtx* c = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1);
    std::string out(ZSTD_compressBound(bytes.size()), '\0');
    const size_t n = ZSTD_compress2(c, out.data(), out.size(), bytes.data(), bytes.size());
    ZSTD_freeCCtx(c);
    if (ZSTD_isError(n)) throw Error("zstd failed");
    out.resize(n);
    return out;
  };
  const std::string_view all(tar);
  const std::string parts[3] = {frame(all.substr(0, data_start)), frame(all.substr(data_start, content_end - data_start)),
                                frame(all.substr(content_end))};
  std::vector<FrameInfo> frames(3);
  frames[0] = FrameInfo{parts[0].size(), data_start, before, std::nullopt};
  frames[1] = FrameInfo{parts[1].size(), content_end - data_start, 0, key};
  frames[2] = FrameInfo{parts[2].size(), tar.size() - content_end, total - before, std::nullopt};
  return parts[0] + parts[1] + parts[2] + make_frame_index(frames);
}

// The tar bytes and entries of a zstd payload of one frame, read back with libarchive.
FrameInfo one_frame_of(const std::string& payload) {
  FrameInfo f{payload.size(), 0, 0, std::nullopt};
  for (bool raw : {true, false}) {
    ArchiveReader r(archive_read_new());
    archive_read_support_filter_zstd(r.get());
    if (raw) archive_read_support_format_raw(r.get());
    else archive_read_support_format_tar(r.get());
    if (archive_read_open_memory(r.get(), payload.data(), payload.size()) != ARCHIVE_OK)
      throw Error("cannot read the payload back: " + archive_error(r.get()));
    archive_entry* e = nullptr;
    while (archive_read_next_header(r.get(), &e) == ARCHIVE_OK) {
      if (!raw) {
        ++f.entries;
        continue;
      }
      char buf[65536];
      la_ssize_t n;
      while ((n = archive_read_data(r.get(), buf, sizeof buf)) > 0) f.tar_bytes += static_cast<uint64_t>(n);
    }
  }
  return f;
}

std::vector<Node> valid_rootfs(const std::string& variant) {
  Node ping("bin/ping", 'f', 0755, "not really ping\n");
  ping.xattrs = {{"security.capability", testing::net_raw_capability()}, {"user.dropped", "x"}};
  return {
      {"bin", 'd', 0755},
      {"bin/hello", 'f', 0755, "#!/bin/sh\necho hello from droot\n"},
      ping,
      {"bin/su", 'f', 04755, "setuid\n"},
      {"etc", 'd', 0755},
      {"etc/alternatives", 'd', 0755},
      {"etc/alternatives/editor", 'l', 0777, "/bin/hello"},
      {"etc/editor", 'l', 0777, "/etc/alternatives/editor"},
      {"etc/motd", 'f', 0644, "welcome\n"},
      {"etc/motd.hard", 'h', 0644, "etc/motd"},
      {"etc/passwd", 'f', 0644, "root:x:0:0:root:/root:/bin/sh\napp:x:1234:2345::/home/app:/bin/sh\n"},
      {"etc/shadow", 'f', 0640, "root:*:19000::::::\n", 0, 42},
      {"home", 'd', 0755},
      {"home/app", 'd', 0750, "", 1234, 2345},
      {"home/app/a file with spaces", 'f', 0600, "", 1234, 2345},
      {"srv", 'd', 0755},
      {"srv/version", 'f', 0644, variant + "\n"},
      {"tmp", 'd', 01777},
  };
}

Spec valid_spec(const std::string& variant) {
  Spec s;
  s.rootfs = valid_rootfs(variant);
  return s;
}

void insert_after(Spec& s, const std::string& path, std::vector<Node> nodes) {
  for (size_t i = 0; i < s.rootfs.size(); ++i)
    if (s.rootfs[i].path == path) {
      s.rootfs.insert(s.rootfs.begin() + static_cast<long>(i) + 1, nodes.begin(), nodes.end());
      return;
    }
  throw Error("no node " + path);
}

Node& node(Spec& s, const std::string& path) {
  for (auto& n : s.rootfs)
    if (n.path == path) return n;
  throw Error("no node " + path);
}

// Changes one character after `marker` into another one of the same alphabet (base64 stays base64), so
// the damage reaches the signature check instead of stopping at the parser.
void flip_in(std::string& text, const std::string& marker, size_t skip) {
  size_t at = text.find(marker);
  if (at == std::string::npos) throw Error("marker not found: " + marker);
  char& c = text[at + marker.size() + skip];
  c = c == 'A' ? 'B' : 'A';
}

// A delta of "valid": the files identical in every variant are taken from the base.
void make_delta(Spec& s) {
  s.bases.push_back({"test:1", "sha256:" + sha256_hex("test:1"), std::string(64, 'a')});
  s.omitted = {"bin/hello", "bin/su", "etc/passwd", "etc/shadow"};
}

std::map<std::string, std::function<void(Spec&)>> cases() {
  std::map<std::string, std::function<void(Spec&)>> c;
  c["valid"] = [](Spec&) {};
  c["valid-gzip"] = [](Spec& s) { s.compression = Compression::gzip; };
  // With a frame index, as droot-pack writes one (a payload of one frame: the index is what is tested).
  c["frame-index"] = [](Spec& s) { s.frame_index = 0; };
  // Frames and a content frame (srv/big) as droot-pack writes them; ARG as for valid.
  c["framed"] = [](Spec& s) { s.framed = Spec::Framed::yes; };
  // srv/big's content frame keyed as the usual content, shipping other bytes.
  c["framed-lies-content"] = [](Spec& s) { s.framed = Spec::Framed::lies_content; };
  // srv/big's header says mode 0600, its content frame's key 0644.
  c["framed-lies-header"] = [](Spec& s) { s.framed = Spec::Framed::lies_header; };
  // A frame index that says the frame is one byte longer than it is.
  c["bad-frame-index"] = [](Spec& s) { s.frame_index = 1; };
  // An image created a year before "valid" (the no-silent-downgrade test).
  c["older"] = [](Spec& s) { s.created = "2022-11-14T22:13:20Z"; };
  // Deltas against "valid" (any variant): the files every variant shares are not shipped. ARG as for valid.
  c["delta"] = [](Spec& s) { make_delta(s); };
  // ... and one that also takes a file no "valid" variant has: DEST cannot provide it.
  c["delta-missing-base"] = [](Spec& s) {
    make_delta(s);
    s.delta_extra_lines.push_back("./zz-nowhere type=file mode=0644 uid=0 gid=0 size=8 time=1700000000.000000000 sha256digest=" +
                                  sha256_hex("nowhere\n") + "\n");
    s.extra_manifest_lines.push_back("./zz-nowhere type=file mode=0644 uid=0 gid=0 size=8 sha256digest=" +
                                     sha256_hex("nowhere\n") + "\n");
  };
  // Lists etc/passwd as taken from the base and also ships an etc/passwd of other content.
  c["delta-ships-listed"] = [](Spec& s) {
    make_delta(s);
    insert_after(s, "etc/passwd", {Node("etc/passwd", 'f', 0644, "root::0:0::/:/bin/sh\nevil::0:0::/:/bin/sh\n").unlisted()});
  };
  // A .droot/delta.mtree in an artifact whose config.json says it is a full one.
  c["delta-unannounced"] = [](Spec& s) {
    make_delta(s);
    s.bases.clear();
    s.after_manifest.clear();
    s.rootfs.push_back(Node(".droot/delta.mtree", 'f', 0644, "").unlisted());
  };
  c["delta-wrong-key"] = [](Spec& s) {
    make_delta(s);
    s.sign = Spec::Sign::wrong_key;
  };
  // ARG = size in MiB of an incompressible file: for the disk-full test.
  c["big"] = [](Spec&) {};
  c["unsigned"] = [](Spec& s) { s.sign = Spec::Sign::none; };
  c["dotdot"] = [](Spec& s) { s.rootfs.push_back({"../escape", 'f', 0644, "escaped\n"}); };
  c["dotdot-inner"] = [](Spec& s) { insert_after(s, "bin/su", {{"bin/../../escape", 'f', 0644, "escaped\n"}}); };
  c["absolute"] = [](Spec& s) { s.rootfs.push_back({"/tmp/droot-hostile-absolute", 'f', 0644, "escaped\n"}); };
  // A symlink to a directory outside, then a file "inside" it.
  c["symlink-dir-write"] = [](Spec& s) {
    s.rootfs.push_back({"evil", 'l', 0777, "/tmp/droot-hostile-victim"});
    s.rootfs.push_back({"evil/pwned", 'f', 0644, "written through a symlink\n"});
  };
  // Even a symlink that stays inside the tree is never written through.
  c["symlink-inner-write"] = [](Spec& s) {
    insert_after(s, "etc/shadow", {{"etc/lib", 'l', 0777, "../srv"}, {"etc/lib/x", 'f', 0644, "through\n"}});
  };
  // A symlink to a file, then a regular file of the same name (tar would open the link's target).
  c["symlink-file-write"] = [](Spec& s) {
    s.rootfs.push_back({"zz", 'l', 0777, "/tmp/droot-hostile-victim/file"});
    s.rootfs.push_back(Node("zz", 'f', 0644, "written through a symlink\n").unlisted());
  };
  // droot's own metadata directory as a symlink, placed before the metadata files land in it.
  c["metadata-symlink"] = [](Spec& s) { s.rootfs.insert(s.rootfs.begin(), {".droot", 'l', 0777, "/tmp"}); };
  c["hardlink-outside"] = [](Spec& s) { s.rootfs.push_back({"zz-shadow", 'h', 0640, "/etc/shadow"}); };
  c["hardlink-dotdot"] = [](Spec& s) { s.rootfs.push_back({"zz-shadow", 'h', 0640, "../../../../etc/shadow"}); };
  c["hardlink-later"] = [](Spec& s) {
    insert_after(s, "bin/hello", {{"bin/early", 'h', 0644, "srv/version"}});
  };
  c["hardlink-symlink"] = [](Spec& s) { insert_after(s, "etc/editor", {{"etc/editor.hard", 'h', 0777, "etc/editor"}}); };
  c["device-char"] = [](Spec& s) { s.rootfs.push_back({"zz-null", 'c', 0666, "1:3"}); };
  c["device-block"] = [](Spec& s) { s.rootfs.push_back({"zz-sda", 'b', 0660, "8:0"}); };
  c["fifo"] = [](Spec& s) { s.rootfs.push_back({"zz-fifo", 'p', 0644}); };
  // What droot-pack wrote for a debootstrapped image before it dropped the special files under dev/.
  c["device-under-dev"] = [](Spec& s) {
    insert_after(s, "bin/su", {{"dev", 'd', 0755}, {"dev/full", 'c', 0666, "1:7"}, {"dev/initctl", 'p', 0600}});
  };
  c["duplicate-file"] = [](Spec& s) {
    insert_after(s, "etc/passwd", {Node("etc/passwd", 'f', 0644, "root::0:0::/:/bin/sh\n").unlisted()});
  };
  c["duplicate-dir"] = [](Spec& s) { s.rootfs.push_back(Node("etc", 'd', 0777).unlisted()); };
  c["content-differs"] = [](Spec& s) { node(s, "etc/passwd").manifest_data = "root:x:0:0:root:/root:/bin/bash\n"; };
  c["not-in-manifest"] = [](Spec& s) { s.rootfs.push_back(Node("zz-extra", 'f', 0644, "unlisted\n").unlisted()); };
  c["missing-from-archive"] = [](Spec& s) {
    s.extra_manifest_lines.push_back(format_manifest_line({"zz-missing", "file", 0644, 0, 0, 3, "", sha256_hex("hi\n")}));
  };
  c["mode-differs"] = [](Spec& s) { node(s, "bin/su").manifest_mode = 0755; };
  c["no-manifest"] = [](Spec& s) { s.with_manifest = false; };
  c["after-manifest"] = [](Spec& s) { s.after_manifest.push_back({"zz-late", 'f', 0644, "late\n"}); };
  c["dot-entry"] = [](Spec& s) { s.rootfs.insert(s.rootfs.begin(), {".", 'd', 0777}); };
  c["flip-payload"] = [](Spec& s) { s.tamper_file = [](std::string& a) { a[a.size() / 3] ^= 0x01; }; };
  c["flip-trailer"] = [](Spec& s) {
    // The second line of the minisig is the signature over the payload's BLAKE2b-512.
    s.tamper = [](std::string&, std::string& sig) { flip_in(sig, "\n", 20); };
  };
  c["flip-comment"] = [](Spec& s) {
    s.tamper = [](std::string&, std::string& sig) { flip_in(sig, "\ntrusted comment: ", 3); };
  };
  c["wrong-key"] = [](Spec& s) { s.sign = Spec::Sign::wrong_key; };
  c["keyid-mismatch"] = [](Spec& s) { s.sign = Spec::Sign::key_id_mismatch; };
  c["truncated"] = [](Spec& s) { s.tamper_file = [](std::string& a) { a.resize(a.size() / 2); }; };
  c["truncated-tail"] = [](Spec& s) { s.tamper_file = [](std::string& a) { a.resize(a.size() - 7); }; };
  // The bare payload, for signing with Debian's minisign in the test.
  c["payload-only"] = [](Spec& s) { s.sign = Spec::Sign::none; };
  return c;
}

// Pseudo-random, incompressible, reproducible.
std::string noise(size_t size) {
  std::string out(size, '\0');
  uint64_t x = 0x9E3779B97F4A7C15ull;
  for (size_t i = 0; i < size; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    out[i] = static_cast<char>(x);
  }
  return out;
}

struct Keys {
  minisign::SecretKey trusted;
  minisign::SecretKey other;
};

minisign::SecretKey key_in(const std::string& dir, const std::string& name) {
  const std::string sec = dir + "/" + name + ".sec";
  if (::access(sec.c_str(), F_OK) == 0)
    return minisign::load_secret_key(sec, [] () -> std::string { throw Error("test keys have no password"); });
  minisign::SecretKey key = minisign::generate_secret_key();
  TempFile s(sec, 0600);
  write_all(s.fd(), minisign::format_secret_key(key, std::nullopt), sec);
  s.commit();
  TempFile p(dir + "/" + name + ".pub");
  write_all(p.fd(), minisign::format_public_key(key.public_part()), p.path());
  p.commit();
  return key;
}

std::string build(const std::string& name, Spec& spec, const std::string& arg, const Keys& keys) {
  spec.image_ref = "hostile:" + name;
  if (name == "big") spec.rootfs.push_back({"srv/big", 'f', 0644, noise(std::stoul(arg.empty() ? "8" : arg) << 20)});
  std::string payload;
  if (spec.framed != Spec::Framed::no) {
    const std::string big = noise(64 << 10);
    std::string shipped = big;
    if (spec.framed == Spec::Framed::lies_content) std::reverse(shipped.begin(), shipped.end());
    spec.rootfs.push_back({"srv/big", 'f', spec.framed == Spec::Framed::lies_header ? 0600u : 0644u, shipped});
    Spec plain = spec;
    plain.compression = Compression::none;
    payload = framed_payload(testing::build_payload(plain), sha256_hex(big), 0644);
  } else {
    payload = testing::build_payload(spec);
  }
  if (spec.frame_index) {
    FrameInfo f = one_frame_of(payload);
    f.compressed += static_cast<uint64_t>(*spec.frame_index);
    payload += make_frame_index({f});
  }
  if (spec.sign == Spec::Sign::none) return payload;

  Digest blake = Digest::blake2b512();
  blake.update(payload);
  std::string comment = std::string(spec.bases.empty() ? "droot-artifact 1" : "droot-artifact 2") +
                        " image=" + spec.image_ref + " id=sha256:" + sha256_hex(spec.image_ref) +
                        " payload_sha256=" + sha256_hex(payload) + " compression=" + compression_name(spec.compression);
  if (!spec.bases.empty()) comment += " delta=" + spec.bases.front().payload_sha256;
  const minisign::SecretKey& key = spec.sign == Spec::Sign::trailer ? keys.trusted : keys.other;
  minisign::Signature sig = minisign::sign_prehashed(key, blake.finish(), comment, "signature from droot-hostile-gen");
  // Claims the trusted key's id for a signature made with another key.
  if (spec.sign == Spec::Sign::key_id_mismatch) sig.key_id = keys.trusted.key_id;
  std::string minisig = minisign::format_signature(sig);
  if (spec.tamper) spec.tamper(payload, minisig);
  std::string artifact = payload + make_trailer(spec.compression, minisig);
  if (spec.tamper_file) spec.tamper_file(artifact);
  return artifact;
}

int usage() {
  std::fputs("usage: droot-hostile-gen CASE OUTDIR [ARG] | --list\n", stderr);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    auto all = cases();
    if (argc == 2 && std::strcmp(argv[1], "--list") == 0) {
      for (const auto& [name, _] : all) std::printf("%s\n", name.c_str());
      return 0;
    }
    if (argc < 3 || argc > 4 || !all.count(argv[1])) return usage();
    const std::string name = argv[1], dir = argv[2], arg = argc == 4 ? argv[3] : "";
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) throw_errno("cannot create " + dir);
    Keys keys{key_in(dir, "test"), key_in(dir, "other")};
    Spec spec = valid_spec(arg.empty() || name == "big" ? "v1" : arg);
    all.at(name)(spec);
    std::string bytes = build(name, spec, arg, keys);
    const std::string path = dir + "/" + name + compression_extension(spec.compression);
    TempFile out(path);
    write_all(out.fd(), bytes, path);
    out.commit();
    std::printf("%s\n", path.c_str());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "droot-hostile-gen: error: %s\n", e.what());
    return 1;
  }
}
