#include "tree_writer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "beneath.h"
#include "early_writeback.h"
#include "error.h"
#include "hash.h"
#include "io.h"

namespace droot::exec {
namespace {

constexpr const char* kCapabilityXattr = "security.capability";

// Files up to this size are hashed in memory before anything is written: one already in the store then
// costs no write at all. Larger ones stream into a nameless object, dropped if the store has it.
constexpr uint64_t kInMemoryLimit = 1 << 20;
constexpr uint64_t kEarlyWritebackMin = 64 << 10;
// What may wait for the background thread: enough to ride out a slow create, bounded whatever the image.
constexpr size_t kQueuedFiles = 1024;
constexpr size_t kQueuedBytes = 4 << 20;
constexpr size_t kQueuedOverhead = 256;  // a job's own memory besides its content
// Each file waiting for its object name holds its directory open (shared with its siblings): with
// EarlyWriteback's 256 and the store's 256 fan-out directories, under the 1024 descriptors a process gets by
// default (deploy raises that to the hard limit, which may be 1024 too).
constexpr size_t kQueuedNames = 256;

// Runs a background job's work for the file `path`: its errors become EntryFailure, naming that file (one
// passed on from the queue behind it already names its own).
template <typename Work>
void as_entry(const std::string& path, Work&& work) {
  try {
    work();
  } catch (const EntryFailure&) {
    throw;
  } catch (const Error& err) {
    throw EntryFailure(path, err.what());
  }
}

[[noreturn]] void throw_create_error(const std::string& path, const char* what, int err) {
  // Our own 0700 temporary directory: nobody else creates names in it, so the name is an earlier entry's.
  if (err == EEXIST) throw NameExists();
  throw_errno("cannot create " + std::string(what) + " '" + path + "'", err);
}

// Hashes and writes one regular file's data, turning holes (sparse files) into zeros for the hash and
// into real holes on disk.
class FileSink {
 public:
  FileSink(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}

  void write_at(const void* data, size_t size, uint64_t offset) {
    if (offset < position_) throw Error("'" + path_ + "': data blocks out of order in the archive");
    if (offset > position_) skip_to(offset);
    write_all(fd_, data, size, "'" + path_ + "'");
    sha256_.update(data, size);
    position_ += size;
  }

  WrittenFile finish(uint64_t size) {
    if (position_ > size) throw Error("'" + path_ + "': more data than the entry's size " + std::to_string(size));
    if (position_ < size) skip_to(size);
    // ftruncate gives a trailing hole its length; seeking alone would not.
    if (::ftruncate(fd_, static_cast<off_t>(size)) != 0) throw_errno("cannot set the size of '" + path_ + "'");
    return WrittenFile{size, to_hex(sha256_.finish())};
  }

 private:
  void skip_to(uint64_t offset) {
    static const char zeros[64 * 1024] = {};
    for (uint64_t left = offset - position_; left > 0;) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(left, sizeof zeros));
      sha256_.update(zeros, n);
      left -= n;
    }
    if (::lseek(fd_, static_cast<off_t>(offset), SEEK_SET) < 0) throw_errno("cannot seek in '" + path_ + "'");
    position_ = offset;
  }

  int fd_;
  std::string path_;
  uint64_t position_ = 0;
  Digest sha256_ = Digest::sha256();
};

}  // namespace

TreeWriter::TreeWriter(int root, Options options)
    : root_(root), options_(std::move(options)), deferred_dirs_(root), euid_(::geteuid()), egid_(::getegid()) {
  // umask(2) can only be read by setting it: put it back at once.
  umask_ = ::umask(0);
  ::umask(umask_);
  if (options_.objects) {
    naming_ = std::make_unique<BackgroundQueue>(kQueuedNames, kQueuedNames * kQueuedOverhead);
    queue_ = std::make_unique<BackgroundQueue>(kQueuedFiles, kQueuedBytes);
  }
}

