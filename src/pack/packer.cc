#include "packer.h"

#include <fcntl.h>
#include <malloc.h>
#include <unistd.h>

#include <cstdlib>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "archive_ptr.h"
#include "artifact_config.h"
#include "content_spool.h"
#include "entry_normalizer.h"
#include "error.h"
#include "export_stream.h"
#include "io.h"
#include "layer_flattener.h"
#include "local_image.h"
#include "mtree.h"
#include "mtree_spool.h"
#include "object_key.h"
#include "progress.h"
#include "signals.h"
#include "special_files.h"

namespace droot::pack {
namespace {

int64_t choose_source_date(const PackOptions& options, const ImageInfo& info) {
  if (options.source_date_epoch) return *options.source_date_epoch;
  if (const char* env = std::getenv("SOURCE_DATE_EPOCH"); env && *env) {
    char* end = nullptr;
    long long v = std::strtoll(env, &end, 10);
    if (*end != '\0' || v < 0) throw Error("SOURCE_DATE_EPOCH='" + std::string(env) + "' is not a number of seconds");
    return v;
  }
  if (info.created.empty()) throw Error("image " + info.ref + " has no Created time: pass --source-date-epoch");
  return parse_rfc3339(info.created);
}

// Where the artifact goes: a temp file renamed into place on success, or stdout.
class Output {
 public:
  explicit Output(const std::string& path) : path_(path) {
    if (path == "-") return;
    artifact_ = std::make_unique<TempFile>(path, 0644);
  }
  int fd() const { return artifact_ ? artifact_->fd() : STDOUT_FILENO; }
  std::string name() const { return artifact_ ? path_ : "stdout"; }
  bool is_file() const { return artifact_ != nullptr; }
  // Sidecars first, the artifact last: whoever sees the artifact also sees its .minisig and .sha256.
  void commit(const std::string& minisig, const std::string& sha256_line) {
    if (!artifact_) return;
    std::vector<std::unique_ptr<TempFile>> sidecars;
    if (!minisig.empty()) sidecars.push_back(write_sidecar(path_ + ".minisig", minisig));
    else ::unlink((path_ + ".minisig").c_str());  // a stale signature of an older artifact must not stay beside it
    sidecars.push_back(write_sidecar(path_ + ".sha256", sha256_line));
    for (auto& s : sidecars) s->commit();
    artifact_->commit();
  }

