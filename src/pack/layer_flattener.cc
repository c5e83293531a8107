#include "layer_flattener.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <future>
#include <optional>
#include <string_view>
#include <unordered_set>

#include "archive_ptr.h"
#include "entry_normalizer.h"
#include "error.h"
#include "gzip_inflater.h"
#include "hash.h"
#include "read_ahead.h"
#include "io.h"
#include "signals.h"
#include "spool_file.h"

namespace droot::pack {

bool walk_order_less(const std::string& a, const std::string& b) {
  const size_t n = std::min(a.size(), b.size());
  for (size_t k = 0; k < n; ++k) {
    const unsigned char x = static_cast<unsigned char>(a[k]), y = static_cast<unsigned char>(b[k]);
    if (x == y) continue;
    if (x == '/') return true;  // "a/b" before "a.c": the subtree of "a" comes before the next name
    if (y == '/') return false;
    return x < y;
  }
  return a.size() < b.size();
}

namespace {

constexpr const char* kWhiteoutPrefix = ".wh.";
constexpr const char* kOpaqueMarker = ".wh..wh..opq";
// Implicit directories (a layer holds "a/b/c" but no layer holds "a/b"): as dockerd creates them, with a time
// later than any source date, which normalisation clamps to it.
constexpr int64_t kImplicitDirTime = 253402300799;  // 9999-12-31

std::string short_digest(const std::string& digest) { return digest.substr(0, 7 + 12); }

bool has_dot_dot(const std::string& path) {
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    if (path.compare(start, end - start, "..") == 0 && end - start == 2) return true;
    start = end + 1;
  }
  return false;
}

std::string parent_of(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? "" : path.substr(0, slash);
}

// A layer blob as libarchive input: pread from its range; a gzip layer inflated by igzip when built with it
// (gzip_inflater.h), which libarchive then reads as an uncompressed tar.
constexpr size_t kInflatedRead = 128 * 1024;

struct LayerReader {
  explicit LayerReader(const LayerBlob* l) : layer(l) {}
  const LayerBlob* layer;
  uint64_t done = 0;
  std::vector<char> buf = std::vector<char>(1 << 20);
  std::unique_ptr<GzipInflater> gzip;
  std::unique_ptr<ReadAhead> inflated;  // runs `gzip` on its own thread; declared after it: stopped before it goes
  bool started = false;

  bool inflating() const { return gzip != nullptr; }
  size_t read_raw(char* out, size_t size) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(layer->blob.size - done, size));
    if (n > 0) pread_exact(layer->blob.fd, out, n, layer->blob.offset + done, layer->blob.name);
    done += n;
    return n;
  }
  static la_ssize_t read(archive* a, void* self, const void** out) {
    auto* r = static_cast<LayerReader*>(self);
    try {
      if (!r->started) {
        r->started = true;
        char head[3] = {};
        const size_t n = static_cast<size_t>(std::min<uint64_t>(r->layer->blob.size, sizeof head));
        if (n > 0) pread_exact(r->layer->blob.fd, head, n, r->layer->blob.offset, r->layer->blob.name);
        if (have_fast_gzip() && looks_like_gzip(head, n)) {
          r->gzip = std::make_unique<GzipInflater>([r](char* b, size_t size) { return r->read_raw(b, size); }, r->layer->blob.name);
          // Inflated in smaller pieces than the file is read: libarchive copies a header that straddles two
          // reads into a buffer of its own as large as a read.
          r->inflated = std::make_unique<ReadAhead>([g = r->gzip.get()](char* b, size_t size) { return g->read(b, size); },
                                                    kInflatedRead, 3);
        }
      }
      if (r->inflated) {
        const std::span<const char> chunk = r->inflated->next();
        *out = chunk.data();
        return static_cast<la_ssize_t>(chunk.size());
      }
      const size_t n = r->read_raw(r->buf.data(), r->buf.size());
      *out = r->buf.data();
      return static_cast<la_ssize_t>(n);
    } catch (const std::exception& e) {
      archive_set_error(a, EIO, "%s", e.what());
      return -1;
    }
  }
  // Skipping an uncompressed layer's hidden files costs no read (an inflated one's must be read: 0 says so).
  static la_int64_t skip(archive*, void* self, la_int64_t request) {
    auto* r = static_cast<LayerReader*>(self);
    if (!r->started || r->gzip) return 0;
    const uint64_t n = std::min<uint64_t>(static_cast<uint64_t>(std::max<la_int64_t>(request, 0)), r->layer->blob.size - r->done);
    r->done += n;
    return static_cast<la_int64_t>(n);
  }
};

