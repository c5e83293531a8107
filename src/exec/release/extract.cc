#include "extract.h"

#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <optional>
#include <set>
#include <vector>

#include "artifact_config.h"
#include "beneath.h"
#include "error.h"
#include "line_splitter.h"
#include "extracted_records.h"
#include "manifest_diff.h"
#include "delta_needs.h"
#include "mtree.h"
#include "object_store.h"
#include "payload_reader.h"
#include "tree_writer.h"

namespace droot::exec {
namespace {

constexpr uint64_t kMaxConfigSize = 16 << 20;
constexpr size_t kDifferencesShown = 5;

// The metadata entries droot-pack adds around the rootfs (droot-artifact(5), "Entry order").
enum class Metadata { none, config, drootenv, delta, manifest };

Metadata metadata_kind(const std::string& path) {
  if (path == kConfigPath) return Metadata::config;
  if (path == kDeltaPath) return Metadata::delta;
  if (path == kDrootEnvPath) return Metadata::drootenv;
  if (path == kManifestPath) return Metadata::manifest;
  return Metadata::none;
}

bool is_reserved(const std::string& path) {
  return path == ".droot" || path.rfind(".droot/", 0) == 0 || path == kDrootEnvPath;
}

NodeAttrs attrs_of(archive_entry* e) {
  NodeAttrs a;
  a.perm = static_cast<uint32_t>(archive_entry_perm(e)) & 07777;
  a.uid = static_cast<uint64_t>(archive_entry_uid(e));
  a.gid = static_cast<uint64_t>(archive_entry_gid(e));
  if (archive_entry_mtime_is_set(e)) a.mtime = {archive_entry_mtime(e), archive_entry_mtime_nsec(e)};
  return a;
}

ManifestEntry record_of(const std::string& path, const std::string& type, const NodeAttrs& a) {
  ManifestEntry m;
  m.path = path;
  m.type = type;
  m.mode = a.perm;
  m.uid = a.uid;
  m.gid = a.gid;
  return m;
}

// With a frame index and a store: a content frame whose object the store has is not decoded.
FrameSkipping frame_skipping(const VerifiedPayload& payload, const ExtractOptions& options) {
  FrameSkipping skipping{payload.frames, nullptr};
  if (payload.frames == nullptr || options.objects == nullptr) return skipping;
  skipping.stored = [objects = options.objects, owners = options.set_owner](const ContentKey& k) {
    const ObjectKey key = object_key(k.sha256, k.mode, k.uid, k.gid, timespec{static_cast<time_t>(k.sec), k.nsec}, "", "");
    std::string why;
    // A damaged object is not "stored": the frame is decoded and the file written anew, as without an index.
    return objects->find(key, k.size, owners, &why) == ObjectStore::Found::present;
  };
  return skipping;
}

class Extraction {
 public:
  Extraction(const VerifiedPayload& payload, int root, const ExtractOptions& options)
      : payload_(payload),
        options_(options),
        reader_(payload.fd, payload.size, payload.name, frame_skipping(payload, options)),
        writer_(root, TreeWriter::Options{options.set_owner, options.poll, options.writeback, options.objects}),
        records_(root, payload.name + ": .droot/manifest.mtree") {}

  ExtractResult run() {
    archive* a = reader_.get();
    archive_entry* entry = nullptr;
    for (;;) {
      int rc = archive_read_next_header(a, &entry);
      if (rc == ARCHIVE_EOF) break;
      if (rc < ARCHIVE_WARN) throw Error(payload_.name + ": corrupt payload: " + archive_error(a));
      if (options_.poll) options_.poll();
      const char* raw = archive_entry_pathname(entry);
      current_ = raw ? raw : "";
      handle(entry);
    }
    current_.clear();
    finish();
    return std::move(result_);
  }

  // Prefixes the artifact and the entry being handled to any error.
  std::string context() const {
    return payload_.name + (current_.empty() ? "" : ": entry '" + mtree_escape(current_) + "'");
  }

