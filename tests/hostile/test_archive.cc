#include "test_archive.h"

#include <algorithm>

#include <archive.h>
#include <archive_entry.h>

#include <cstdio>

#include "archive_ptr.h"
#include "artifact_config.h"
#include "error.h"
#include "hash.h"
#include "mtree.h"

namespace droot::testing {
namespace {

class TarBuilder {
 public:
  explicit TarBuilder(Compression c) : a_(archive_write_new()) {
    check(archive_write_set_format_pax_restricted(a_.get()), "pax");
    if (c == Compression::zstd) check(archive_write_add_filter_zstd(a_.get()), "zstd");
    if (c == Compression::gzip) check(archive_write_add_filter_gzip(a_.get()), "gzip");
    check(archive_write_set_bytes_in_last_block(a_.get(), 1), "last block");
    check(archive_write_open2(a_.get(), this, nullptr, &TarBuilder::on_write, nullptr, nullptr), "open");
  }

  void add(const Node& n) {
    ArchiveEntry e(archive_entry_new());
    archive_entry_set_pathname(e.get(), n.path.c_str());
    archive_entry_set_uid(e.get(), static_cast<la_int64_t>(n.uid));
    archive_entry_set_gid(e.get(), static_cast<la_int64_t>(n.gid));
    archive_entry_set_mtime(e.get(), kTestMtime, 0);
    static const std::map<char, unsigned> types = {{'f', AE_IFREG}, {'h', AE_IFREG}, {'d', AE_IFDIR}, {'l', AE_IFLNK},
                                                   {'c', AE_IFCHR}, {'b', AE_IFBLK}, {'p', AE_IFIFO}};
    archive_entry_set_filetype(e.get(), types.at(n.type));
    archive_entry_set_perm(e.get(), n.mode);
    if (n.type == 'f') archive_entry_set_size(e.get(), static_cast<la_int64_t>(n.data.size()));
    if (n.type == 'l') archive_entry_set_symlink(e.get(), n.data.c_str());
    if (n.type == 'h') archive_entry_set_hardlink(e.get(), n.data.c_str());
    if (n.type == 'c' || n.type == 'b') {
      unsigned major = 0, minor = 0;
      std::sscanf(n.data.c_str(), "%u:%u", &major, &minor);
      archive_entry_set_rdevmajor(e.get(), major);
      archive_entry_set_rdevminor(e.get(), minor);
    }
    for (const auto& [k, v] : n.xattrs) archive_entry_xattr_add_entry(e.get(), k.c_str(), v.data(), v.size());
    check(archive_write_header(a_.get(), e.get()), "header " + n.path);
    if (n.type == 'f' && !n.data.empty() &&
        archive_write_data(a_.get(), n.data.data(), n.data.size()) != static_cast<la_ssize_t>(n.data.size()))
      throw Error("data " + n.path + ": " + archive_error(a_.get()));
  }

  std::string finish() {
    check(archive_write_close(a_.get()), "close");
    return std::move(out_);
  }

 private:
  static la_ssize_t on_write(archive*, void* self, const void* buf, size_t size) {
    static_cast<TarBuilder*>(self)->out_.append(static_cast<const char*>(buf), size);
    return static_cast<la_ssize_t>(size);
  }
  void check(int rc, const std::string& what) {
    if (rc != ARCHIVE_OK) throw Error(what + ": " + archive_error(a_.get()));
  }

  ArchiveWriter a_;
  std::string out_;
};

}  // namespace

std::string net_raw_capability() {
  const uint32_t words[5] = {0x02000001, 1u << 13, 0, 0, 0};
  std::string out;
  for (uint32_t w : words)
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((w >> (8 * i)) & 0xff));
  return out;
}

std::string manifest_for(const PayloadSpec& spec) {
  static const std::map<char, std::string> names = {{'f', "file"}, {'h', "file"},  {'d', "dir"}, {'l', "link"},
                                                    {'c', "char"}, {'b', "block"}, {'p', "fifo"}};
  std::map<std::string, const Node*> by_path;
  for (const auto& n : spec.rootfs) by_path.emplace(n.path, &n);
  std::string text = manifest_header();
  for (const auto& n : spec.rootfs) {
    if (!n.in_manifest || n.path == "." || n.path.empty()) continue;
    // Hostile paths are described as they are: the point is that the manifest agrees with the archive.
    ManifestEntry m{n.path, names.at(n.type), n.manifest_mode.value_or(n.mode), n.uid, n.gid, 0, "", ""};
    if (n.type == 'l') m.link = n.data;
    const Node* content = n.type == 'h' && by_path.count(n.data) ? by_path.at(n.data) : &n;
    if (m.type == "file") {
      std::string data = content->manifest_data.value_or(content->data);
      m.size = data.size();
      m.sha256 = sha256_hex(data);
    }
    text += format_manifest_line(m);
  }
  for (const auto& line : spec.extra_manifest_lines) text += line;
  return text;
}

std::string delta_list_for(const PayloadSpec& spec) {
  std::string text;
  for (const auto& n : spec.rootfs) {
    if (!n.in_manifest || std::find(spec.omitted.begin(), spec.omitted.end(), n.path) == spec.omitted.end()) continue;
    ManifestEntry m{n.path, "file", n.mode, n.uid, n.gid, n.data.size(), "", sha256_hex(n.data)};
    m.time = MtreeTime{kTestMtime, 0};
    text += format_manifest_line(m);
  }
  for (const auto& line : spec.delta_extra_lines) text += line;
  return text;
}

std::string build_payload(const PayloadSpec& spec) {
  TarBuilder tar(spec.compression);
  nlohmann::json config = {{"Env", {"PATH=/bin", "GREETING=hello world=1"}}, {"Cmd", {"/bin/hello"}}};
  ImageInfo image{spec.image_ref, "sha256:" + sha256_hex(spec.image_ref), {}, spec.created, "linux", "amd64"};
  tar.add({std::string(kConfigPath), 'f', 0644, make_config_json(image, config, kTestMtime, "droot-hostile-gen", spec.bases)});
  tar.add({std::string(kDrootEnvPath), 'f', 0644, make_drootenv(config["Env"])});
  for (const auto& n : spec.rootfs)
    if (!n.in_manifest || std::find(spec.omitted.begin(), spec.omitted.end(), n.path) == spec.omitted.end()) tar.add(n);
  if (!spec.bases.empty()) tar.add({std::string(kDeltaPath), 'f', 0644, delta_list_for(spec)});
  if (spec.with_manifest) tar.add({std::string(kManifestPath), 'f', 0644, manifest_for(spec)});
  for (const auto& n : spec.after_manifest) tar.add(n);
  return tar.finish();
}

}  // namespace droot::testing