ArchiveReader open_layer(LayerReader& reader, const std::string& what) {
  ArchiveReader a(archive_read_new());
  archive_read_support_filter_all(a.get());  // gzip, zstd, none (and whatever else a builder used)
  archive_read_support_format_tar(a.get());
  if (archive_read_open2(a.get(), &reader, nullptr, &LayerReader::read, &LayerReader::skip, nullptr) != ARCHIVE_OK)
    throw Error(what + ": cannot read it as a tar (gzip/zstd/uncompressed): " + archive_error(a.get()) + "; nothing was written");
  return a;
}

// The layer's next entry into `e`; false at its end. Error naming the layer (`what`) for a broken tar.
bool next_entry(archive* a, archive_entry** e, const std::string& what) {
  throw_if_interrupted();
  int rc = archive_read_next_header(a, e);
  if (rc == ARCHIVE_EOF) return false;
  if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN) throw Error(what + ": " + archive_error(a) + "; nothing was written");
  return true;
}

}  // namespace

FlatTree::FlatTree(const std::vector<LayerBlob>& layers, const std::string& spec, bool stream_bottom)
    : spec_(spec), layers_(layers), spool_(make_spool_file("the layers' content spool")) {
  for (const auto& l : layers) stamps_.push_back(stamp_of(l.blob.fd, l.blob.name));
  // Layer i is verified before it is read; the next one down is verified on another thread meanwhile (two
  // cores: hashing and flattening need not take turns).
  auto verify = [&](size_t i) {
    return std::async(std::launch::async, [&layers, i, this] {
      if (!layers[i].verified) verify_blob(layers[i].blob, layers[i].digest, spec_ + ": layer");
    });
  };
  std::future<void> verified;
  if (!layers.empty()) verified = verify(layers.size() - 1);
  for (int i = static_cast<int>(layers.size()) - 1; i >= 0; --i) {
    verified.get();
    if (i > 0) verified = verify(static_cast<size_t>(i - 1));
    ++stats_.layers;
    stats_.layer_bytes += layers[static_cast<size_t>(i)].blob.size;
    // An upper layer's hard link into the bottom layer would need content the merge has not reached yet.
    if (i == 0 && stream_bottom && pending_links_.empty()) {
      bottom_deferred_ = true;
      break;
    }
    read_layer(layers[static_cast<size_t>(i)], i);
  }
  check_unchanged(layers);
  finish_tree();
}

void FlatTree::read_bottom_layer() {
  if (!bottom_deferred_) return;
  bottom_deferred_ = false;
  read_layer(layers_.front(), 0);
  check_unchanged(layers_);
  finish_tree();
}

// After the last layer read: hard links resolved, implicit parents added (by write_tar while the bottom layer
// is still to be streamed: it may hold them), walk order.
void FlatTree::finish_tree() {
  if (!pending_links_.empty())
    throw Error(spec_ + ": a hard link points at " + pending_links_.begin()->first +
                ", which no layer below it holds as a regular file: the image is broken; nothing was written");
  if (!bottom_deferred_) add_missing_parents();
  items_.erase(std::remove_if(items_.begin(), items_.end(), [](const Item& it) { return it.dead; }), items_.end());
  std::sort(items_.begin(), items_.end(), [](const Item& a, const Item& b) { return walk_order_less(*a.path, *b.path); });
  stats_.entries_kept = items_.size();
  stats_.content_bytes = spool_size_;
}

bool FlatTree::Stamp::operator==(const Stamp& o) const {
  return dev == o.dev && ino == o.ino && size == o.size && mtime.tv_sec == o.mtime.tv_sec &&
         mtime.tv_nsec == o.mtime.tv_nsec && ctime.tv_sec == o.ctime.tv_sec && ctime.tv_nsec == o.ctime.tv_nsec;
}

FlatTree::Stamp FlatTree::stamp_of(int fd, const std::string& name) {
  struct stat st{};
  if (::fstat(fd, &st) != 0) throw_errno("cannot stat " + name);
  return Stamp{st.st_dev, st.st_ino, st.st_size, st.st_mtim, st.st_ctim};
}

