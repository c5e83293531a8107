// What makes two regular files the same object for a delta artifact (droot-artifact(5), "Delta artifacts"):
// the sha256 of the content, the size, the permission bits (07777), uid, gid and mtime (seconds and
// nanoseconds) as the tar header states them. A file of the new image whose key is also a base's need not be
// shipped: a server that deployed the base holds that very inode.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "mtree.h"

namespace droot::pack {

// The key, compacted: SHA-256 of its fields' text (object_key()).
using KeyDigest = std::array<uint8_t, 32>;

// The key of a regular file as its delta.mtree line states it: `e` is a "file" with sha256 and time set
// (throws droot::Error otherwise). The path is not part of the key.
KeyDigest object_key(const ManifestEntry& e);

// The keys of every regular file of the bases: 32 bytes each in one sorted vector (64 while it grows).
class ObjectKeySet {
 public:
  void add(const KeyDigest& k);
  // Sorts and drops duplicates; call once every base has been read, before contains().
  void seal();
  bool contains(const KeyDigest& k) const;
  size_t size() const { return keys_.size(); }
  bool empty() const { return keys_.empty(); }

 private:
  std::vector<KeyDigest> keys_;
  bool sealed_ = true;
};

}  // namespace droot::pack
