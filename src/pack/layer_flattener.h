// Flattens an image's layers into the one tree a container would see, without the Engine: whiteouts
// (".wh.NAME") and opaque directories (".wh..wh..opq"), an upper layer's file or directory replacing a lower
// one, hard links within and across layers, gzip / zstd / uncompressed layers (libarchive detects which).
//
// Layers are read top-down, once each (twice for a layer whose hidden file an upper hard link still needs):
// the first layer to name a path decides it, so a lower layer's entry is dropped as it is met and its content
// never stored. Bottom-up would have to store every layer's files and then delete the overwritten ones;
// top-down stores only what the final tree holds. What must be remembered is the set of paths decided so far
// (and whiteouts / opaque directories), each path once (measured: about 270 bytes a path, the path included):
// memory grows with the number of paths in the image, not with its size. The final tree must be written in
// the Engine's export order (each directory's names sorted, a directory's subtree before the next name), which
// no single layer has, so the content of the files kept is read again at the end: in place from an
// uncompressed layer, from an unnamed temp file ($TMPDIR) it was spooled to for a compressed one.
//
// Each layer blob's sha256 is checked against the digest its manifest names before any byte of it is parsed
// (the next layer's on a second thread while one is flattened; a docker:// layer was checked while it was
// downloaded, LayerBlob::verified); a blob whose file changes (ctime, mtime, size) between the start of
// flattening and its end is an error too.
#pragma once

#include <archive_entry.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <exception>
#include <string>
#include <sys/types.h>
#include <time.h>
#include <unordered_map>
#include <utility>
#include <vector>

#include "fd.h"
#include "local_image.h"
#include "tree_stream.h"

namespace droot::pack {

// The Engine's export order: "a" < "a/b" < "a.c" (a directory's subtree before the names after it).
bool walk_order_less(const std::string& a, const std::string& b);

struct FlattenStats {
  uint64_t layers = 0;
  uint64_t layer_bytes = 0;    // the blobs as stored
  uint64_t entries_read = 0;   // every entry of every layer
  uint64_t entries_kept = 0;   // in the flattened tree
  uint64_t content_bytes = 0;  // spooled to the temp file
};

class FlatTree {
 public:
  // Reads and flattens `layers` (bottom first); Error naming `spec` and the layer's digest for a blob that does
  // not match its digest, a tar it cannot read, a path with "..", a whiteout of "." or "..", or a hard link to
  // nothing.
  FlatTree(const std::vector<LayerBlob>& layers, const std::string& spec);  // `layers` must outlive it
  FlatTree(const FlatTree&) = delete;
  FlatTree& operator=(const FlatTree&) = delete;

  // Writes the tree as a pax tar to `fd`, in walk order; a hard link group's first path in that order holds
  // the content, the others link to it.
  // `written` (if given) counts the bytes written, for progress.
  // Content of uncompressed layers is read from the layer files here, so they are checked again at the end.
  void write_tar(int fd, std::atomic<uint64_t>* written = nullptr, std::atomic<bool>* reader_gone = nullptr) const;
  const FlattenStats& stats() const { return stats_; }

 private:
  // Rare fields out of line: most entries have neither a symlink target nor extended attributes.
  struct Extra {
    std::string symlink;
    std::vector<std::pair<std::string, std::string>> xattrs;
  };
  struct Meta {
    unsigned type = 0;  // AE_IF*
    uint32_t mode = 0;
    int64_t uid = 0, gid = 0;
    int64_t mtime = 0;
    long mtime_nsec = 0;
    uint32_t rdevmajor = 0, rdevminor = 0;
    std::shared_ptr<const Extra> extra;
  };
  struct Inode {
    Meta meta;
    uint64_t offset = 0, size = 0;
    int source_fd = -1;   // an uncompressed layer's file: the content is read from there, not from the spool
    bool ready = false;   // its content is in the spool
    bool needed = false;  // a kept path links to it
  };
  // One kept path: its name is the key of its node in nodes_ (whose addresses never change), so each path
  // is stored once.
  struct Item {
    const std::string* path;
    int32_t index;     // into inodes_ (a regular file or hard link) or metas_ (anything else)
    bool is_inode;
    bool dead = false;  // a later entry of the same layer replaced it
  };
  struct Node {
    int layer = -1;  // the layer that decided the path; -1: only an opaque mark so far
    bool whiteout = false;
    bool is_dir = false;
    int opaque_layer = -1;  // the highest layer that made this directory opaque
    int32_t item = -1;
  };

  void read_layer(const LayerBlob& layer, int index);
  void spool_hidden(const LayerBlob& layer, int index, const std::unordered_map<std::string, int32_t>& wanted);
  bool hidden(const std::string& path, int layer) const;
  int32_t add_inode(const Meta& meta);
  void add_item(const std::string& path, const Meta& meta, int32_t inode, int layer);
  void spool_content(archive* a, archive_entry* e, const LayerBlob& layer, Inode& ino, const std::string& what);
  void check_unchanged(const std::vector<LayerBlob>& layers) const;
  void add_missing_parents();

  std::string spec_;
  const std::vector<LayerBlob>& layers_;
  std::unordered_map<std::string, Node> nodes_;
  std::vector<Item> items_;
  std::vector<Meta> metas_;
  std::vector<Inode> inodes_;
  std::unordered_map<std::string, int32_t> pending_links_;  // hard link target in a lower layer → inode
  // Each layer file's identity and change times when flattening began (check_unchanged).
  struct Stamp {
    dev_t dev = 0;
    ino_t ino = 0;
    off_t size = 0;
    timespec mtime{}, ctime{};
    bool operator==(const Stamp& o) const;
  };
  static Stamp stamp_of(int fd, const std::string& name);
  std::vector<Stamp> stamps_;
  UniqueFd spool_;
  uint64_t spool_size_ = 0;
  FlattenStats stats_;
};

// FlatTree::write_tar run by a thread into a pipe: what packer.cc reads in place of the Engine's export.
class FlatTreeStream : public TreeStream {
 public:
  explicit FlatTreeStream(const FlatTree& tree);  // `tree` must outlive the stream
};

}  // namespace droot::pack