 private:
  static std::unique_ptr<TempFile> write_sidecar(const std::string& path, const std::string& content) {
    auto f = std::make_unique<TempFile>(path, 0644);
    write_all(f->fd(), content, f->path());
    return f;
  }
  std::string path_;
  std::unique_ptr<TempFile> artifact_;
};

struct CopyStats {
  uint64_t files = 0;
  uint64_t regular_files = 0;  // type=file manifest lines: regular files and hard links
  uint64_t omitted_files = 0;  // of those, the lines of .droot/delta.mtree
  uint64_t omitted_bytes = 0;  // their content, a hard link's once
  uint64_t dropped_dev_special_files = 0;  // special files under dev/, left out
  uint64_t special_files_kept = 0;         // special files elsewhere
  std::vector<std::string> special_files_kept_paths;  // the first kMaxSpecialPathsListed of them
};

// What a delta needs while the tree streams by: the bases' keys, the spool of .droot/delta.mtree, and the
// current file's content until its key is known.
struct DeltaState {
  explicit DeltaState(const ObjectKeySet& k) : keys(k) {}
  const ObjectKeySet& keys;
  MtreeSpool omitted{"the delta.mtree spool"};
  ContentSpool content;
};

// Reads the export tar from `export_tar` (`stream` counts its bytes), writes the normalised tree, and spools
// the manifest. With `delta`, a regular file whose object key is in a base is left out of the tar (its
// manifest line is written all the same) and listed in delta->omitted; so is a hard link to such a file.
// Special files under dev/ are left out altogether and counted; those elsewhere are kept and handed to
// `on_special_file` (special_files.h).
CopyStats copy_tree(DevLookahead& export_tar, TreeStream& stream, ArtifactWriter& writer, MtreeSpool& manifest,
                    int64_t source_date, Progress& progress, const std::string& image, DeltaState* delta,
                    const std::function<void(const std::string&, const std::string&)>& on_special_file) {
  ArchiveReader reader(archive_read_new());
  archive* r = reader.get();
  archive_read_support_format_tar(r);
  if (export_tar.open(r) != ARCHIVE_OK)
    throw Error("cannot read the export of " + image + ": " + archive_error(r));
  CopyStats stats;
  std::vector<char> buf(256 * 1024);
  archive_entry* entry = nullptr;
  // Reads the current entry's content, handing each block to `sink`; returns its size and sha256.
  auto read_content = [&](const std::string& path, const std::function<void(const void*, size_t)>& sink) {
    Digest sha = Digest::sha256();
    uint64_t size = 0;
    for (;;) {
      la_ssize_t n = archive_read_data(r, buf.data(), buf.size());
      if (n < 0) throw Error("reading " + path + " from the export of " + image + ": " + archive_error(r));
      if (n == 0) break;
      sha.update(buf.data(), static_cast<size_t>(n));
      sink(buf.data(), static_cast<size_t>(n));
      size += static_cast<uint64_t>(n);
      progress.update(stream.bytes_received(), writer.bytes_written());
    }
    return std::make_pair(size, to_hex(sha.finish()));
  };
  auto write_data = [&](const void* data, size_t size) { writer.write_data(data, size); };
  for (;;) {
    throw_if_interrupted();
    int rc = archive_read_next_header(r, &entry);
    if (rc == ARCHIVE_EOF) break;
    if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN)
      throw Error("reading the export of " + image + ": " + archive_error(r));
    std::string path = normalise_entry(entry, source_date);
    if (skip_reason(path)) {
      archive_read_data_skip(r);
      continue;
    }
    ManifestEntry m = manifest_entry_for(entry, path);
    const char* hardlink = archive_entry_hardlink(entry);
    std::optional<ManifestEntry> target;
    if (hardlink != nullptr) target = manifest.find(hardlink);
    SpecialAction special = SpecialAction::keep;
    try {
      special = special_action(path, archive_entry_filetype(entry), hardlink, target);
    } catch (const Error& e) {
      throw Error("export of " + image + ": " + e.what());
    }
    if (special == SpecialAction::drop) {  // not in the tar, the manifest or delta.mtree
      ++stats.dropped_dev_special_files;
      archive_read_data_skip(r);
      continue;
    }
    if (special == SpecialAction::keep_special) {
      ++stats.special_files_kept;
      const std::string kind = target ? special_file_kind(target->type) : special_file_kind(archive_entry_filetype(entry));
      if (stats.special_files_kept_paths.size() < kMaxSpecialPathsListed)
        stats.special_files_kept_paths.push_back(mtree_escape(path));
      if (on_special_file) on_special_file(mtree_escape(path), kind);
    }
    bool omitted = false;
    if (hardlink != nullptr) {
      if (!target) throw Error("export of " + image + ": hard link " + path + " points at " + hardlink + ", which came before nothing");
      m.type = target->type;
      m.size = target->size;
      m.sha256 = target->sha256;
      m.link = target->link;
      // The same inode as its target: left out with it (the same key), or a tar hard link to it as always.
      std::optional<ManifestEntry> omitted_target = delta ? delta->omitted.find(hardlink) : std::nullopt;
      if (omitted_target) {
        omitted_target->path = path;
        delta->omitted.append(*omitted_target);
        omitted = true;
      } else {
        writer.write_header(entry);
      }
    } else if (m.type == "file" && delta) {
      // The key needs the content's sha256: hold the content until it is known, then ship it or drop it.
      delta->content.clear();
      auto [size, sha256] = read_content(path, [&](const void* data, size_t n) { delta->content.append(data, n); });
      m.size = size;
      m.sha256 = sha256;
      ManifestEntry keyed = m;
      keyed.time = MtreeTime{static_cast<int64_t>(archive_entry_mtime(entry)),
                             static_cast<uint32_t>(archive_entry_mtime_nsec(entry))};
      if (archive_entry_xattr_count(entry) == 0 && delta->keys.contains(object_key(keyed))) {
        delta->omitted.append(keyed);
        stats.omitted_bytes += size;
        omitted = true;
      } else {
        writer.write_header(entry);
        delta->content.replay(write_data);
        writer.content_written(sha256);
      }
    } else {
      writer.write_header(entry);
      if (m.type == "file") {
        auto [size, sha256] = read_content(path, write_data);
        m.size = size;
        m.sha256 = sha256;
        writer.content_written(sha256);
      }
    }
    manifest.append(m);
    ++stats.files;
    if (m.type == "file") ++stats.regular_files;
    if (omitted) ++stats.omitted_files;
  }
  return stats;
}

}  // namespace

