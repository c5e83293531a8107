// The per-file manifest, `.droot/manifest.mtree`: mtree(5) text that libarchive's mtree reader accepts,
// one line per entry of the container filesystem, "./path keyword=value ...".
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace droot {

constexpr std::string_view kManifestPath = ".droot/manifest.mtree";
constexpr std::string_view kConfigPath = ".droot/config.json";
constexpr std::string_view kDrootEnvPath = ".drootenv";
// A delta artifact's list of the regular files it does not carry (droot-artifact(5), "Delta artifacts").
constexpr std::string_view kDeltaPath = ".droot/delta.mtree";

// mtree(5)'s `time` keyword: "SEC.NSEC", nanoseconds as exactly nine digits.
struct MtreeTime {
  int64_t sec = 0;
  uint32_t nsec = 0;  // 0..999999999

  bool operator==(const MtreeTime&) const = default;
};

struct ManifestEntry {
  std::string path;  // relative, without "./" (e.g. "bin/sh")
  std::string type;  // file, dir, link, char, block, fifo (hard links are "file": the same content)
  uint32_t mode = 0;  // permission bits including setuid/setgid/sticky
  uint64_t uid = 0;
  uint64_t gid = 0;
  uint64_t size = 0;     // regular files
  std::string link;      // symlink target
  std::string sha256;    // regular files, lower-case hex
  // Modification time, written only when set: manifest.mtree has none, delta.mtree has one on every line.
  std::optional<MtreeTime> time = std::nullopt;

  bool operator==(const ManifestEntry&) const = default;
};

// mtree path quoting: bytes outside printable ASCII, space, '#', '=', '\\' become \ooo.
std::string mtree_escape(std::string_view raw);
std::string mtree_unescape(std::string_view quoted);  // throws on malformed escapes

std::string manifest_header();
// Keywords in this order: type, mode, uid, gid, then size (files), time (when set), sha256digest (files),
// link (symlinks). Without `time` the line is what every manifest.mtree so far has held.
std::string format_manifest_line(const ManifestEntry& e);

// One line of a manifest; nullopt for comments and blank lines. Throws Error prefixed with `where`.
std::optional<ManifestEntry> parse_manifest_line(std::string_view line, const std::string& where);

// Parses a manifest written by format_manifest_line (plus comments and blank lines); `time` is optional. Throws Error naming
// `source` and the line number on anything unexpected. Keys are paths without "./".
std::map<std::string, ManifestEntry> parse_manifest(std::string_view text, const std::string& source);

}  // namespace droot