// A blob verified and then rewritten before (or while) it is read is caught by its change time: hashing every
// byte a second time as it is read cost a third of the flattening time.
void FlatTree::check_unchanged(const std::vector<LayerBlob>& layers) const {
  for (size_t i = 0; i < layers.size(); ++i)
    if (!(stamp_of(layers[i].blob.fd, layers[i].blob.name) == stamps_[i]))
      throw Error(spec_ + ": " + layers[i].blob.name + " changed while droot-pack read it; nothing was written");
}

bool FlatTree::hidden(const std::string& path, int layer) const {
  if (auto it = nodes_.find(path); it != nodes_.end() && it->second.layer > layer) return true;
  // The root made opaque (".wh..wh..opq" at the top of a layer) hides every lower layer.
  if (auto root = nodes_.find(std::string()); root != nodes_.end() && root->second.opaque_layer > layer) return true;
  // Every ancestor: deleted, replaced by a non-directory, or made opaque by a layer above.
  for (size_t slash = path.find('/'); slash != std::string::npos; slash = path.find('/', slash + 1)) {
    auto it = nodes_.find(path.substr(0, slash));
    if (it == nodes_.end()) continue;
    const Node& n = it->second;
    if (n.opaque_layer > layer) return true;
    if (n.layer > layer && (n.whiteout || !n.is_dir)) return true;
  }
  return false;
}

int32_t FlatTree::add_inode(const Meta& meta) {
  inodes_.push_back(Inode{meta});
  return static_cast<int32_t>(inodes_.size() - 1);
}

void FlatTree::add_item(const std::string& path, const Meta& meta, int32_t inode, int layer) {
  auto [where, inserted] = nodes_.try_emplace(path);
  Node& n = where->second;
  if (n.layer == layer && n.item >= 0) items_[static_cast<size_t>(n.item)].dead = true;  // a later entry wins
  n.layer = layer;
  n.whiteout = false;
  n.is_dir = meta.type == AE_IFDIR;
  if (inode >= 0) {
    items_.push_back(Item{&where->first, inode, true});
  } else {
    metas_.push_back(meta);
    items_.push_back(Item{&where->first, static_cast<int32_t>(metas_.size() - 1), false});
  }
  n.item = static_cast<int32_t>(items_.size() - 1);
}

void FlatTree::spool_content(archive* a, archive_entry* e, const LayerBlob& layer, bool inflated, Inode& ino, const std::string& what) {
  // An uncompressed layer (docker save's) holds the content in one piece at the position the tar reader has
  // reached: remember where, instead of copying it (no spool space, half the I/O).
  if (!inflated && archive_filter_count(a) == 1 && archive_filter_code(a, 0) == ARCHIVE_FILTER_NONE && archive_entry_size_is_set(e) &&
      archive_entry_sparse_count(e) == 0) {
    const la_int64_t at = archive_filter_bytes(a, 0);
    const la_int64_t size = archive_entry_size(e);
    if (at >= 0 && size >= 0 && static_cast<uint64_t>(at) + static_cast<uint64_t>(size) <= layer.blob.size) {
      ino.source_fd = layer.blob.fd;
      ino.offset = layer.blob.offset + static_cast<uint64_t>(at);
      ino.size = static_cast<uint64_t>(size);
      ino.ready = true;
      return;
    }
  }
  ino.offset = spool_size_;
  std::vector<char> buf(256 * 1024);
  for (;;) {
    la_ssize_t n = archive_read_data(a, buf.data(), buf.size());
    if (n < 0) throw Error(what + ": " + archive_error(a) + "; nothing was written");
    if (n == 0) break;
    pwrite_all(spool_.get(), buf.data(), static_cast<size_t>(n), spool_size_, "the layers' content spool");
    spool_size_ += static_cast<uint64_t>(n);
  }
  ino.size = spool_size_ - ino.offset;
  ino.ready = true;
}

