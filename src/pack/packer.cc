#include "packer.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <vector>

#include "archive_ptr.h"
#include "artifact_config.h"
#include "entry_normalizer.h"
#include "error.h"
#include "export_stream.h"
#include "io.h"
#include "mtree.h"
#include "progress.h"
#include "signals.h"

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

// The manifest is only complete at the end but must be the archive's last entry with a known size: it is
// spooled to an unnamed temp file, which keeps memory flat whatever the number of files.
class ManifestSpool {
 public:
  ManifestSpool() {
    const char* tmp = std::getenv("TMPDIR");
    std::string dir = tmp && *tmp ? tmp : "/tmp";
    int fd = ::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0) throw_errno("cannot create the manifest spool file in " + dir);
    fd_.reset(fd);
    append(manifest_header());
  }
  void append(const std::string& text) {
    write_all(fd_.get(), text, "the manifest spool");
    size_ += text.size();
  }
  // A hard link's manifest line repeats its target's content: scan back for the target's line (hard links are
  // rare, so a scan beats keeping every digest in memory).
  std::optional<ManifestEntry> find(const std::string& path) const {
    std::string prefix = "./" + mtree_escape(path) + " ";
    std::string pending;
    std::vector<char> buf(256 * 1024);
    for (uint64_t off = 0; off < size_;) {
      size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), size_ - off));
      pread_exact(fd_.get(), buf.data(), want, off, "the manifest spool");
      off += want;
      pending.append(buf.data(), want);
      size_t start = 0;
      for (size_t nl; (nl = pending.find('\n', start)) != std::string::npos; start = nl + 1) {
        if (pending.compare(start, prefix.size(), prefix) == 0) {
          auto m = parse_manifest(pending.substr(start, nl - start + 1), "manifest spool");
          return m.begin()->second;
        }
      }
      pending.erase(0, start);
    }
    return std::nullopt;
  }
  int fd() const { return fd_.get(); }
  uint64_t size() const { return size_; }

 private:
  UniqueFd fd_;
  uint64_t size_ = 0;
};

la_ssize_t read_pipe(archive* a, void* fdp, const void** buf) {
  static thread_local std::vector<char> block(256 * 1024);
  int fd = *static_cast<int*>(fdp);
  for (;;) {
    ssize_t n = ::read(fd, block.data(), block.size());
    if (n >= 0) {
      *buf = block.data();
      return n;
    }
    if (errno != EINTR) {
      archive_set_error(a, errno, "reading the export stream: %s", errno_text(errno).c_str());
      return -1;
    }
    if (pending_interrupt()) {
      archive_set_error(a, EINTR, "interrupted");
      return -1;
    }
  }
}

struct CopyStats {
  uint64_t files = 0;
};

// Reads the export tar from `stream`, writes the normalised tree, and spools the manifest.
CopyStats copy_tree(ExportStream& stream, ArtifactWriter& writer, ManifestSpool& manifest, int64_t source_date,
                    Progress& progress, const std::string& image) {
  ArchiveReader reader(archive_read_new());
  archive* r = reader.get();
  archive_read_support_format_tar(r);
  int fd = stream.fd();
  if (archive_read_open(r, &fd, nullptr, read_pipe, nullptr) != ARCHIVE_OK)
    throw Error("cannot read the export of " + image + ": " + archive_error(r));
  CopyStats stats;
  std::vector<char> buf(256 * 1024);
  archive_entry* entry = nullptr;
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
    if (hardlink != nullptr) {
      auto target = manifest.find(hardlink);
      if (!target) throw Error("export of " + image + ": hard link " + path + " points at " + hardlink + ", which came before nothing");
      m.type = target->type;
      m.size = target->size;
      m.sha256 = target->sha256;
      m.link = target->link;
      writer.write_header(entry);
    } else {
      writer.write_header(entry);
      if (m.type == "file") {
        Digest sha = Digest::sha256();
        uint64_t size = 0;
        for (;;) {
          la_ssize_t n = archive_read_data(r, buf.data(), buf.size());
          if (n < 0) throw Error("reading " + path + " from the export of " + image + ": " + archive_error(r));
          if (n == 0) break;
          sha.update(buf.data(), static_cast<size_t>(n));
          writer.write_data(buf.data(), static_cast<size_t>(n));
          size += static_cast<uint64_t>(n);
          progress.update(stream.bytes_received(), writer.bytes_written());
        }
        m.size = size;
        m.sha256 = to_hex(sha.finish());
      }
    }
    manifest.append(format_manifest_line(m));
    ++stats.files;
  }
  return stats;
}

}  // namespace