 private:
  [[noreturn]] void refuse(const std::string& why) const { throw Error(why); }

  void handle(archive_entry* e) {
    if (manifest_seen_) refuse("comes after .droot/manifest.mtree, which must be the last entry");
    if (delta_seen_ && current_ != kManifestPath)
      refuse("comes after .droot/delta.mtree, which only .droot/manifest.mtree may follow");
    std::vector<std::string> parts;
    try {
      parts = split_entry_path(current_);
    } catch (const Error& err) {
      refuse(err.what());
    }
    if (parts.empty()) {
      // Docker never exports one, other tars do: its mode and owner would apply to the release root.
      if (archive_entry_filetype(e) != AE_IFDIR) refuse("the root entry '.' is not a directory");
      if (options_.note) options_.note("ignoring the '.' entry: the release root is always 0755");
      return;
    }
    const std::string path = join_path(parts);
    if (Metadata kind = metadata_kind(path); kind != Metadata::none) return handle_metadata(e, parts, kind);
    if (is_reserved(path)) refuse("the name is reserved for droot's metadata (.droot/, .drootenv)");
    // A second entry for a path meets the first one's name in the tree: NameExists, refused there.
    records_.add(write_entry(e, parts, path));
    ++result_.entries;
  }

  ManifestEntry write_entry(archive_entry* e, const std::vector<std::string>& parts, const std::string& path) {
    const NodeAttrs attrs = attrs_of(e);
    if (const char* target = archive_entry_hardlink(e)) return write_hardlink(parts, path, target);
    std::string capability = keep_capability(e, archive_entry_filetype(e) == AE_IFREG);
    switch (archive_entry_filetype(e)) {
      case AE_IFDIR:
        writer_.make_dir(parts, attrs);
        return record_of(path, "dir", attrs);
      case AE_IFREG: {
        const std::optional<Skip> frame = reader_.content_frame();
        if (frame) {
          check_content_key(attrs, capability, e, *frame);
          if (!frame->decoded) return link_skipped(parts, path, attrs, e, *frame);
          reader_.take_decoded();
        }
        ManifestEntry m = record_of(path, "file", attrs);
        const auto size = static_cast<uint64_t>(archive_entry_size(e));
        WrittenFile w = options_.objects ? writer_.store_file(parts, attrs, data_blocks(), size, capability)
                                         : writer_.write_file(parts, attrs, data_blocks(), size, capability);
        m.size = w.size;
        m.sha256 = w.sha256;
        // Decoded or not, a content frame holds what its key says: the same file deploys the same way whatever
        // DEST holds.
        if (frame && w.sha256 != frame->key.sha256)
          refuse("its content (sha256 " + w.sha256 + ") is not what the frame index's key for it says (" +
                 frame->key.sha256 + "); the artifact was not written by droot-pack, or by a broken one");
        ++result_.files;
        result_.bytes += w.size;
        if (w.stored) {
          ++result_.stored_files;
          result_.stored_bytes += w.size;
        }
        return m;
      }
      case AE_IFLNK: {
        const char* target = archive_entry_symlink(e);
        if (target == nullptr || *target == '\0') refuse("symlink without a target");
        writer_.make_symlink(parts, target, attrs);
        ManifestEntry m = record_of(path, "link", attrs);
        m.link = target;
        return m;
      }
      case AE_IFCHR:
      case AE_IFBLK:
      case AE_IFIFO: {
        const auto type = static_cast<mode_t>(archive_entry_filetype(e));
        const char* name = type == AE_IFCHR ? "char" : type == AE_IFBLK ? "block" : "fifo";
        if (!options_.allow_devices) {
          const std::string what = type == AE_IFIFO ? "a FIFO" : "a device node";
          // Under dev/ it could never be used (run mounts its own /dev there): an artifact of an older droot-pack,
          // which did not drop these yet (droot-artifact(5), "Special files").
          if (parts.size() > 1 && parts[0] == "dev")
            refuse(what + " under dev/, where droot-exec run mounts its own /dev: droot-pack now drops these, so "
                   "re-pack the image with it (or deploy with --allow-devices)");
          refuse(what + " (refused unless deploy is given --allow-devices)");
        }
        writer_.make_node(parts, type, archive_entry_rdev(e), attrs);
        return record_of(path, name, attrs);
      }
      default:
        refuse("unsupported entry type (sockets and unknown types are never extracted)");
    }
  }