FlatTree::Meta FlatTree::meta_of(archive_entry* e) {
  Meta m;
  m.type = archive_entry_filetype(e);
  m.mode = static_cast<uint32_t>(archive_entry_perm(e)) & 07777;
  m.uid = archive_entry_uid(e);
  m.gid = archive_entry_gid(e);
  m.mtime = archive_entry_mtime_is_set(e) ? archive_entry_mtime(e) : 0;
  m.mtime_nsec = archive_entry_mtime_is_set(e) ? archive_entry_mtime_nsec(e) : 0;
  Extra extra;
  if (const char* s = archive_entry_symlink(e)) extra.symlink = s;
  m.rdevmajor = static_cast<uint32_t>(archive_entry_rdevmajor(e));
  m.rdevminor = static_cast<uint32_t>(archive_entry_rdevminor(e));
  archive_entry_xattr_reset(e);
  const char* xname = nullptr;
  const void* xvalue = nullptr;
  size_t xsize = 0;
  // A libarchive-written layer carries each attribute twice (LIBARCHIVE.xattr and SCHILY.xattr records),
  // which libarchive reads back as two: keep one per name, as dockerd's export has.
  while (archive_entry_xattr_next(e, &xname, &xvalue, &xsize) == ARCHIVE_OK) {
    std::string value(static_cast<const char*>(xvalue), xsize);
    auto same = std::find_if(extra.xattrs.begin(), extra.xattrs.end(), [&](const auto& x) { return x.first == xname; });
    if (same != extra.xattrs.end()) same->second = std::move(value);
    else extra.xattrs.emplace_back(xname, std::move(value));
  }
  if (!extra.symlink.empty() || !extra.xattrs.empty()) m.extra = std::make_shared<const Extra>(std::move(extra));
  return m;
}

void FlatTree::read_layer(const LayerBlob& layer, int index) {
  const std::string what = spec_ + ": layer " + short_digest(layer.digest);
  LayerReader reader{&layer};
  ArchiveReader a = open_layer(reader, what);
  // This layer's hidden regular files and hard links by path → inode, for hard links later in the same layer
  // (a kept one is found through nodes_: the paths of a layer are not stored twice).
  std::unordered_map<std::string, int32_t> layer_files;
  auto kept_in_this_layer = [&](const std::string& target) -> std::optional<int32_t> {
    auto n = nodes_.find(target);
    if (n == nodes_.end() || n->second.layer != index || n->second.item < 0) return std::nullopt;
    const Item& it = items_[static_cast<size_t>(n->second.item)];
    if (!it.is_inode || it.dead) return std::nullopt;
    return it.index;
  };
  std::unordered_map<std::string, int32_t> hidden_needed;  // hidden files whose content a kept link needs
  std::vector<Meta> hidden_files;  // this layer's hidden regular files: layer_files holds -(index + 1)
  archive_entry* e = nullptr;
  while (next_entry(a.get(), &e, what)) {
    ++stats_.entries_read;
    const std::string raw = archive_entry_pathname(e) ? archive_entry_pathname(e) : "";
    const std::string path = relative_path(raw.c_str());
    if (has_dot_dot(path))
      throw Error(what + ": entry '" + raw + "' has a '..' component (path traversal): the image is hostile or broken; "
                  "nothing was written");
    if (path.empty()) continue;  // the root directory: the artifact has none
    const std::string dir = parent_of(path);
    const std::string base = dir.empty() ? path : path.substr(dir.size() + 1);
    if (base.rfind(kWhiteoutPrefix, 0) == 0) {
      if (base == kOpaqueMarker) {
        // Hides what the layers below hold in dir/, whoever decided dir itself (a layer above may have
        // re-created it as a directory too: the layers below this one are still hidden).
        Node& n = nodes_[dir];
        n.opaque_layer = std::max(n.opaque_layer, index);
      } else if (base.rfind(".wh..wh.", 0) == 0) {
        // aufs's own bookkeeping (.wh..wh.plnk, .wh..wh.aufs): not part of the tree.
      } else {
        const std::string name = base.substr(4);
        if (name.empty() || name == "." || name == "..")
          throw Error(what + ": whiteout '" + raw + "' deletes '" + name + "', which is not a name: the image is hostile "
                      "or broken; nothing was written");
        const std::string target = dir.empty() ? name : dir + "/" + name;
        if (!hidden(target, index)) {
          Node& n = nodes_[target];
          if (n.layer < index) {
            n.layer = index;
            n.whiteout = true;
          }
        }
      }
      continue;
    }
    const Meta m = meta_of(e);
    const bool keep = !hidden(path, index);
    if (const char* link = archive_entry_hardlink(e)) {
      const std::string target = relative_path(link);
      if (target.empty() || has_dot_dot(target))
        throw Error(what + ": hard link '" + raw + "' points at '" + link + "', outside the image; nothing was written");
      int32_t ino;
      if (auto kept = kept_in_this_layer(target)) {
        ino = *kept;
      } else if (auto it = layer_files.find(target); it != layer_files.end()) {
        ino = it->second;
        if (ino < 0 && keep) {  // a hidden file of this layer that a kept link needs: give it an inode now
          ino = add_inode(hidden_files[static_cast<size_t>(-ino - 1)]);
          it->second = ino;
        }
        if (ino < 0) {  // hidden too
          layer_files[path] = ino;
          continue;
        }
      } else if (auto p = pending_links_.find(target); p != pending_links_.end()) {
        ino = p->second;
      } else {
        ino = add_inode(Meta{});  // filled from the first lower layer that holds `target`
        pending_links_[target] = ino;
      }
      if (!keep) layer_files[path] = ino;
      if (keep) {
        inodes_[static_cast<size_t>(ino)].needed = true;
        // The target is in this layer but hidden (a layer above deleted it): its content is read again below.
        if (!inodes_[static_cast<size_t>(ino)].ready && layer_files.count(target)) hidden_needed[target] = ino;
        add_item(path, m, ino, index);
      }
      continue;
    }
    if (m.type == AE_IFREG) {
      int32_t ino;
      bool requested = false;
      if (auto p = pending_links_.find(path); p != pending_links_.end()) {
        ino = p->second;  // an upper layer's hard link to this file
        pending_links_.erase(p);
        requested = true;
        inodes_[static_cast<size_t>(ino)].meta = m;
      } else if (keep) {
        ino = add_inode(m);
      } else {
        // Hidden by a layer above: only a later hard link of this layer could still need it (its metadata is
        // kept for this layer only; the paths it shadows cost nothing after it).
        hidden_files.push_back(m);
        layer_files[path] = -static_cast<int32_t>(hidden_files.size());
        continue;
      }
      if (!keep) layer_files[path] = ino;
      if (keep || requested) spool_content(a.get(), e, layer, reader.inflating(), inodes_[static_cast<size_t>(ino)], what + ": " + path);
      if (keep) add_item(path, m, ino, index);
      continue;
    }
    if (keep) add_item(path, m, -1, index);
  }
  // A kept hard link whose target this layer holds but a layer above deleted: read the layer again for it.
  std::unordered_map<std::string, int32_t> wanted;
  for (const auto& [p, ino] : hidden_needed)
    if (!inodes_[static_cast<size_t>(ino)].ready) wanted[p] = ino;
  if (!wanted.empty()) spool_hidden(layer, index, wanted);
}