int TreeWriter::parent_of(const std::vector<std::string>& parts) {
  std::string parent = join_path(parts, parts.size() - 1);
  if (parent.empty()) return root_;
  if (!cached_parent_ || parent != cached_parent_path_) {
    cached_parent_.reset();
    // O_PATH: a handle for *at() calls only; it cannot read or write anything by itself.
    UniqueFd fd = open_beneath(root_, parent, O_PATH | O_DIRECTORY);
    if (!fd) throw Error("cannot create '" + join_path(parts) + "' in '" + parent + "': " + beneath_error_text(errno));
    cached_parent_ = std::make_shared<UniqueFd>(std::move(fd));
    cached_parent_path_ = parent;
  }
  return cached_parent_->get();
}

void TreeWriter::apply_attrs(int fd, const std::string& path, const NodeAttrs& attrs) {
  // chown before chmod: the kernel clears setuid/setgid (and security.capability) on chown.
  if (options_.set_owner && ::fchown(fd, static_cast<uid_t>(attrs.uid), static_cast<gid_t>(attrs.gid)) != 0)
    throw_errno("cannot set the owner of '" + path + "'");
  if (::fchmod(fd, attrs.perm & 07777) != 0) throw_errno("cannot set the mode of '" + path + "'");
}

void TreeWriter::make_dir(const std::vector<std::string>& parts, const NodeAttrs& attrs) {
  // 0700 until finish(): nobody else can enter while the tree is incomplete.
  if (::mkdirat(parent_of(parts), parts.back().c_str(), 0700) != 0)
    throw_create_error(join_path(parts), "directory", errno);
  deferred_dirs_.add(join_path(parts), attrs);
}

WrittenFile TreeWriter::write_file(const std::vector<std::string>& parts, const NodeAttrs& attrs,
                                   const BlockSource& data, uint64_t size, const std::string& capability) {
  const std::string path = join_path(parts);
  UniqueFd fd = create_file(parent_of(parts), parts.back(), path, 0600);
  WrittenFile written = stream_to(fd.get(), path, data, size);
  finish_file(fd.get(), path, attrs, capability, 0600);
  if (options_.writeback) options_.writeback->hand_over(std::move(fd));
  written.stored = true;
  return written;
}

WrittenFile TreeWriter::stream_to(int fd, const std::string& path, const BlockSource& data, uint64_t size) {
  FileSink sink(fd, path);
  const void* block = nullptr;
  size_t block_size = 0;
  int64_t offset = 0;
  while (data(&block, &block_size, &offset)) {
    if (options_.poll) options_.poll();
    if (offset < 0) throw Error("'" + path + "': negative data offset in the archive");
    sink.write_at(block, block_size, static_cast<uint64_t>(offset));
  }
  return sink.finish(size);
}

void TreeWriter::finish_file(int fd, const std::string& path, const NodeAttrs& attrs, const std::string& capability,
                             uint32_t created_perm) {
  // Per file, every call counts (an image of 200,000 small files): chown only to other ids than ours, chmod
  // only when the mode the file was created with (less the umask) is not already the one it must have.
  // chown before chmod: the kernel clears setuid/setgid (and security.capability) on chown.
  const bool chown_needed = options_.set_owner && (attrs.uid != euid_ || attrs.gid != egid_);
  const bool chmod_needed = chown_needed || (attrs.perm & 07777) != ((created_perm & 0777) & ~umask_);
  if (chown_needed && ::fchown(fd, static_cast<uid_t>(attrs.uid), static_cast<gid_t>(attrs.gid)) != 0)
    throw_errno("cannot set the owner of '" + path + "'");
  if (chmod_needed && ::fchmod(fd, attrs.perm & 07777) != 0) throw_errno("cannot set the mode of '" + path + "'");
  // After chown and after the last write: the kernel drops security.capability on both.
  if (!capability.empty() && ::fsetxattr(fd, kCapabilityXattr, capability.data(), capability.size(), 0) != 0)
    throw_errno("cannot set the file capabilities (security.capability) of '" + path + "'");
  timespec times[2] = {attrs.mtime, attrs.mtime};
  if (::futimens(fd, times) != 0) throw_errno("cannot set the modification time of '" + path + "'");
}

ObjectKey TreeWriter::key_of(const std::string& path, const std::string& sha256, const NodeAttrs& attrs,
                             const std::string& capability) const {
  return object_key(sha256, attrs.perm, attrs.uid, attrs.gid, attrs.mtime, capability, path);
}