  // The header of a file whose content is a frame of its own must be the one the index keyed the frame by.
  void check_content_key(const NodeAttrs& attrs, const std::string& capability, archive_entry* e, const Skip& frame) {
    const ContentKey& k = frame.key;
    const auto size = static_cast<uint64_t>(archive_entry_size(e));
    if (size == k.size && (size + 511) / 512 * 512 == frame.tar_bytes && attrs.perm == k.mode && attrs.uid == k.uid &&
        attrs.gid == k.gid && attrs.mtime.tv_sec == k.sec && static_cast<uint32_t>(attrs.mtime.tv_nsec) == k.nsec &&
        capability.empty() && archive_entry_sparse_count(e) == 0)
      return;
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", k.mode);
    refuse("its tar header does not match the frame index's key for its content (size " + std::to_string(k.size) +
           ", mode " + mode + ", uid " + std::to_string(k.uid) + ", gid " + std::to_string(k.gid) + ", mtime " +
           std::to_string(k.sec) + "); the artifact was not written by droot-pack, or by a broken one");
  }

  // A file whose content frame was not decoded: linked from the store. Its sha256 is the index's key, which
  // the manifest comparison at the end checks like any other (libarchive then skips the data, through
  // PayloadReader::on_skip).
  ManifestEntry link_skipped(const std::vector<std::string>& parts, const std::string& path, const NodeAttrs& attrs,
                             archive_entry* e, const Skip& skipped) {
    const auto size = static_cast<uint64_t>(archive_entry_size(e));
    writer_.link_object(parts, object_key(skipped.key.sha256, attrs.perm, attrs.uid, attrs.gid, attrs.mtime, "", path), size);
    ManifestEntry m = record_of(path, "file", attrs);
    m.size = size;
    m.sha256 = skipped.key.sha256;
    ++result_.files;
    result_.bytes += size;
    ++result_.not_decoded_files;
    result_.not_decoded_bytes += size;
    return m;
  }

  ManifestEntry write_hardlink(const std::vector<std::string>& parts, const std::string& path, const char* raw_target) {
    std::vector<std::string> target;
    try {
      target = split_entry_path(raw_target);
    } catch (const Error& err) {
      refuse("hard link target '" + mtree_escape(raw_target) + "': " + err.what());
    }
    // An earlier entry of this archive is the only thing a hard link may share an inode with: a later one
    // does not exist yet, and anything else would be a file of the host or of an older release.
    ManifestEntry m;  // one inode: the target's mode, owner and content
    if (target.empty() || !records_.find(join_path(target), m))
      refuse("hard link to '" + mtree_escape(raw_target) + "', which is not an earlier entry of the archive");
    if (m.type != "file")
      refuse("hard link to '" + mtree_escape(raw_target) + "', which is a " + m.type + ", not a regular file");
    writer_.make_hardlink(parts, target);
    m.path = path;
    ++result_.files;
    return m;
  }

  // The only extended attribute kept is security.capability on regular files (ping, arping need it).
  std::string keep_capability(archive_entry* e, bool regular_file) {
    std::string capability;
    const char* name = nullptr;
    const void* value = nullptr;
    size_t size = 0;
    std::set<std::string> dropped;  // pax carries each xattr twice (LIBARCHIVE.xattr and SCHILY.xattr)
    archive_entry_xattr_reset(e);
    while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
      if (regular_file && std::string_view(name) == "security.capability")
        capability.assign(static_cast<const char*>(value), size);
      else if (dropped.insert(name).second && options_.note)
        options_.note(mtree_escape(current_) + ": dropping extended attribute " + name);
    }
    return capability;
  }