void FlatTree::spool_hidden(const LayerBlob& layer, int index, const std::unordered_map<std::string, int32_t>& wanted) {
  (void)index;
  const std::string what = spec_ + ": layer " + short_digest(layer.digest);
  LayerReader reader{&layer};
  ArchiveReader a = open_layer(reader, what);
  archive_entry* e = nullptr;
  while (next_entry(a.get(), &e, what)) {
    if (archive_entry_hardlink(e) || archive_entry_filetype(e) != AE_IFREG) continue;
    auto it = wanted.find(relative_path(archive_entry_pathname(e)));
    if (it == wanted.end()) continue;
    Inode& ino = inodes_[static_cast<size_t>(it->second)];
    if (!ino.ready) spool_content(a.get(), e, layer, reader.inflating(), ino, what + ": " + it->first);
  }
}

void FlatTree::add_missing_parents() {
  std::vector<std::string> missing;
  std::unordered_set<std::string> added;
  for (const auto& it : items_) {
    if (it.dead) continue;
    for (std::string p = parent_of(*it.path); !p.empty(); p = parent_of(p)) {
      auto n = nodes_.find(p);
      if (n != nodes_.end() && n->second.item >= 0 && !n->second.whiteout) break;
      if (!added.insert(p).second) break;
      missing.push_back(p);
    }
  }
  for (const auto& p : missing) {
    Meta m;
    m.type = AE_IFDIR;
    m.mode = 0755;
    m.mtime = kImplicitDirTime;
    auto where = nodes_.try_emplace(p).first;
    where->second.is_dir = true;
    metas_.push_back(m);
    where->second.item = static_cast<int32_t>(items_.size());
    items_.push_back(Item{&where->first, static_cast<int32_t>(metas_.size() - 1), false});
  }
}