UniqueFd TreeWriter::create_file(int parent, const std::string& name, const std::string& path, uint32_t perm) {
  // O_EXCL | O_NOFOLLOW: never open an existing file or a symlink's target; the name must be new. Created
  // with its final permission bits (the directory is our private 0700 one: nobody else can open it before
  // its content is complete), so store_new() need not chmod it again.
  int raw = ::openat(parent, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, perm & 0777);
  if (raw < 0) throw_create_error(path, "file", errno);
  return UniqueFd(raw);
}

bool TreeWriter::link_stored(int parent, const std::string& name, const std::string& path, const ObjectKey& key,
                             uint64_t size) {
  const ObjectStore& store = *options_.objects;
  if (!store.try_link(key, parent, name)) return false;
  // Linked: now look at what was linked. An object changed on disk (another size, mode, owner or mtime) is
  // never used: the link goes again, and so does the object's name; this deploy stores the content it has
  // in hand. Releases that link the damaged inode keep it, and check reports them.
  std::string why;
  if (store.find(key, size, options_.set_owner, &why) == ObjectStore::Found::present) return true;
  if (::unlinkat(parent, name.c_str(), 0) != 0) throw_errno("cannot unlink '" + path + "'");
  store.forget(key);
  return false;
}

void TreeWriter::complete_file(UniqueFd fd, const std::string& path, uint64_t size, const NodeAttrs& attrs,
                               const std::string& capability) {
  finish_file(fd.get(), path, attrs, capability, attrs.perm);
  if (!options_.writeback) return;
  if (size >= kEarlyWritebackMin)
    options_.writeback->hand_over(std::move(fd));
  else
    options_.writeback->small_file(size);
}

void TreeWriter::store_new(int parent, const std::string& name, const std::string& path, UniqueFd fd, uint64_t size,
                           const ObjectKey& key, const NodeAttrs& attrs, const std::string& capability) {
  complete_file(std::move(fd), path, size, attrs, capability);
  options_.objects->adopt(parent, name, key, path);
}

TreeWriter::UnnamedMap::iterator TreeWriter::find_unnamed(uint64_t id, const ObjectKey& key) {
  auto [first, last] = unnamed_.equal_range(id);
  for (auto it = first; it != last; ++it)
    if (same_object_key(it->second.key, key)) return it;
  return unnamed_.end();
}

WrittenFile TreeWriter::store_file(const std::vector<std::string>& parts, const NodeAttrs& attrs,
                                   const BlockSource& data, uint64_t size, const std::string& capability) {
  const std::string path = join_path(parts);
  if (size <= kInMemoryLimit) {
    const void* block = nullptr;
    size_t block_size = 0;
    int64_t offset = 0;
    buffer_.assign(size, '\0');  // holes stay zeros
    uint64_t end = 0;
    while (data(&block, &block_size, &offset)) {
      if (options_.poll) options_.poll();
      if (offset < 0 || static_cast<uint64_t>(offset) < end) throw Error("'" + path + "': data blocks out of order in the archive");
      if (static_cast<uint64_t>(offset) + block_size > size)
        throw Error("'" + path + "': more data than the entry's size " + std::to_string(size));
      if (block_size) std::memcpy(buffer_.data() + offset, block, block_size);
      end = static_cast<uint64_t>(offset) + block_size;
    }
    WrittenFile w{size, sha256_hex(buffer_), false};
    ObjectKey key = key_of(path, w.sha256, attrs, capability);
    int parent = parent_of(parts);
    // The rest is system calls only: queued, with what they need (the content, a handle on the parent).
    queue_->push(size + kQueuedOverhead, [this, parent, dir = cached_parent_, name = parts.back(), path, content = buffer_,
                                          key = std::move(key), attrs, capability] {
      as_entry(path, [&] {
        if (store_content(dir, parent, name, path, content, key, attrs, capability)) {
          bg_files_.fetch_add(1);
          bg_bytes_.fetch_add(content.size());
        }
      });
    });
    return w;
  }
  // Too large to hold: written into the tree while hashed; if the store turns out to have it, that copy is
  // dropped before anything asked the kernel to write it out. (No small file can have its key: the same
  // sha256 is the same size.)
  UniqueFd fd = create_file(parent_of(parts), parts.back(), path, attrs.perm);
  WrittenFile w = stream_to(fd.get(), path, data, size);
  ObjectKey key = key_of(path, w.sha256, attrs, capability);
  ObjectStore::Found found = options_.objects->find(key, size, options_.set_owner, nullptr);
  if (found == ObjectStore::Found::present) {
    fd.reset();
    if (::unlinkat(parent_of(parts), parts.back().c_str(), 0) != 0) throw_errno("cannot unlink '" + path + "'");
    options_.objects->link_into(key, parent_of(parts), parts.back(), path);
    return w;
  }
  if (found == ObjectStore::Found::damaged) options_.objects->forget(key);
  store_new(parent_of(parts), parts.back(), path, std::move(fd), size, key, attrs, capability);
  w.stored = true;
  return w;
}