  BlockSource data_blocks() {
    return [a = reader_.get(), this](const void** data, size_t* size, int64_t* offset) {
      la_int64_t off = 0;
      int rc = archive_read_data_block(a, data, size, &off);
      if (rc == ARCHIVE_EOF) return false;
      if (rc < ARCHIVE_WARN) throw Error("corrupt payload: " + archive_error(a));
      *offset = off;
      return true;
    };
  }

  std::string read_small(archive_entry* e, uint64_t limit) {
    const auto size = static_cast<uint64_t>(archive_entry_size(e));
    if (size > limit) refuse("too large (" + std::to_string(size) + " bytes, at most " + std::to_string(limit) + ")");
    std::string out(size, '\0');
    la_ssize_t n = size ? archive_read_data(reader_.get(), out.data(), out.size()) : 0;
    if (n < 0 || static_cast<uint64_t>(n) != size) refuse("cannot read its data: " + archive_error(reader_.get()));
    return out;
  }

  void handle_metadata(archive_entry* e, const std::vector<std::string>& parts, Metadata kind) {
    if (archive_entry_filetype(e) != AE_IFREG || archive_entry_hardlink(e) != nullptr) refuse("must be a regular file");
    bool& seen = kind == Metadata::config     ? config_seen_
                 : kind == Metadata::drootenv ? drootenv_seen_
                 : kind == Metadata::delta    ? delta_seen_
                                              : manifest_seen_;
    if (seen) refuse("a second copy of droot's metadata file");
    seen = true;
    NodeAttrs attrs{0644, 0, 0, attrs_of(e).mtime};
    if (parts.size() == 2 && !metadata_dir_made_) {
      writer_.make_dir({parts[0]}, NodeAttrs{0755, 0, 0, attrs.mtime});
      metadata_dir_made_ = true;
    }
    if (kind == Metadata::config || kind == Metadata::drootenv) {
      std::string text = read_small(e, kMaxConfigSize);
      writer_.write_file(parts, attrs, text);
      if (kind == Metadata::config) {
        result_.config_json = std::move(text);
        result_.delta = parse_config_json(result_.config_json, payload_.name + ": .droot/config.json").is_delta();
      }
      return;
    }
    if (kind == Metadata::delta) return handle_delta_list(e, parts, attrs);
    // The manifest can be large (a line per entry): written and compared as it streams, never held whole.
    BlockSource blocks = data_blocks();
    uint64_t fed = 0;
    BlockSource tee = [&](const void** data, size_t* size, int64_t* offset) {
      if (!blocks(data, size, offset)) return false;
      if (static_cast<uint64_t>(*offset) != fed) refuse("a sparse manifest (holes in .droot/manifest.mtree)");
      records_.feed_manifest(std::string_view(static_cast<const char*>(*data), *size));
      fed += *size;
      return true;
    };
    writer_.write_file(parts, attrs, tee, static_cast<uint64_t>(archive_entry_size(e)), "");
  }

  // A delta's .droot/delta.mtree: the files it does not carry, each linked from the object store as its
  // line streams in (the directories they go into came earlier). Kept in the release, as the manifest is.
  void handle_delta_list(archive_entry* e, const std::vector<std::string>& parts, const NodeAttrs& attrs) {
    if (!config_seen_ || !result_.delta)
      refuse("a list of files taken from a base, but .droot/config.json does not say this is a delta");
    if (options_.objects == nullptr) refuse("a delta can only be deployed into a DEST that holds its base(s)");
    BlockSource blocks = data_blocks();
    uint64_t fed = 0;
    LineSplitter lines(".droot/delta.mtree");
    auto link = [&](std::string_view line, size_t line_no) { link_from_store(line, line_no); };
    BlockSource tee = [&](const void** data, size_t* size, int64_t* offset) {
      if (!blocks(data, size, offset)) return false;
      if (static_cast<uint64_t>(*offset) != fed) refuse("a sparse file list (holes in .droot/delta.mtree)");
      lines.feed(std::string_view(static_cast<const char*>(*data), *size), link);
      fed += *size;
      return true;
    };
    writer_.write_file(parts, attrs, tee, static_cast<uint64_t>(archive_entry_size(e)), "");
    lines.finish(link);
  }