void FlatTree::write_entry(archive* w, const std::string& path, const Meta& m, bool regular, const std::string* link_to,
                           uint64_t size, const std::function<void(char*, size_t, uint64_t)>& fill) const {
  ArchiveEntry e(archive_entry_new());
  archive_entry_set_pathname(e.get(), path.c_str());
  archive_entry_set_filetype(e.get(), regular ? AE_IFREG : m.type);
  archive_entry_set_perm(e.get(), m.mode);
  archive_entry_set_uid(e.get(), m.uid);
  archive_entry_set_gid(e.get(), m.gid);
  archive_entry_set_mtime(e.get(), m.mtime, m.mtime_nsec);
  if (m.extra && !m.extra->symlink.empty()) archive_entry_set_symlink(e.get(), m.extra->symlink.c_str());
  if (m.type == AE_IFCHR || m.type == AE_IFBLK) {
    archive_entry_set_rdevmajor(e.get(), m.rdevmajor);
    archive_entry_set_rdevminor(e.get(), m.rdevminor);
  }
  if (m.extra)
    for (const auto& [name, value] : m.extra->xattrs)
      archive_entry_xattr_add_entry(e.get(), name.c_str(), value.data(), value.size());
  if (link_to) archive_entry_set_hardlink(e.get(), link_to->c_str());
  archive_entry_set_size(e.get(), regular && !link_to ? static_cast<la_int64_t>(size) : 0);
  if (archive_write_header(w, e.get()) != ARCHIVE_OK)
    throw Error("writing the flattened tree at " + path + ": " + archive_error(w));
  if (!regular || link_to) return;
  static thread_local std::vector<char> buf(256 * 1024);
  for (uint64_t done = 0; done < size;) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(buf.size(), size - done));
    fill(buf.data(), n, done);
    if (archive_write_data(w, buf.data(), n) != static_cast<la_ssize_t>(n))
      throw Error("writing the flattened tree at " + path + ": " + archive_error(w));
    done += n;
  }
}

// The bottom layer read by write_tar: its kept entries one by one, in walk order. Anything it cannot stream
// (see the header) is BottomLayerNotStreamable, every read error included: the usual reading reports those.
class FlatTree::BottomStream {
 public:
  explicit BottomStream(const FlatTree& tree)
      : tree_(tree), layer_(tree.layers_.front()), what_(tree.spec_ + ": layer " + short_digest(layer_.digest)),
        reader_{&layer_}, a_(guard([&] { return open_layer(reader_, what_); })) {}