std::string trusted_comment_for(const std::string& ref, const std::string& id, const std::string& payload_sha256,
                                Compression c, const std::vector<DeltaBase>& delta_bases) {
  std::string comment = "droot-artifact " + std::to_string(delta_bases.empty() ? kArtifactVersion : kDeltaArtifactVersion) +
                        " image=" + ref + " id=" + id + " payload_sha256=" + payload_sha256 +
                        " compression=" + compression_name(c);
  for (size_t i = 0; i < delta_bases.size(); ++i) comment += (i == 0 ? " delta=" : ",") + delta_bases[i].payload_sha256;
  return comment;
}

namespace {

// The bases before anything is written: a bad one ends here, with no output file and no container.
// With no --base, delta() is null and the artifact is a full one.
struct Bases {
  ObjectKeySet keys;
  std::vector<BaseArtifact> bases;
  std::vector<DeltaBase> delta_bases;
  std::optional<DeltaState> delta_state;  // holds a reference to `keys`: a Bases is never moved

  Bases() = default;
  Bases(const Bases&) = delete;
  Bases& operator=(const Bases&) = delete;
  DeltaState* delta() { return delta_state ? &*delta_state : nullptr; }
};

void load_bases(const PackOptions& options, Bases& b) {
  for (const auto& path : options.bases) {
    b.bases.push_back(read_base_keys(path, b.keys));
    for (size_t i = 0; i + 1 < b.bases.size(); ++i)
      if (b.bases[i].base.payload_sha256 == b.bases.back().base.payload_sha256)
        throw Error("--base " + path + " and --base " + b.bases[i].path + " are the same artifact (payload sha256 " +
                    b.bases.back().base.payload_sha256 + "); give each base once");
    b.delta_bases.push_back(b.bases.back().base);
  }
  b.keys.seal();
  if (!b.bases.empty()) b.delta_state.emplace(b.keys);
}

// The flattener's "read the bottom layer the usual way and start again" (layer_flattener.h) passes through
// the packer's error handling as itself, not as the truncated tar it left behind.
void rethrow_if_not_streamable(const std::exception_ptr& producer_error) {
  if (!producer_error) return;
  try {
    std::rethrow_exception(producer_error);
  } catch (const BottomLayerNotStreamable&) {
    throw;
  } catch (...) {
  }
}

// config.json, .drootenv, then the tree from `stream` (the Engine's export or the flattened layers). `verb`
// names the stream's producer in errors ("exporting", "flattening").
CopyStats copy_stream(TreeStream& stream, ArtifactWriter& writer, MtreeSpool& manifest, const PackOptions& options,
                      const ImageInfo& info, const nlohmann::json& image_config, int64_t source_date,
                      Bases& b, Progress& progress, const std::string& verb, const std::string& what_order) {
  CopyStats stats;
  uint64_t dev_specials = 0;
  try {
    // config.json comes first and says how many special files under dev/ the export will drop: read the
    // export ahead to the end of dev/ to count them, then copy it all from its first byte.
    DevLookahead lookahead(stream.fd());
    dev_specials = lookahead.count(options.image);
    writer.add_text_file(std::string(kConfigPath),
                         make_config_json(info, image_config, source_date, std::string("droot-pack ") + DROOT_VERSION,
                                          b.delta_bases, dev_specials),
                         source_date);
    writer.add_text_file(std::string(kDrootEnvPath),
                         make_drootenv(image_config.is_object() && image_config.contains("Env") ? image_config["Env"]
                                                                                              : nlohmann::json()),
                         source_date);
    stats = copy_tree(lookahead, stream, writer, manifest, source_date, progress, options.image, b.delta(),
                      options.on_special_file);
  } catch (const Interrupted&) {
    stream.abandon();
    throw;
  } catch (const Error& e) {
    // A truncated tar is the symptom; the transfer's own error (daemon died, container removed) is the cause.
    std::string cause = stream.abandon();
    throw_if_interrupted();
    rethrow_if_not_streamable(stream.producer_error());
    if (!cause.empty()) throw Error(verb + " " + options.image + ": " + cause);
    throw;
  }
  try {
    stream.finish();
  } catch (const Interrupted&) {
    throw;
  } catch (const BottomLayerNotStreamable&) {
    throw;
  } catch (const Error& e) {
    throw Error(verb + " " + options.image + ": " + e.what());
  }
  if (stats.dropped_dev_special_files != dev_specials)
    throw Error("packing " + options.image + ": its export held " + std::to_string(stats.dropped_dev_special_files) +
                " special files under dev/, " + std::to_string(dev_specials) + " of them up to the end of dev/: " +
                what_order + " is not in name order, so config.json would be wrong; nothing was written");
  return stats;
}

// Manifest, payload digests, signature, trailer, sidecars, rename; then the summary.
PackResult finish_artifact(Output& out, ArtifactWriter& writer, MtreeSpool& manifest, const PackOptions& options,
                           const ImageInfo& info, Bases& b, CopyStats& stats,
                           int64_t source_date, const std::optional<minisign::SecretKey>& key) {
  // A delta's list of what it left out goes just before the manifest, which stays last.
  if (DeltaState* delta = b.delta())
    writer.add_file_from_fd(std::string(kDeltaPath), delta->omitted.fd(), delta->omitted.size(), source_date);
  writer.add_file_from_fd(std::string(kManifestPath), manifest.fd(), manifest.size(), source_date);
  PayloadDigests payload = writer.finish_payload();
  throw_if_interrupted();

  std::string minisig;
  if (key) {
    auto sig = minisign::sign_prehashed(*key, payload.blake2b512,
                                        trusted_comment_for(options.image, info.id, payload.sha256, options.compression.compression,
                                                            b.delta_bases),
                                        "droot artifact signature from key " + minisign::key_id_hex(key->key_id));
    minisig = minisign::format_signature(sig);
    if (options.compression.compression != Compression::none)
      writer.append_raw(make_trailer(options.compression.compression, minisig));
  }
  PackResult result;
  result.sha256 = writer.file_sha256();
  out.commit(minisig, result.sha256 + "  " + basename_of(options.output) + "\n");
  result.image_ref = options.image;
  result.image_id = info.id;
  result.artifact = options.output;
  result.artifact_bytes = writer.bytes_written();
  result.payload_bytes = payload.size;
  result.payload_sha256 = payload.sha256;
  result.key_id = key ? minisign::key_id_hex(key->key_id) : "";
  result.files = stats.files;
  result.bases = std::move(b.bases);
  result.files_shipped = stats.regular_files - stats.omitted_files;
  result.files_from_bases = stats.omitted_files;
  result.bytes_from_bases = stats.omitted_bytes;
  result.dev_special_files_dropped = stats.dropped_dev_special_files;
  result.special_files_kept = stats.special_files_kept;
  result.special_files_kept_paths = std::move(stats.special_files_kept_paths);
  return result;
}

}  // namespace

