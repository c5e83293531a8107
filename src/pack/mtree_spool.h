// An mtree(5) file that is complete only at the end of the export but must go into the archive as one entry
// of known size (`.droot/manifest.mtree`, a delta's `.droot/delta.mtree`): lines are appended to an unnamed
// spool file, so memory stays flat whatever the number of files.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "fd.h"
#include "mtree.h"

namespace droot::pack {

class MtreeSpool {
 public:
  // Starts with the "#mtree" header line. `what` names the spool in errors.
  explicit MtreeSpool(std::string what);
  void append(const ManifestEntry& e);
  // The line of `path`, found by scanning the spool (for hard links, which are rare: a scan beats keeping
  // every line in memory).
  std::optional<ManifestEntry> find(const std::string& path) const;
  int fd() const { return fd_.get(); }
  uint64_t size() const { return size_; }

 private:
  std::string what_;
  UniqueFd fd_;
  uint64_t size_ = 0;
};

}  // namespace droot::pack
