// Test payloads built from scratch with libarchive: a list of nodes (any path, any type, hostile or not), the
// droot metadata around them and a manifest that says what the test wants it to say. Shared by
// droot-hostile-gen and the unit tests of src/exec.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "artifact_config.h"
#include "trailer.h"

namespace droot::testing {

constexpr int64_t kTestMtime = 1700000000;

struct Node {
  Node(std::string p, char t, uint32_t m, std::string d = "", uint64_t u = 0, uint64_t g = 0)
      : path(std::move(p)), type(t), mode(m), data(std::move(d)), uid(u), gid(g) {}
  // Left out of the manifest.
  Node unlisted() && {
    in_manifest = false;
    return std::move(*this);
  }

  std::string path;
  char type;         // f file, d dir, l symlink, h hard link, c char, b block, p fifo
  uint32_t mode;
  std::string data;  // file content, symlink or hard link target, "major:minor" for devices
  uint64_t uid, gid;
  std::map<std::string, std::string> xattrs;
  bool in_manifest = true;
  std::optional<std::string> manifest_data;  // the content the manifest claims, if not `data`
  std::optional<uint32_t> manifest_mode;     // the mode the manifest claims, if not `mode`
};

struct PayloadSpec {
  std::string image_ref = "test:1";
  std::vector<Node> rootfs;
  std::vector<std::string> extra_manifest_lines;  // entries the archive lacks
  std::vector<Node> after_manifest;
  bool with_manifest = true;
  Compression compression = Compression::zstd;
  std::string created = "2023-11-14T22:13:20Z";  // image.created in config.json
  // A delta (droot-artifact(5)): config.json names these bases, the files in `omitted` are left out of the
  // tar and listed in .droot/delta.mtree (with `delta_extra_lines` after them), the manifest stays whole.
  std::vector<DeltaBase> bases;
  std::vector<std::string> omitted;
  std::vector<std::string> delta_extra_lines;
};

// security.capability for cap_net_raw+ep (struct vfs_cap_data, revision 2, little-endian).
std::string net_raw_capability();

// config.json, .drootenv, the rootfs in order, the manifest, then `after_manifest`: a compressed pax tar.
std::string build_payload(const PayloadSpec& spec);
std::string manifest_for(const PayloadSpec& spec);
std::string delta_list_for(const PayloadSpec& spec);

}  // namespace droot::testing
