// DEST/objects/: every regular file of every release, stored once (droot-exec(1), "deploy layout").
//
// An object is one inode; a release is a tree of hard links to objects. Hard links share everything the
// inode holds, so an object is keyed by all of it: the content's sha256 and the mode, owner, mtime and
// security.capability the release must show. Two files of an image with the same key become one inode
// (the same choice OSTree makes); a file that differs in any of them is another object.
//
//   DEST/objects/ab/cdef…(62 hex)-0755-0-0-1700000000.000000000[-c<16 hex of the capability's sha256>]
//
// Objects are published complete or not at all: a new file is written into the release being built (a
// private 0700 directory), given its owner, mode, capability and mtime, and only then linked under its
// object name (a killed deploy leaves a file in a temporary release, which the next deploy removes, and an
// object with only the store's link, which garbage collection removes). Nothing in droot opens an object
// for writing once it has a name. An object that nothing else links (st_nlink 1) belongs
// to no release and is removed by collect_garbage().
#pragma once

#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fd.h"

namespace droot::exec {

struct ObjectKey {
  std::array<uint8_t, 32> sha256{};
  uint32_t mode = 0;  // 07777
  uint32_t uid = 0;
  uint32_t gid = 0;
  timespec mtime{};
  std::string capability;  // security.capability's value, or empty

  // "ab/cdef…-0755-0-0-SEC.NSEC[-cHEX]": the fan-out directory and the name within it.
  uint8_t fanout_index() const { return sha256[0]; }
  std::string dir() const;
  std::string name() const;
  std::string path() const { return dir() + "/" + name(); }
};

// Whether two keys name the same object (capabilities compared by value).
bool same_object_key(const ObjectKey& a, const ObjectKey& b);
// A 64-bit hash of everything in a key.
uint64_t object_key_hash(const ObjectKey& key);

// ObjectKey::name() formatted into a buffer of its own: a deploy names an object per file, and a name made
// this way costs no allocation (nor printf).
class ObjectName {
 public:
  explicit ObjectName(const ObjectKey& key);
  const char* c_str() const { return text_; }
  std::string_view view() const { return {text_, size_}; }

 private:
  // 62 hex digits, "-7777", two 10-digit ids, a 20-character second, ".NNNNNNNNN", "-c" and 16 hex: 138.
  char text_[160];
  size_t size_ = 0;
};

// Parses a name made by ObjectKey::name() in directory `dir` (capability: only its digest is known, so
// `capability_digest` gets it). nullopt for anything else (a temporary file, a stray name).
struct ParsedObjectName {
  ObjectKey key;  // without capability
  std::string capability_digest;
};
std::optional<ParsedObjectName> parse_object_name(const std::string& dir, const std::string& name);

struct StoreTotals {
  uint64_t objects = 0;
  uint64_t bytes = 0;
};

class ObjectStore {
 public:
  // Opens DEST/objects (0700), making it if `create`. Without `create`, a missing store is an empty one.
  ObjectStore(int dest_fd, const std::string& dest, bool create);

  bool exists() const { return fd_.valid(); }
  const std::string& path() const { return path_; }

  // Whether `key` is stored. An object whose inode does not match its name (another size, mode, owner or
  // mtime: changed by hand, or not a regular file any more) is `damaged`, with the reason: it is never
  // linked into a release. Owners are compared only when `owners` (a deploy as root sets them).
  enum class Found { absent, present, damaged };
  Found find(const ObjectKey& key, uint64_t size, bool owners, std::string* why) const;
  // Removes a damaged object's name (the releases that link it keep their inode: check reports them).
  void forget(const ObjectKey& key) const;

  // Gives the complete file `name` in `parent` (content, owner, mode, capability and mtime all set) its
  // object name: from now on it is the object `key`.
  void adopt(int parent, const std::string& name, const ObjectKey& key, const std::string& shown) const;
  // Hard-links the object `key` as `name` in directory `parent`. False if the store has no such object;
  // NameExists if `name` is taken.
  bool try_link(const ObjectKey& key, int parent, const std::string& name) const;
  // The same, for an object that must be there.
  void link_into(const ObjectKey& key, int parent, const std::string& name, const std::string& shown) const;

  // A deploy into a store that holds nothing yet (a new server) remembers what it adds in a fixed-size Bloom
  // filter (1 MiB, whatever the number of files), so try_link() need not ask the kernel about objects that
  // cannot be there: one lookup less per file. Call once, before the deploy's first try_link().
  void begin_deploy();

  // Removes every object no release links any more; returns what was removed.
  StoreTotals collect_garbage() const;
  StoreTotals totals() const;

  // Calls `fn(dir fd, dir, name)` for each name in each fan-out directory (for check).
  void for_each(const std::function<void(int dir_fd, const std::string& dir, const std::string& name)>& fn) const;

  // The fan-out directory `dir` ("ab"), opened (O_PATH); made if `create`. -1 if absent.
  int fanout(const std::string& dir, bool create) const;
  int fanout(uint8_t index, bool create) const;

 private:
  bool maybe_stored(const ObjectKey& key) const;
  void remember(const ObjectKey& key) const;

  std::string path_;
  UniqueFd fd_;
  // A deploy links and stores objects from two threads, once per file: what they read on the way is
  // lock-free. fanout_fd_ mirrors fanout_ (which owns the descriptors); mutex_ guards only a fan-out
  // directory's first open.
  mutable std::array<UniqueFd, 256> fanout_;
  mutable std::array<std::atomic<int>, 256> fanout_fd_;
  mutable std::mutex mutex_;
  // The Bloom filter of begin_deploy(), null when not in use. Bits are only ever set (relaxed: a key a
  // thread must find was remembered before something that synchronises the two, tree_writer.cc's lock).
  std::unique_ptr<std::atomic<uint64_t>[]> added_;
};

// What differs between an object's inode and its key, "" if nothing: not a regular file, another size (than
// `size`, its content's), mode, owner (when `owners`) or mtime. The one rule for deploy and check --objects.
std::string object_mismatch(const struct stat& st, const ObjectKey& key, uint64_t size, bool owners);

// The object key of a regular file from its manifest record (sha256 hex) and mtime.
ObjectKey object_key(const std::string& sha256_hex, uint32_t mode, uint64_t uid, uint64_t gid, timespec mtime,
                     const std::string& capability, const std::string& path);

}  // namespace droot::exec
