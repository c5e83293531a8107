#include "extracted_records.h"

#include <cstdint>
#include <limits>

#include "error.h"

namespace droot::exec {
namespace {

// One byte per type instead of a string ("file" and "fifo" share their first letter: FIFOs are 'p', as ls says).
char type_code(const std::string& type) {
  if (type == "fifo") return 'p';
  return type.empty() ? '?' : type[0];
}

std::string type_name(char code) {
  switch (code) {
    case 'f': return "file";
    case 'd': return "dir";
    case 'l': return "link";
    case 'c': return "char";
    case 'b': return "block";
    case 'p': return "fifo";
  }
  return "?";
}

uint8_t hex_value(char c) {
  return static_cast<uint8_t>(c <= '9' ? c - '0' : c - 'a' + 10);
}

uint32_t id32(uint64_t id, const std::string& path) {
  // Linux ids are 32-bit: a larger one in an archive cannot be applied, so it cannot match either.
  if (id > std::numeric_limits<uint32_t>::max()) throw Error("'" + path + "': owner id " + std::to_string(id) + " is out of range");
  return static_cast<uint32_t>(id);
}

constexpr size_t kMaxLine = 64 * 1024;

}  // namespace

ExtractedRecords::Record ExtractedRecords::compact(const ManifestEntry& e) {
  Record r;
  r.type = type_code(e.type);
  r.mode = e.mode;
  r.uid = id32(e.uid, e.path);
  r.gid = id32(e.gid, e.path);
  r.size = e.size;
  r.link = e.link;
  if (e.sha256.size() == 64)
    for (size_t i = 0; i < 32; ++i) r.sha256[i] = static_cast<uint8_t>(hex_value(e.sha256[2 * i]) << 4 | hex_value(e.sha256[2 * i + 1]));
  return r;
}

ManifestEntry ExtractedRecords::expand(const std::string& path, const Record& r) {
  static const char digits[] = "0123456789abcdef";
  ManifestEntry e;
  e.path = path;
  e.type = type_name(r.type);
  e.mode = r.mode;
  e.uid = r.uid;
  e.gid = r.gid;
  e.size = r.size;
  e.link = r.link;
  if (r.type == 'f')
    for (uint8_t b : r.sha256) {
      e.sha256.push_back(digits[b >> 4]);
      e.sha256.push_back(digits[b & 15]);
    }
  return e;
}

void ExtractedRecords::add(const ManifestEntry& entry) { records_.emplace(entry.path, compact(entry)); }

bool ExtractedRecords::find(const std::string& path, ManifestEntry& out) const {
  auto it = records_.find(path);
  if (it == records_.end()) return false;
  out = expand(path, it->second);
  return true;
}

void ExtractedRecords::note(Difference d) {
  if (differences_.size() < kKeptDifferences) differences_.push_back(std::move(d));
  ++difference_count_;
}

void ExtractedRecords::compare_lines(std::string_view complete_lines) {
  const std::string where = manifest_name_ + " (from line " + std::to_string(next_line_) + ")";
  for (const auto& [path, want] : parse_manifest(complete_lines, where)) {
    auto it = records_.find(path);
    if (it == records_.end()) {
      note({Difference::Kind::missing, path, "in the manifest but not in the archive"});
      continue;
    }
    if (it->second.listed) throw Error(manifest_name_ + ": '" + mtree_escape(path) + "' is listed twice");
    it->second.listed = true;
    std::vector<Difference> found;
    diff_entry(expand(path, it->second), want, found);
    for (auto& d : found) note(std::move(d));
  }
}

void ExtractedRecords::feed_manifest(std::string_view chunk) {
  // Only whole lines are parsed; the tail waits for the next chunk. Lines are short, so is the tail.
  size_t last_newline = chunk.rfind('\n');
  if (last_newline == std::string_view::npos) {
    partial_line_.append(chunk);
    // A line is a path and a few keywords: a "line" of megabytes is an attempt to make us hold it all.
    if (partial_line_.size() > kMaxLine)
      throw Error(manifest_name_ + ": line " + std::to_string(next_line_) + " is longer than " +
                  std::to_string(kMaxLine) + " bytes");
    return;
  }
  std::string lines = std::move(partial_line_);
  lines.append(chunk.substr(0, last_newline + 1));
  partial_line_.assign(chunk.substr(last_newline + 1));
  compare_lines(lines);
  for (char c : lines) next_line_ += c == '\n';
}

std::vector<Difference> ExtractedRecords::finish_manifest() {
  if (!partial_line_.empty()) {
    compare_lines(partial_line_);
    partial_line_.clear();
  }
  for (const auto& [path, r] : records_)
    if (!r.listed) note({Difference::Kind::extra, path, "in the archive but not in the manifest"});
  return differences_;
}

}  // namespace droot::exec