bool TreeWriter::store_content(const std::shared_ptr<UniqueFd>& dir, int parent, const std::string& name,
                               const std::string& path, const std::string& content, const ObjectKey& key,
                               const NodeAttrs& attrs, const std::string& capability) {
  // Per file, every allocation and lock counts here (an image of 200,000 small files): the pending names
  // are found by the key's hash, not by its formatted name.
  const uint64_t id = object_key_hash(key);
  {
    // An earlier file with the same key, written but not yet given its object name: share its inode.
    std::lock_guard<std::mutex> lock(unnamed_mutex_);
    if (auto it = find_unnamed(id, key); it != unnamed_.end()) {
      // flags 0: the earlier file is ours, created in this private tree an instant ago; never a symlink.
      if (::linkat(it->second.parent, it->second.name.c_str(), parent, name.c_str(), 0) != 0)
        throw_create_error(path, "file", errno);
      return false;
    }
  }
  if (link_stored(parent, name, path, key, content.size())) return false;
  UniqueFd fd = create_file(parent, name, path, attrs.perm);
  write_all(fd.get(), content.data(), content.size(), "'" + path + "'");
  // Complete here (times, and owner, mode and capability where they differ from what it was created with);
  // only its object name goes to a third thread — a link into DEST/objects/xx that costs as much as the
  // file's own creation (another directory's blocks, its hash tree) — while this thread creates the next.
  complete_file(std::move(fd), path, content.size(), attrs, capability);
  {
    std::lock_guard<std::mutex> lock(unnamed_mutex_);
    unnamed_.emplace(id, Unnamed{dir, parent, name, key});
  }
  naming_->push(kQueuedOverhead, [this, dir, parent, name, path, key, id] {
    as_entry(path, [&] { options_.objects->adopt(parent, name, key, path); });
    std::lock_guard<std::mutex> lock(unnamed_mutex_);  // after adopt(): a later lookup then finds the object
    if (auto it = find_unnamed(id, key); it != unnamed_.end()) unnamed_.erase(it);
  });
  return true;
}

void TreeWriter::settle() {
  if (!queue_) return;
  queue_->drain();   // every small file created, its naming queued
  naming_->drain();  // and named
}

void TreeWriter::link_object(const std::vector<std::string>& parts, const ObjectKey& key, uint64_t size) {
  settle();  // a second entry for a name still queued meets it (NameExists), as without the queue
  const std::string path = join_path(parts);
  std::string why;
  switch (options_.objects->find(key, size, options_.set_owner, &why)) {
    case ObjectStore::Found::present:
      break;
    case ObjectStore::Found::absent:
      throw Error("'" + path + "': the object it needs is not in " + options_.objects->path() + " (" + key.path() + ")");
    case ObjectStore::Found::damaged:
      throw Error("'" + path + "': the object it needs is damaged: " + why);
  }
  options_.objects->link_into(key, parent_of(parts), parts.back(), path);
}

WrittenFile TreeWriter::write_file(const std::vector<std::string>& parts, const NodeAttrs& attrs,
                                   std::string_view content) {
  bool given = false;
  BlockSource once = [&](const void** data, size_t* size, int64_t* offset) {
    if (given || content.empty()) return false;
    *data = content.data();
    *size = content.size();
    *offset = 0;
    given = true;
    return true;
  };
  return write_file(parts, attrs, once, content.size(), "");
}

