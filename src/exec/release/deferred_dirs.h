// The directories of a release being written, whose owners, modes and times are applied only at the end
// (TreeWriter::finish): creating a child changes a directory's mtime, and a read-only directory could not
// receive its children. They are applied in reverse creation order, so children before their parents.
//
// Nothing per directory stays in memory for the whole deploy: records collect in a buffer of kBlockBytes,
// and each full buffer is appended as one block to a spool file (an unlinked temporary file in the release
// being built, io.h open_unnamed), of which only the block's offset is kept. The reverse walk reads the blocks
// back last to first. An image of 49,000 directories (this machine's /usr) held 4.4 MiB here before; a
// million directories would have held ~90 MiB on every server. Now: at most two blocks, whatever the count.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "fd.h"
#include "node_attrs.h"

namespace droot::exec {

class DeferredDirs {
 public:
  static constexpr size_t kBlockBytes = 256 * 1024;

  // The spool, if one is needed, is made in `spool_dir` (the release's root).
  explicit DeferredDirs(int spool_dir, size_t block_bytes = kBlockBytes)
      : spool_dir_(spool_dir), block_bytes_(block_bytes) {}

  void add(std::string_view path, const NodeAttrs& attrs);
  // Calls `fn` for every directory added, the last added first. Throws what `fn` throws, or a read error.
  void for_each_reverse(const std::function<void(const std::string& path, const NodeAttrs& attrs)>& fn) const;

  uint64_t count() const { return count_; }
  size_t spilled_blocks() const { return blocks_.size(); }
  size_t buffered_bytes() const { return pending_.size(); }  // in memory until the next spill

 private:
  struct Block {
    uint64_t offset = 0;
    uint32_t size = 0;
  };
  void spill();
  static void walk_block_reverse(std::string_view block,
                                 const std::function<void(const std::string&, const NodeAttrs&)>& fn);

  int spool_dir_;
  size_t block_bytes_;
  std::string pending_;        // records not yet spilled
  UniqueFd spool_;
  std::vector<Block> blocks_;  // one per spilled block (a million directories: ~300)
  uint64_t count_ = 0;
};

}  // namespace droot::exec
