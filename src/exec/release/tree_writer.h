// Creates the nodes of a new release under a directory fd, one entry at a time, never through a symlink:
// every parent is looked up with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS) from the root fd and every
// final name is created with O_EXCL / mkdirat / symlinkat / linkat / mknodat, which never follow (or
// replace) whatever is already there. What to create is decided by the caller (extract.cc); this file only
// knows how to do it safely.
#pragma once

#include <sys/stat.h>
#include <time.h>

#include <cstdint>
#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "background_queue.h"
#include "beneath.h"
#include "deferred_dirs.h"
#include "fd.h"
#include "node_attrs.h"
#include "object_store.h"

namespace droot::exec {

class EarlyWriteback;

// Yields a regular file's data: false at the end. `offset` may jump ahead (a hole in a sparse file).
using BlockSource = std::function<bool(const void** data, size_t* size, int64_t* offset)>;

struct WrittenFile {
  uint64_t size = 0;
  std::string sha256;  // of the bytes as written, holes included as zeros
  bool stored = false; // a new object was written (false: an object already in the store was linked)
};


// An error of a file stored in the background (TreeWriter::store_file), found after the entry loop had
// moved on: it names the file's path, since the entry being handled by then is another one.
struct EntryFailure : Error {
  EntryFailure(std::string entry_path, const std::string& what) : Error(what), entry(std::move(entry_path)) {}
  std::string entry;
};

// What the background stored: new objects written (the rest were linked from the store).
struct StoredTotals {
  uint64_t files = 0;
  uint64_t bytes = 0;
};

class TreeWriter {
 public:
  struct Options {
    bool set_owner = true;        // chown to the archive's ids (needs CAP_CHOWN)
    std::function<void()> poll;   // called between data blocks; may throw to abort (signals)
    EarlyWriteback* writeback = nullptr;  // takes each regular file once it is complete
    const ObjectStore* objects = nullptr;  // if set, store_file() and link_object() use it
  };
  TreeWriter(int root, Options options);

  void make_dir(const std::vector<std::string>& parts, const NodeAttrs& attrs);
  // `capability`: the security.capability xattr to set, or empty.
  WrittenFile write_file(const std::vector<std::string>& parts, const NodeAttrs& attrs, const BlockSource& data,
                         uint64_t size, const std::string& capability);
  WrittenFile write_file(const std::vector<std::string>& parts, const NodeAttrs& attrs, std::string_view content);
  // A regular file of the release: written once into the object store (unless an object with the same
  // key is there already) and hard-linked into the tree. Needs Options::objects. A file of up to 1 MiB is
  // hashed here and then created, linked or stored on the writer's own thread, in entry order (so a later
  // file with the same key finds the earlier one's object): its WrittenFile has `stored` false, and
  // background_stored() counts it once finish() has returned. Its errors are EntryFailure, thrown by a
  // later call.
  WrittenFile store_file(const std::vector<std::string>& parts, const NodeAttrs& attrs, const BlockSource& data,
                         uint64_t size, const std::string& capability);
  // Links the stored object `key` (a delta's file not shipped) as parts. Throws if it is absent or damaged.
  void link_object(const std::vector<std::string>& parts, const ObjectKey& key, uint64_t size);
  void make_symlink(const std::vector<std::string>& parts, const std::string& target, const NodeAttrs& attrs);
  // `target` must name a regular file this writer created earlier (the caller checks its records).
  void make_hardlink(const std::vector<std::string>& parts, const std::vector<std::string>& target);
  void make_node(const std::vector<std::string>& parts, mode_t type, dev_t rdev, const NodeAttrs& attrs);
  // Applies the directories' owners, modes and times (deferred: creating children changes a directory's
  // mtime, and a read-only directory could not receive them), deepest first, and gives the root 0755.
  // Waits until the background has created every file queued so far, and throws its first failure (it
  // runs before anything that may refer to one: a hard link, a delta's link, the directories' final modes).
  void settle();
  // Settles first.
  void finish();
  StoredTotals background_stored() const { return {bg_files_.load(), bg_bytes_.load()}; }

 private:
  // The directory that will hold parts.back(), resolved beneath the root (one cached: archives are sorted).
  int parent_of(const std::vector<std::string>& parts);
  void apply_attrs(int fd, const std::string& path, const NodeAttrs& attrs);
  // Owner, mode, capability and mtime of a regular file whose data is complete (in this order: the kernel
  // drops setuid bits and security.capability on chown and on write). `created_perm`: the mode it was
  // created with, so that a chmod to the same mode is skipped.
  void finish_file(int fd, const std::string& path, const NodeAttrs& attrs, const std::string& capability,
                   uint32_t created_perm);
  // Writes `data` (holes as holes) into `fd` and returns its size and sha256.
  WrittenFile stream_to(int fd, const std::string& path, const BlockSource& data, uint64_t size);
  ObjectKey key_of(const std::string& path, const std::string& sha256, const NodeAttrs& attrs,
                   const std::string& capability) const;
  // Links the stored object `key` as `name` in `parent` if the store has it intact (a damaged one loses
  // its name).
  bool link_stored(int parent, const std::string& name, const std::string& path, const ObjectKey& key, uint64_t size);
  // Gives a file whose data is complete its times (and owner, mode, capability), then hands it to the early
  // writeback if it is large enough to be worth its own, or closes it and counts it among the small files.
  void complete_file(UniqueFd fd, const std::string& path, uint64_t size, const NodeAttrs& attrs,
                     const std::string& capability);
  // Makes the file just written as `name` in `parent` (its data complete) the object `key`.
  void store_new(int parent, const std::string& name, const std::string& path, UniqueFd fd, uint64_t size,
                 const ObjectKey& key, const NodeAttrs& attrs, const std::string& capability);
  // Links or writes a small file whose content is in hand (on the background thread, or inline).
  bool store_content(const std::shared_ptr<UniqueFd>& dir, int parent, const std::string& name, const std::string& path,
                     const std::string& content, const ObjectKey& key, const NodeAttrs& attrs,
                     const std::string& capability);
  UniqueFd create_file(int parent, const std::string& name, const std::string& path, uint32_t perm);

  int root_;
  Options options_;
  std::string cached_parent_path_;
  std::shared_ptr<UniqueFd> cached_parent_;  // shared with the queued files that go into it
  DeferredDirs deferred_dirs_;
  std::string buffer_;  // small files' content, hashed before anything is written
  uint64_t euid_, egid_;
  mode_t umask_ = 022;
  std::atomic<uint64_t> bg_files_{0}, bg_bytes_{0};
  // Small files written whose object name is still queued on naming_, by object_key_hash(): a later file
  // with the same key links the earlier file itself. Only ever as large as naming_'s queue.
  struct Unnamed {
    std::shared_ptr<UniqueFd> dir;  // keeps `parent` open
    int parent;
    std::string name;
    ObjectKey key;
  };
  using UnnamedMap = std::unordered_multimap<uint64_t, Unnamed>;
  // The pending file with exactly `key` (hash `id`), or end(). Hold unnamed_mutex_.
  UnnamedMap::iterator find_unnamed(uint64_t id, const ObjectKey& key);
  std::mutex unnamed_mutex_;
  UnnamedMap unnamed_;
  // Last: destroyed first, so that no queued job outlives what it uses. queue_ creates small files and
  // hands each to naming_, which gives it its object name (queue_ goes first: its job may wait on naming_).
  std::unique_ptr<BackgroundQueue> naming_;
  std::unique_ptr<BackgroundQueue> queue_;
};

}  // namespace droot::exec