void TreeWriter::make_symlink(const std::vector<std::string>& parts, const std::string& target, const NodeAttrs& attrs) {
  const std::string path = join_path(parts);
  int parent = parent_of(parts);
  // The target is stored as text and never resolved here: absolute targets (/etc/alternatives/…) are fine.
  if (::symlinkat(target.c_str(), parent, parts.back().c_str()) != 0) throw_create_error(path, "symlink", errno);
  if (options_.set_owner && ::fchownat(parent, parts.back().c_str(), static_cast<uid_t>(attrs.uid),
                                       static_cast<gid_t>(attrs.gid), AT_SYMLINK_NOFOLLOW) != 0)
    throw_errno("cannot set the owner of symlink '" + path + "'");
  timespec times[2] = {attrs.mtime, attrs.mtime};
  if (::utimensat(parent, parts.back().c_str(), times, AT_SYMLINK_NOFOLLOW) != 0)
    throw_errno("cannot set the modification time of symlink '" + path + "'");
}

void TreeWriter::make_hardlink(const std::vector<std::string>& parts, const std::vector<std::string>& target) {
  settle();  // the target may still be queued
  const std::string path = join_path(parts);
  const std::string target_path = join_path(target);
  std::string target_parent = join_path(target, target.size() - 1);
  UniqueFd from = open_beneath(root_, target_parent, O_PATH | O_DIRECTORY);
  if (!from)
    throw Error("cannot hard-link '" + path + "' to '" + target_path + "': " + beneath_error_text(errno));
  // flags 0: linkat does not follow a symlink at the target name, it would link the symlink itself.
  if (::linkat(from.get(), target.back().c_str(), parent_of(parts), parts.back().c_str(), 0) != 0)
    throw_create_error(path, ("hard link to '" + target_path + "'").c_str(), errno);
}

void TreeWriter::make_node(const std::vector<std::string>& parts, mode_t type, dev_t rdev, const NodeAttrs& attrs) {
  const std::string path = join_path(parts);
  int parent = parent_of(parts);
  if (::mknodat(parent, parts.back().c_str(), type | 0600, rdev) != 0) throw_create_error(path, "device node", errno);
  // A device or FIFO cannot be opened to fchown/fchmod it without side effects (a FIFO blocks, a device
  // runs its driver's open). The *at() calls act on the name created an instant ago inside our private
  // 0700 temporary directory; fchmodat only honours AT_SYMLINK_NOFOLLOW from Linux 6.6 (fchmodat2), so that
  // private directory is what guarantees the name is still our node.
  if (options_.set_owner && ::fchownat(parent, parts.back().c_str(), static_cast<uid_t>(attrs.uid),
                                       static_cast<gid_t>(attrs.gid), AT_SYMLINK_NOFOLLOW) != 0)
    throw_errno("cannot set the owner of '" + path + "'");
  if (::fchmodat(parent, parts.back().c_str(), attrs.perm & 07777, 0) != 0)
    throw_errno("cannot set the mode of '" + path + "'");
  timespec times[2] = {attrs.mtime, attrs.mtime};
  if (::utimensat(parent, parts.back().c_str(), times, AT_SYMLINK_NOFOLLOW) != 0)
    throw_errno("cannot set the modification time of '" + path + "'");
}

void TreeWriter::finish() {
  settle();  // every file is in its directory before the directories get their final (maybe read-only) modes
  cached_parent_.reset();
  // Reverse creation order visits children before their parents: a parent made read-only (or 0000) last.
  deferred_dirs_.for_each_reverse([this](const std::string& path, const NodeAttrs& attrs) {
    UniqueFd dir = open_beneath(root_, path, O_RDONLY | O_DIRECTORY);
    if (!dir) throw Error("cannot reopen directory '" + path + "': " + beneath_error_text(errno));
    apply_attrs(dir.get(), path, attrs);
    timespec times[2] = {attrs.mtime, attrs.mtime};
    if (::futimens(dir.get(), times) != 0) throw_errno("cannot set the modification time of '" + path + "'");
  });
  // A "." entry in the archive is never applied: the release root is droot's, not the image's.
  if (::fchmod(root_, 0755) != 0) throw_errno("cannot set the mode of the release directory");
}

}  // namespace droot::exec