  // The next kept entry (path(), meta(), regular(), link_to(), size()); false at the end of the layer.
  bool next() {
    return guard([&] {
      archive_entry* e = nullptr;
      while (next_entry(a_.get(), &e, what_)) {
        const char* raw = archive_entry_pathname(e);
        std::string path = relative_path(raw ? raw : "");
        if (has_dot_dot(path)) throw BottomLayerNotStreamable("a path with '..'");
        if (path.empty()) continue;
        const size_t slash = path.rfind('/');
        const std::string_view base = slash == std::string::npos ? std::string_view(path) : std::string_view(path).substr(slash + 1);
        if (base.rfind(kWhiteoutPrefix, 0) == 0) {
          // Nothing is below the bottom layer: its whiteouts and opaque marks hide nothing. A malformed one is
          // still an error, which the usual reading gives.
          const std::string_view name = base.substr(4);
          if (base.rfind(".wh..wh.", 0) != 0 && (name.empty() || name == "." || name == ".."))
            throw BottomLayerNotStreamable("a whiteout that names nothing");
          continue;
        }
        if (tree_.hidden(path, 0)) continue;
        // The merge needs walk order; a path named twice (the later entry wins) is out of order too.
        if (!path_.empty() && !walk_order_less(path_, path))
          throw BottomLayerNotStreamable(path + " comes after " + path_ + ": not in walk order");
        path_ = std::move(path);
        meta_ = meta_of(e);
        link_to_ = nullptr;
        size_ = 0;
        regular_ = false;
        if (const char* link = archive_entry_hardlink(e)) {
          // Linked to a regular file (or link) this layer already wrote: the group's first path in walk order
          // holds the content, with its metadata. Anything else (a file hidden by a layer above, one further
          // on, none) is resolved by the usual reading.
          const std::string target = relative_path(link);
          const Group* g = nullptr;
          if (auto f = files_.find(target); f != files_.end()) g = &*f;
          else if (auto l = links_.find(target); l != links_.end()) g = l->second;
          if (!g) throw BottomLayerNotStreamable("hard link " + path_ + " to " + target);
          meta_ = g->second;
          link_to_ = &g->first;
          regular_ = true;
          links_.emplace(path_, g);
        } else if (meta_.type == AE_IFREG) {
          if (!archive_entry_size_is_set(e) || archive_entry_size(e) < 0 || archive_entry_sparse_count(e) != 0)
            throw BottomLayerNotStreamable(path_ + " has no plain size");
          size_ = static_cast<uint64_t>(archive_entry_size(e));
          regular_ = true;
          files_.emplace(path_, meta_);
        }
        return true;
      }
      return false;
    });
  }
  const std::string& path() const { return path_; }
  const Meta& meta() const { return meta_; }
  bool regular() const { return regular_; }
  const std::string* link_to() const { return link_to_; }
  uint64_t size() const { return size_; }
  // The current regular file's next `n` bytes.
  void read(char* buf, size_t n) {
    guard([&] {
      for (size_t done = 0; done < n;) {
        la_ssize_t got = archive_read_data(a_.get(), buf + done, n - done);
        if (got < 0) throw Error(what_ + ": " + path_ + ": " + archive_error(a_.get()));
        if (got == 0) throw BottomLayerNotStreamable(path_ + " is shorter than its header says");
        done += static_cast<size_t>(got);
      }
      return 0;
    });
  }

 private:
  using Group = std::pair<const std::string, Meta>;
  // Every read error becomes BottomLayerNotStreamable; an interruption stays one.
  template <typename F>
  auto guard(F f) -> decltype(f()) {
    try {
      return f();
    } catch (const Interrupted&) {
      throw;
    } catch (const BottomLayerNotStreamable&) {
      throw;
    } catch (const Error& e) {
      throw BottomLayerNotStreamable(e.what());
    }
  }

  const FlatTree& tree_;
  const LayerBlob& layer_;
  const std::string what_;
  LayerReader reader_;
  ArchiveReader a_;
  std::string path_;
  Meta meta_;
  const std::string* link_to_ = nullptr;
  uint64_t size_ = 0;
  bool regular_ = false;
  // The regular files written so far, for the hard links after them (what nodes_ holds for the other layers,
  // with less: the path and its metadata), and the hard links, each to its group's first path.
  std::unordered_map<std::string, Meta> files_;
  std::unordered_map<std::string, const Group*> links_;
};

// Walk-order merge of the tree (the layers above) and the streamed bottom layer. Implicit parent directories
// are written as the merge reaches them: the walk writes a directory just before its subtree, so a parent not
// yet written when its first descendant comes is one that neither side holds.
void FlatTree::write_merged(archive* w, const std::function<void(const Item&)>& write_item) const {
  BottomStream bottom(*this);
  std::vector<std::string> open;  // the written ancestors of the last path written, outermost first
  Meta implicit;
  implicit.type = AE_IFDIR;
  implicit.mode = 0755;
  implicit.mtime = kImplicitDirTime;
  auto parents = [&](const std::string& path) {
    while (!open.empty() && !(path.size() > open.back().size() && path.compare(0, open.back().size(), open.back()) == 0 &&
                              path[open.back().size()] == '/'))
      open.pop_back();
    for (size_t slash = path.find('/', open.empty() ? 0 : open.back().size() + 1); slash != std::string::npos;
         slash = path.find('/', slash + 1)) {
      open.push_back(path.substr(0, slash));
      write_entry(w, open.back(), implicit, false, nullptr, 0, {});
    }
    open.push_back(path);
  };
  bool more = bottom.next();
  for (size_t i = 0; i < items_.size() || more;) {
    throw_if_interrupted();
    if (more && (i == items_.size() || walk_order_less(bottom.path(), *items_[i].path))) {
      parents(bottom.path());
      write_entry(w, bottom.path(), bottom.meta(), bottom.regular(), bottom.link_to(), bottom.size(),
                  [&](char* buf, size_t n, uint64_t) { bottom.read(buf, n); });
      more = bottom.next();
    } else {
      if (more && bottom.path() == *items_[i].path)  // hidden() keeps this from happening
        throw BottomLayerNotStreamable("internal: " + bottom.path() + " on both sides of the merge");
      parents(*items_[i].path);
      write_item(items_[i]);
      ++i;
    }
  }
}

