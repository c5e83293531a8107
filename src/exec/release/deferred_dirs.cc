#include "deferred_dirs.h"

#include <cstring>

#include "error.h"
#include "io.h"

namespace droot::exec {

namespace {

// A record: its path's length, the attributes, the path. Fixed-width fields in the host's byte order: the
// spool is read back by the process that wrote it, and only by it.
struct RecordHead {
  uint32_t path_size;
  uint32_t perm;
  uint64_t uid;
  uint64_t gid;
  int64_t mtime_sec;
  int64_t mtime_nsec;
};

}  // namespace

void DeferredDirs::add(std::string_view path, const NodeAttrs& attrs) {
  RecordHead head{static_cast<uint32_t>(path.size()), attrs.perm, attrs.uid, attrs.gid,
                  static_cast<int64_t>(attrs.mtime.tv_sec), static_cast<int64_t>(attrs.mtime.tv_nsec)};
  // A block is never split inside a record, so each can be walked on its own.
  if (!pending_.empty() && pending_.size() + sizeof head + path.size() > block_bytes_) spill();
  pending_.append(reinterpret_cast<const char*>(&head), sizeof head);
  pending_.append(path);
  ++count_;
}

void DeferredDirs::spill() {
  if (!spool_) {
    // Unlinked from the start: a killed deploy leaves nothing behind.
    spool_ = open_unnamed(spool_dir_);
    if (!spool_) throw_errno("cannot create a temporary file for the release's directories");
  }
  write_all(spool_.get(), pending_, "the release's directories (temporary file)");
  const uint64_t offset = blocks_.empty() ? 0 : blocks_.back().offset + blocks_.back().size;
  blocks_.push_back({offset, static_cast<uint32_t>(pending_.size())});
  pending_.clear();
}

void DeferredDirs::walk_block_reverse(std::string_view block,
                                      const std::function<void(const std::string&, const NodeAttrs&)>& fn) {
  // Where each record starts (a block's worth: a few thousand), then the records last to first.
  std::vector<uint32_t> starts;
  for (size_t at = 0; at < block.size();) {
    RecordHead head;
    if (block.size() - at < sizeof head) throw Error("the release's directories: a truncated record");
    std::memcpy(&head, block.data() + at, sizeof head);
    if (block.size() - at - sizeof head < head.path_size) throw Error("the release's directories: a truncated record");
    starts.push_back(static_cast<uint32_t>(at));
    at += sizeof head + head.path_size;
  }
  std::string path;
  for (auto it = starts.rbegin(); it != starts.rend(); ++it) {
    RecordHead head;
    std::memcpy(&head, block.data() + *it, sizeof head);
    path.assign(block.data() + *it + sizeof head, head.path_size);
    NodeAttrs attrs;
    attrs.perm = head.perm;
    attrs.uid = head.uid;
    attrs.gid = head.gid;
    attrs.mtime.tv_sec = static_cast<time_t>(head.mtime_sec);
    attrs.mtime.tv_nsec = static_cast<long>(head.mtime_nsec);
    fn(path, attrs);
  }
}

void DeferredDirs::for_each_reverse(
    const std::function<void(const std::string& path, const NodeAttrs& attrs)>& fn) const {
  walk_block_reverse(pending_, fn);
  std::string block;
  for (auto it = blocks_.rbegin(); it != blocks_.rend(); ++it) {
    block.resize(it->size);
    pread_exact(spool_.get(), block.data(), block.size(), it->offset, "the release's directories (temporary file)");
    walk_block_reverse(block, fn);
  }
}

}  // namespace droot::exec