std::string trusted_comment_for(const std::string& ref, const std::string& id, const std::string& payload_sha256,
                                Compression c) {
  return "droot-artifact " + std::to_string(kArtifactVersion) + " image=" + ref + " id=" + id +
         " payload_sha256=" + payload_sha256 + " compression=" + compression_name(c);
}

PackResult pack_image(EngineClient& engine, const PackOptions& options, const std::optional<minisign::SecretKey>& key) {
  auto start = std::chrono::steady_clock::now();
  engine.negotiate(options.forced_api_version);
  bool pulled = ensure_image(engine, options.image, options.pull);
  nlohmann::json inspect = engine.inspect_image(options.image);
  ImageInfo info = image_info_from(inspect, options.image);
  int64_t source_date = choose_source_date(options, info);
  const nlohmann::json image_config = image_config_from(inspect);

  Output out(options.output);
  ManifestSpool manifest;
  ArtifactWriter writer(out.fd(), out.name(), options.compression);
  writer.add_text_file(std::string(kConfigPath),
                       make_config_json(info, image_config, source_date, std::string("droot-pack ") + DROOT_VERSION),
                       source_date);
  writer.add_text_file(std::string(kDrootEnvPath),
                       make_drootenv(image_config.is_object() && image_config.contains("Env") ? image_config["Env"]
                                                                                            : nlohmann::json()),
                       source_date);

  std::string container;
  try {
    container = engine.create_container(info.id, {{"org.droot.pack", "1"}, {"org.droot.pack.image", options.image}});
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
    try {
      stats = copy_tree(stream, writer, manifest, source_date, progress, options.image);
    } catch (const Interrupted&) {
      stream.abandon();
      throw;
    } catch (const Error& e) {
      // A truncated tar is the symptom; the transfer's own error (daemon died, container removed) is the cause.
      std::string cause = stream.abandon();
      throw_if_interrupted();
      if (!cause.empty()) throw Error("exporting " + options.image + ": " + cause);
      throw;
    }
    try {
      stream.finish();
    } catch (const Interrupted&) {
      throw;
    } catch (const Error& e) {
      throw Error("exporting " + options.image + ": " + e.what());
    }
    exported = stream.bytes_received();
    progress.done();
  } catch (...) {
    if (std::string err = engine.remove_container(container); !err.empty())
      std::fprintf(stderr, "droot-pack: warning: could not remove container %s: %s\n", container.substr(0, 12).c_str(), err.c_str());
    throw;
  }
  if (std::string err = engine.remove_container(container); !err.empty())
    throw Error("could not remove container " + container.substr(0, 12) + ": " + err);

  writer.add_file_from_fd(std::string(kManifestPath), manifest.fd(), manifest.size(), source_date);
  PayloadDigests payload = writer.finish_payload();
  throw_if_interrupted();

  std::string minisig;
  if (key) {
    auto sig = minisign::sign_prehashed(*key, payload.blake2b512,
                                        trusted_comment_for(options.image, info.id, payload.sha256, options.compression.compression),
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
  result.exported_bytes = exported;
  result.artifact_bytes = writer.bytes_written();
  result.payload_bytes = payload.size;
  result.payload_sha256 = payload.sha256;
  result.key_id = key ? minisign::key_id_hex(key->key_id) : "";
  result.files = stats.files;
  result.pulled = pulled;
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace droot::pack