void FlatTree::write_tar(int fd, std::atomic<uint64_t>* written, std::atomic<bool>* reader_gone) const {
  struct Sink {
    int fd;
    std::atomic<uint64_t>* written;
    std::atomic<bool>* reader_gone;
    static la_ssize_t write(archive* a, void* self, const void* data, size_t size) {
      auto* s = static_cast<Sink*>(self);
      try {
        write_all(s->fd, data, size, "the flattened tree's pipe");
      } catch (const std::exception& e) {
        if (errno == EPIPE && s->reader_gone) *s->reader_gone = true;  // the reader has its own error to report
        archive_set_error(a, EPIPE, "%s", e.what());
        return -1;
      }
      if (s->written) *s->written += size;
      return static_cast<la_ssize_t>(size);
    }
  } sink{fd, written, reader_gone};
  ArchiveWriter w(archive_write_new());
  archive_write_set_format_pax_restricted(w.get());
  // Names are bytes, as the layers had them (the Engine's export does the same): no translation to UTF-8,
  // which fails for non-UTF-8 names and in the C locale droot-pack runs in.
  archive_write_set_format_option(w.get(), "pax", "hdrcharset", "BINARY");
  // One record per extended attribute, SCHILY.xattr as dockerd writes it: libarchive's default adds a
  // LIBARCHIVE.xattr twin, which its reader would hand to the packer as a second attribute.
  archive_write_set_format_option(w.get(), "pax", "xattrheader", "SCHILY");
  archive_write_add_filter_none(w.get());
  // The pipe is written in the reader's own 256 KiB pieces: libarchive's 10 KiB default was a write(2) and
  // often a switch to the reader every 10 KiB of the tree.
  archive_write_set_bytes_per_block(w.get(), 256 * 1024);
  archive_write_set_bytes_in_last_block(w.get(), 1);
  if (archive_write_open(w.get(), &sink, nullptr, &Sink::write, nullptr) != ARCHIVE_OK)
    throw Error("cannot write the flattened tree: " + archive_error(w.get()));
  std::vector<const std::string*> first_path(inodes_.size(), nullptr);
  auto write_item = [&](const Item& it) {
    const Inode* ino = it.is_inode ? &inodes_[static_cast<size_t>(it.index)] : nullptr;
    const Meta& m = ino ? ino->meta : metas_[static_cast<size_t>(it.index)];
    const std::string& path = *it.path;
    const std::string* link_to = ino ? first_path[static_cast<size_t>(it.index)] : nullptr;
    if (ino && !link_to) {
      first_path[static_cast<size_t>(it.index)] = it.path;
      if (!ino->ready) throw Error("internal: " + path + " has no content in " + spec_);
    }
    write_entry(w.get(), path, m, ino != nullptr, link_to, ino ? ino->size : 0, [&](char* buf, size_t n, uint64_t done) {
      if (ino->source_fd >= 0) pread_exact(ino->source_fd, buf, n, ino->offset + done, spec_);
      else pread_exact(spool_.get(), buf, n, ino->offset + done, "the layers' content spool");
    });
  };
  if (bottom_deferred_) {
    write_merged(w.get(), write_item);
  } else {
    for (const Item& it : items_) {
      throw_if_interrupted();
      write_item(it);
    }
  }
  check_unchanged(layers_);  // before the end of the tar: a changed layer must not end in a complete artifact
  if (archive_write_close(w.get()) != ARCHIVE_OK) throw Error("writing the flattened tree: " + archive_error(w.get()));
}

FlatTreeStream::FlatTreeStream(const FlatTree& tree)
    : TreeStream([&tree](int fd, std::atomic<uint64_t>& bytes, std::atomic<bool>& reader_gone) { tree.write_tar(fd, &bytes, &reader_gone); },
                 "the flattened tree") {}

}  // namespace droot::pack