PackResult pack_image(EngineClient& engine, const PackOptions& options, const std::optional<minisign::SecretKey>& key) {
  auto start = std::chrono::steady_clock::now();
  engine.negotiate(options.forced_api_version);
  if (options.platform && compare_api_versions(engine.api_version(), "1.41") < 0)
    throw Error("--platform " + options.platform->str() + " needs Engine API 1.41 or later; the Engine at " +
                engine.endpoint().display + " speaks " + engine.api_version() + ": upgrade it, or pack from "
                "docker-archive:/oci-archive: instead");
  bool pulled = ensure_image(engine, options.image, options.pull);
  nlohmann::json inspect = engine.inspect_image(options.image);
  ImageInfo info = image_info_from(inspect, options.image);
  int64_t source_date = choose_source_date(options, info);
  const nlohmann::json image_config = image_config_from(inspect);

  Bases b;
  load_bases(options, b);

  Output out(options.output);
  MtreeSpool manifest("the manifest spool");
  ArtifactWriter writer(out.fd(), out.name(), options.compression);

  std::string container;
  try {
    container = engine.create_container(info.id, {{"org.droot.pack", "1"}, {"org.droot.pack.image", options.image}},
                                        options.platform ? options.platform->str() : "");
  } catch (const Interrupted&) {
    throw;
  } catch (const Error& e) {
    // The Engine only knows the id by now; the user knows the name they typed.
    throw Error("packing " + options.image + ": " + e.what());
  }
  CopyStats stats;
  uint64_t exported = 0;
  try {
    Progress progress(options.progress, "packing " + options.image, image_size_from(inspect));
    ExportStream stream(engine, container);
    stats = copy_stream(stream, writer, manifest, options, info, image_config, source_date, b, progress, "exporting", "the Engine's export");
    exported = stream.bytes_received();
    progress.done();
  } catch (...) {
    if (std::string err = engine.remove_container(container); !err.empty())
      std::fprintf(stderr, "droot-pack: warning: could not remove container %s: %s\n", container.substr(0, 12).c_str(), err.c_str());
    throw;
  }
  if (std::string err = engine.remove_container(container); !err.empty())
    throw Error("could not remove container " + container.substr(0, 12) + ": " + err);

  PackResult result = finish_artifact(out, writer, manifest, options, info, b, stats, source_date, key);
  result.exported_bytes = exported;
  result.pulled = pulled;
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

namespace {

// One attempt at writing the artifact from `tree`: BottomLayerNotStreamable leaves nothing behind (the
// temporary output is removed) for the caller to try again.
PackResult pack_flat_tree(const FlatTree& tree, const ImageSource& source, const PackOptions& options,
                          const ImageInfo& info, const nlohmann::json& image_config, int64_t source_date, Bases& b,
                          const std::optional<minisign::SecretKey>& key) {
  Output out(options.output);
  MtreeSpool manifest("the manifest spool");
  ArtifactWriter writer(out.fd(), out.name(), options.compression);
  CopyStats stats;
  uint64_t flattened = 0;
  {
    // A streamed bottom layer's size is known only once it has been read: no percentage then.
    Progress progress(options.progress, "packing " + options.image, tree.streams_bottom() ? 0 : tree.stats().content_bytes);
    FlatTreeStream stream(tree);
    stats = copy_stream(stream, writer, manifest, options, info, image_config, source_date, b, progress, "flattening", "the flattened tree");
    flattened = stream.bytes_received();
    progress.done();
  }
  PackResult result = finish_artifact(out, writer, manifest, options, info, b, stats, source_date, key);
  result.exported_bytes = flattened;
  result.layers = tree.stats().layers;
  result.pulled = source.kind == SourceKind::registry;  // fetched for this pack, as --pull does from the Engine
  return result;
}

}  // namespace

PackResult pack_local_image(const ImageSource& source, const PackOptions& options, const std::optional<minisign::SecretKey>& key) {
  auto start = std::chrono::steady_clock::now();
  LocalImage image = open_local_image(source, options.image, options.platform);
  ImageInfo info = local_image_info(image, options.image);
  int64_t source_date = choose_source_date(options, info);
  const nlohmann::json image_config = local_image_config(image);

  auto b = std::make_unique<Bases>();
  load_bases(options, *b);

  // Every layer is verified, and every layer but the bottom one flattened, before the output file exists: a
  // tampered or hostile image ends here with nothing written. The bottom layer is streamed into the packer
  // (layer_flattener.h) when the output can be started again, a file; not stdout.
  FlatTree tree(image.layers, options.image, options.output != "-");
  PackResult result;
  try {
    result = pack_flat_tree(tree, source, options, info, image_config, source_date, *b, key);
  } catch (const BottomLayerNotStreamable&) {
    // The first attempt's buffers (zstd's, libarchive's) go back to the system before the second one makes
    // its own: peak memory stays that of one attempt.
    ::malloc_trim(0);
    tree.read_bottom_layer();
    b = std::make_unique<Bases>();  // its delta spools hold the first attempt's files
    load_bases(options, *b);
    result = pack_flat_tree(tree, source, options, info, image_config, source_date, *b, key);
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace droot::pack
