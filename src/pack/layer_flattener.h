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
// The bottom layer (the base image, usually the largest, the only one of a `docker import`) can instead be
// streamed: not read when the tree is built but by write_tar, merged in walk order with what the layers above
// decided. Its content is then never spooled, and a gzip layer is inflated while the packer compresses the
// tree on the other core instead of before it: the two biggest costs of packing a gzip image overlap. That
// needs the bottom layer's tar in walk order, as every builder that walks a directory writes it (dockerd,
// buildkit, containers/storage: Go's filepath.Walk order; `tar --sort=name`), and no hard link across it and a
// layer above. The first entries are checked when the tree is built (a tar in readdir order is read the usual
// way at once); when write_tar meets anything else later it throws BottomLayerNotStreamable and
// read_bottom_layer() reads it the usual way (the caller writes the tar again from its start, into a fresh
// output: that image packs in about twice the time).
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
#include <functional>
#include <string>
#include <sys/types.h>
#include <time.h>
#include <unordered_map>
#include <utility>
#include <vector>

#include "error.h"
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

// What write_tar throws when the bottom layer cannot be streamed (out of walk order, a path it names twice, a
// hard link it cannot resolve from what it already wrote, or anything wrong with it): the tar written so far
// must be discarded, read_bottom_layer() called, and write_tar run again. The usual reading then gives the
// error, if the layer has one, exactly as it would have without streaming.
class BottomLayerNotStreamable : public Error {
 public:
  using Error::Error;
};

class FlatTree {
 public:
  // Reads and flattens `layers` (bottom first); Error naming `spec` and the layer's digest for a blob that does
  // not match its digest, a tar it cannot read, a path with "..", a whiteout of "." or "..", or a hard link to
  // nothing. With `stream_bottom`, the bottom layer is only verified here, and read by write_tar (see above)
  // unless an upper layer's hard link needs one of its files (then it is read here as the others).
  FlatTree(const std::vector<LayerBlob>& layers, const std::string& spec, bool stream_bottom = false);  // `layers` must outlive it
  FlatTree(const FlatTree&) = delete;
  FlatTree& operator=(const FlatTree&) = delete;

  // Writes the tree as a pax tar to `fd`, in walk order; a hard link group's first path in that order holds
  // the content, the others link to it.
  // `written` (if given) counts the bytes written, for progress.
  // Content of uncompressed layers is read from the layer files here, so they are checked again at the end.
  // Throws BottomLayerNotStreamable (only while streams_bottom()).
  void write_tar(int fd, std::atomic<uint64_t>* written = nullptr, std::atomic<bool>* reader_gone = nullptr) const;
  // Whether write_tar streams the bottom layer; read_bottom_layer() reads it into the tree instead (the
  // fallback), after which write_tar gives the same bytes without streaming.
  bool streams_bottom() const { return bottom_deferred_; }
  void read_bottom_layer();
  // With a streamed bottom layer, entries_read / entries_kept / content_bytes count the layers above only.
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

  class BottomStream;  // the bottom layer read by write_tar (layer_flattener.cc)

  void read_layer(const LayerBlob& layer, int index);
  void finish_tree();
  static Meta meta_of(archive_entry* e);
  // One entry of the output tar, built from `m` alone (never copied from a layer's header), so an entry is the
  // same bytes whether it came from the tree or straight from the streamed bottom layer. `link_to`: a hard
  // link; else a regular file (`regular`) gets `size` bytes from `fill(buf, n, offset)`.
  void write_entry(archive* w, const std::string& path, const Meta& m, bool regular, const std::string* link_to,
                   uint64_t size, const std::function<void(char*, size_t, uint64_t)>& fill) const;
  void write_merged(archive* w, const std::function<void(const Item&)>& write_item) const;
  bool bottom_starts_streamable() const;
  void spool_hidden(const LayerBlob& layer, int index, const std::unordered_map<std::string, int32_t>& wanted);
  bool hidden(const std::string& path, int layer) const;
  int32_t add_inode(const Meta& meta);
  void add_item(const std::string& path, const Meta& meta, int32_t inode, int layer);
  // `inflated`: libarchive reads the layer inflated by igzip, so an entry's position is not one in the file.
  void spool_content(archive* a, archive_entry* e, const LayerBlob& layer, bool inflated, Inode& ino, const std::string& what);
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
  bool bottom_deferred_ = false;  // layer 0 is read by write_tar (streamed), not in nodes_ / items_
  FlattenStats stats_;
};

// FlatTree::write_tar run by a thread into a pipe: what packer.cc reads in place of the Engine's export.
class FlatTreeStream : public TreeStream {
 public:
  explicit FlatTreeStream(const FlatTree& tree);  // `tree` must outlive the stream
};

}  // namespace droot::pack
