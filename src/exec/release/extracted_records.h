// What a deploy extracted, one compact record per entry, and the comparison with the manifest as its text
// streams in (it is the archive's last entry). This map is the only memory a deploy needs per entry: the
// manifest is never held whole, each complete line is checked and forgotten.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "manifest_diff.h"
#include "mtree.h"

namespace droot::exec {

class ExtractedRecords {
 public:
  explicit ExtractedRecords(std::string manifest_name) : manifest_name_(std::move(manifest_name)) {}

  bool contains(const std::string& path) const { return records_.count(path) > 0; }
  // Adds an extracted entry (regular files with size and sha256). Throws on ids beyond 32 bits.
  void add(const ManifestEntry& entry);
  // The record of an earlier entry, expanded into `out`; false if there is none.
  bool find(const std::string& path, ManifestEntry& out) const;

  // Feeds the manifest's text; complete lines are compared with the records right away.
  void feed_manifest(std::string_view chunk);
  // End of the manifest: every record it did not list is "extra". Returns all differences found (the first
  // kKeptDifferences of them; `difference_count()` has the total).
  std::vector<Difference> finish_manifest();
  size_t difference_count() const { return difference_count_; }

  static constexpr size_t kKeptDifferences = 100;

 private:
  struct Record {
    std::string link;                // symlinks only
    std::array<uint8_t, 32> sha256{};  // regular files
    uint64_t size = 0;
    uint32_t mode = 0;
    uint32_t uid = 0;
    uint32_t gid = 0;
    char type = 0;                   // f file, d dir, l link, c char, b block, p fifo
    bool listed = false;             // seen in the manifest
  };
  static Record compact(const ManifestEntry& e);
  static ManifestEntry expand(const std::string& path, const Record& r);
  void compare_lines(std::string_view complete_lines);
  void note(Difference d);

  std::string manifest_name_;
  std::map<std::string, Record> records_;
  std::string partial_line_;
  size_t next_line_ = 1;
  std::vector<Difference> differences_;
  size_t difference_count_ = 0;
};

}  // namespace droot::exec