  void link_from_store(std::string_view line, size_t line_no) {
    const std::string where = ".droot/delta.mtree line " + std::to_string(line_no);
    auto entry = parse_manifest_line(line, where);
    if (!entry) return;
    const ObjectKey key = delta_object_key(*entry, where);
    std::vector<std::string> target;
    try {
      target = split_entry_path(entry->path);
    } catch (const Error& err) {
      refuse(where + ": '" + mtree_escape(entry->path) + "': " + err.what());
    }
    const std::string path = join_path(target);
    if (target.empty() || metadata_kind(path) != Metadata::none || is_reserved(path))
      refuse(where + ": '" + mtree_escape(entry->path) + "' is not a path of the image");
    current_ = path;
    writer_.link_object(target, key, entry->size);
    current_ = std::string(kDeltaPath);
    entry->time.reset();  // the manifest has no times: the record is compared without it
    entry->path = path;
    records_.add(*entry, ExtractedRecords::Source::store);
    ++result_.entries;
    ++result_.files;
    ++result_.from_base;
    result_.bytes += entry->size;
  }

  void finish() {
    // First the bytes themselves: if they are not the ones verified, nothing else about them matters.
    std::string sha256 = reader_.finish();
    if (sha256 != payload_.sha256)
      throw Error(payload_.name + ": the payload read for extraction (sha256 " + sha256 +
                  ") is not the one verified (sha256 " + payload_.sha256 +
                  "); the file was modified in place during the deploy; refusing it");
    if (!config_seen_) throw Error(payload_.name + ": the payload has no .droot/config.json (not made by droot-pack?)");
    if (!manifest_seen_) throw Error(payload_.name + ": the payload has no .droot/manifest.mtree (truncated or not made by droot-pack?)");
    parse_config_json(result_.config_json, payload_.name + ": .droot/config.json");
    writer_.settle();  // a file stored in the background may have failed: that entry's error comes first
    std::vector<Difference> diffs = records_.finish_manifest();
    if (!diffs.empty()) {
      const size_t total = records_.difference_count();
      std::string text = payload_.name + ": the archive does not match its manifest:";
      for (size_t i = 0; i < diffs.size() && i < kDifferencesShown; ++i)
        text += "\n  " + kind_name(diffs[i].kind) + " '" + mtree_escape(diffs[i].path) + "': " + diffs[i].detail;
      if (total > kDifferencesShown) text += "\n  … and " + std::to_string(total - kDifferencesShown) + " more";
      throw Error(text);
    }
    writer_.finish();
    const StoredTotals queued = writer_.background_stored();  // the small files stored in the background
    result_.stored_files += queued.files;
    result_.stored_bytes += queued.bytes;
  }

  const VerifiedPayload& payload_;
  const ExtractOptions& options_;
  PayloadReader reader_;
  TreeWriter writer_;
  std::string current_;
  ExtractedRecords records_;
  bool config_seen_ = false, drootenv_seen_ = false, delta_seen_ = false, manifest_seen_ = false;
  bool metadata_dir_made_ = false;
  ExtractResult result_;
};

}  // namespace

ExtractResult extract_payload(const VerifiedPayload& payload, int root, const ExtractOptions& options) {
  Extraction extraction(payload, root, options);
  try {
    return extraction.run();
  } catch (const Interrupted&) {
    throw;
  } catch (const EntryFailure& e) {
    // A file stored in the background: its own entry, not the one the loop had reached.
    throw Error(payload.name + ": entry '" + mtree_escape(e.entry) + "': " + e.what());
  } catch (const Error& e) {
    // Errors from the entry loop do not know the artifact or the entry; add them once, here.
    std::string what = e.what();
    std::string context = extraction.context();
    if (what.rfind(payload.name + ":", 0) == 0) throw;
    throw Error(context + ": " + what);
  }
}

}  // namespace droot::exec
