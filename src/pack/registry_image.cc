#include "registry_image.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "blob_store.h"
#include "error.h"
#include "hash.h"
#include "image_ref.h"
#include "io.h"
#include "progress.h"
#include "registry_client.h"

namespace droot::pack {

using nlohmann::json;

std::string json_string(const json& j, const char* field) {
  auto it = j.find(field);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

const char* const kManifestMediaTypes[4] = {
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
};

namespace {

constexpr size_t kMaxManifest = 4 << 20;   // the OCI distribution spec's limit for what a registry must accept
constexpr uint64_t kMaxConfig = 16 << 20;  // as local_image.cc reads it
constexpr uint64_t kFreeSpaceMargin = 64 << 20;


// "application/json; charset=utf-8" → "application/json".
std::string bare_media_type(const std::string& content_type) {
  std::string t = content_type.substr(0, content_type.find(';'));
  while (!t.empty() && (t.back() == ' ' || t.back() == '\t')) t.pop_back();
  return t;
}

// A descriptor droot-pack can fetch and check: an object with a sha256 digest and a size.
void check_descriptor(const json& d, const std::string& what) {
  if (!d.is_object()) throw Error(what + ": a descriptor is not a JSON object; nothing was written");
  sha256_hex_of_digest(json_string(d, "digest"), what);
  auto size = d.find("size");
  if (size == d.end() || !size->is_number_integer() || (!size->is_number_unsigned() && size->get<int64_t>() < 0))
    throw Error(what + ": descriptor " + json_string(d, "digest") + " has no size; nothing was written");
}

struct Manifest {
  std::string body;
  json doc;
  std::string digest;
  std::string media_type;
  ManifestKind kind = ManifestKind::image;
};

Manifest fetch_manifest(RegistryClient& client, const std::string& reference, const std::string& expected_digest,
                        std::optional<uint64_t> expected_size, const std::string& what) {
  std::string accept = "Accept: ";
  for (size_t i = 0; i < 4; ++i) accept += std::string(i ? ", " : "") + kManifestMediaTypes[i];
  HttpResponse r = client.get("manifests/" + reference, {accept}, nullptr, kMaxManifest, what);
  const std::string& repo = client.ref().repository;
  if (r.status == 404)
    throw Error(client.where() + " has no " + what + " in repository " + repo + " (" + registry_message(r.body) +
                "): check the name, tag or digest; nothing was written");
  if (r.status == 403)
    throw Error(client.where() + " denied access to " + what + " in repository " + repo + " (" + registry_message(r.body) +
                "): does the account `" + client.login_hint() + "` logged in with may pull it?; nothing was written");
  if (r.status != 200)
    throw Error(client.where() + " answered " + std::to_string(r.status) + " to GET " + what + " in repository " + repo +
                ": " + registry_message(r.body) + "; nothing was written");
  Manifest m;
  m.body = std::move(r.body);
  m.digest = "sha256:" + sha256_hex(m.body);
  if (!expected_digest.empty() && m.digest != expected_digest)
    throw Error(client.where() + " sent a manifest whose sha256 is " + m.digest + ", not the " + expected_digest +
                " asked for: the registry or something on the way is corrupt or hostile; nothing was written");
  if (expected_size && *expected_size != m.body.size())
    throw Error(client.where() + " sent " + what + " of " + std::to_string(m.body.size()) + " bytes, not the " +
                std::to_string(*expected_size) + " its index says; nothing was written");
  m.doc = json::parse(m.body, nullptr, false);
  if (m.doc.is_discarded() || !m.doc.is_object())
    throw Error(client.where() + " sent " + what + " that is not a JSON object; nothing was written");
  auto ct = r.headers.find("content-type");
  const std::string content_type = ct == r.headers.end() ? "" : ct->second;
  m.kind = classify_manifest(m.doc, content_type, client.spec() + ": " + what + " from " + client.endpoint().registry);
  m.media_type = json_string(m.doc, "mediaType");
  if (m.media_type.empty()) m.media_type = bare_media_type(content_type);
  return m;
}

// Writes `data` to `name` in the directory `dirfd`.
void write_file_at(int dirfd, const std::string& dir, const std::string& name, const std::string& data) {
  UniqueFd fd(::openat(dirfd, name.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd) throw_errno("cannot create " + dir + "/" + name);
  write_all(fd.get(), data, dir + "/" + name);
}

struct PullProgress {
  Progress line;
  uint64_t total = 0;
  uint64_t done = 0;
  size_t blobs = 0;
  size_t current = 0;
  void show() {
    line.status("blob " + std::to_string(current) + "/" + std::to_string(blobs) + ", " + human_bytes(done) + " of " +
                human_bytes(total) + (total ? " (" + std::to_string(done * 100 / total) + "%)" : ""));
  }
};

void download_blob(RegistryClient& client, const json& desc, const std::string& kind, int blobs_fd,
                   const std::string& blobs_dir, PullProgress& progress) {
  const std::string digest = json_string(desc, "digest");
  const std::string hex = sha256_hex_of_digest(digest, kind);
  const uint64_t size = desc["size"].get<uint64_t>();
  const std::string what = kind + " " + digest;
  struct stat st {};
  if (::fstatat(blobs_fd, hex.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {  // the same blob twice in one image
    progress.done += size;
    return;
  }
  const std::string part = hex + ".part";
  UniqueFd fd(::openat(blobs_fd, part.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd) throw_errno("cannot create " + blobs_dir + "/" + part);
  Digest sha = Digest::sha256();
  uint64_t got = 0;
  std::string sink_error;
  RegistryClient::Sink sink = [&](const char* data, size_t n) {
    if (n > size - got) {
      sink_error = client.where() + " sent more than the " + std::to_string(size) + " bytes the manifest gives for " +
                   what + ": the registry lies about its size, or the blob is not the manifest's; nothing was written";
      return false;
    }
    try {
      write_all(fd.get(), data, n, blobs_dir + "/" + part);
    } catch (const std::exception& e) {
      sink_error = std::string(e.what()) + " (downloading " + what + " of " + client.ref().canonical() + " into $TMPDIR: " +
                   "it needs room for the image's compressed size); nothing was written";
      return false;
    }
    sha.update(data, n);
    got += n;
    progress.done += n;
    progress.show();
    return true;
  };
  HttpResponse r = client.get("blobs/" + digest, {}, &sink, 0, what);
  if (!sink_error.empty()) throw Error(sink_error);
  if (r.status == 404)
    throw Error(client.where() + " has no " + what + ", which the manifest names (" + registry_message(r.body) +
                "): the image in the registry is incomplete; nothing was written");
  if (r.status != 200)
    throw Error(client.where() + " answered " + std::to_string(r.status) + " to GET " + what + ": " + registry_message(r.body) +
                "; nothing was written");
  if (auto cl = r.headers.find("content-length"); cl != r.headers.end() && cl->second != std::to_string(size))
    throw Error(client.where() + " says " + what + " is " + cl->second.substr(0, 30) + " bytes (Content-Length), but the manifest says " +
                std::to_string(size) + ": the registry lies about sizes, or the blob is not the manifest's; nothing was written");
  if (got != size)
    throw Error(client.where() + " sent only " + std::to_string(got) + " of the " + std::to_string(size) + " bytes of " + what +
                " (truncated); nothing was written");
  const std::string actual = to_hex(sha.finish());
  if (actual != hex)
    throw Error(client.where() + " sent " + what + " with sha256:" + actual +
                ", not the digest the manifest names: it is corrupt or was tampered with; nothing was written");
  if (::renameat(blobs_fd, part.c_str(), blobs_fd, hex.c_str()) != 0) throw_errno("cannot rename " + blobs_dir + "/" + part);
}

}  // namespace

ManifestKind classify_manifest(const json& manifest, const std::string& content_type, const std::string& what) {
  std::string type = json_string(manifest, "mediaType");
  if (type.empty()) type = bare_media_type(content_type);
  if (auto v = manifest.find("schemaVersion"); (v != manifest.end() && *v == 1) ||
                                               type.rfind("application/vnd.docker.distribution.manifest.v1", 0) == 0)
    throw Error(what + " is a Docker schema 1 manifest, which droot-pack does not read (deprecated since 2017, its "
                "layers unverifiable): push the image again with a current docker or skopeo; nothing was written");
  if (is_index_media_type(type) || (manifest.contains("manifests") && !manifest.contains("layers"))) {
    if (!manifest.contains("manifests") || !manifest["manifests"].is_array())
      throw Error(what + " is an image index without a \"manifests\" array; nothing was written");
    return ManifestKind::index;
  }
  if (!manifest.contains("config") || !manifest["config"].is_object() || !manifest.contains("layers") ||
      !manifest["layers"].is_array())
    throw Error(what + " is not an image manifest or index (mediaType '" + type.substr(0, 100) +
                "', no config and layers); nothing was written");
  const std::string config_type = json_string(manifest["config"], "mediaType");
  if (!config_type.empty() && config_type != "application/vnd.oci.image.config.v1+json" &&
      config_type != "application/vnd.docker.container.image.v1+json")
    throw Error(what + " is not a container image: its config is a " + config_type.substr(0, 100) +
                " (an OCI artifact?); nothing was written");
  return ManifestKind::image;
}

json choose_from_index(const json& index, const std::optional<Platform>& platform, const std::string& what) {
  json chosen = select_platform_manifest(index.value("manifests", json()), platform.value_or(host_platform()),
                                         platform.has_value(), what);
  check_descriptor(chosen, what);
  return chosen;
}

std::vector<json> manifest_blobs(const json& manifest, const std::string& what) {
  std::vector<json> out;
  const json& config = manifest["config"];
  check_descriptor(config, what + ": config");
  if (config["size"].get<uint64_t>() > kMaxConfig)
    throw Error(what + ": its config " + json_string(config, "digest") + " is " + std::to_string(config["size"].get<uint64_t>()) +
                " bytes, more than the " + std::to_string(kMaxConfig) + " droot-pack accepts; nothing was written");
  out.push_back(config);
  for (const auto& l : manifest["layers"]) {
    check_descriptor(l, what + ": layer");
    out.push_back(l);
  }
  return out;
}

PulledLayout::PulledLayout() {
  const char* env = std::getenv("TMPDIR");
  std::string base = env && *env ? env : "/tmp";
  std::string templ = base + "/droot-pack-pull.XXXXXX";
  if (!::mkdtemp(templ.data()))
    throw_errno("cannot create a temporary directory in " + base + " for the image's blobs (set TMPDIR to a directory "
                "with room for the image's compressed size)");
  dir_ = templ;
}

PulledLayout::PulledLayout(PulledLayout&& other) noexcept : dir_(std::exchange(other.dir_, std::string())) {}

PulledLayout::~PulledLayout() {
  if (dir_.empty()) return;
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

PulledLayout pull_registry_image(const ImageSource& source, const std::string& spec, const std::optional<Platform>& platform) {
  const ImageRef ref = parse_image_ref(source.path);
  if (!ref.digest.empty() && ref.digest.rfind("sha256:", 0) != 0)
    throw Error(spec + ": droot-pack verifies sha256 digests only, not " + ref.digest.substr(0, ref.digest.find(':')) +
                "; name the image by its sha256 digest or a tag");
  RegistryClient client(ref, registry_endpoint(ref, source.registry.plain_http), source.registry.docker_config,
                        source.registry.timeout, spec);

  PullProgress progress{Progress(source.registry.progress, "pulling " + spec, 0)};
  progress.line.status("manifest");
  // By digest when the reference has one (a tag alongside it is ignored, as docker does): the answer must hash to it.
  const std::string reference = ref.digest.empty() ? (ref.tag.empty() ? "latest" : ref.tag) : ref.digest;
  Manifest image = fetch_manifest(client, reference, ref.digest, std::nullopt, "manifest " + reference);
  if (image.kind == ManifestKind::index) {
    json chosen = choose_from_index(image.doc, platform, spec + " (index " + image.digest + ")");
    const std::string digest = json_string(chosen, "digest");
    image = fetch_manifest(client, digest, digest, chosen["size"].get<uint64_t>(), "manifest " + digest);
    if (image.kind != ManifestKind::image)
      throw Error(spec + ": index entry " + digest + " is itself an index; nothing was written");
  }
  std::vector<json> blobs = manifest_blobs(image.doc, spec + " (manifest " + image.digest + ")");

  PulledLayout layout;
  const std::string blobs_dir = layout.dir() + "/blobs/sha256";
  std::filesystem::create_directories(blobs_dir);
  UniqueFd dir_fd = open_or_throw(layout.dir(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  UniqueFd blobs_fd = open_or_throw(blobs_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);

  for (const auto& b : blobs) progress.total += b["size"].get<uint64_t>();
  struct statvfs vfs {};
  if (::statvfs(layout.dir().c_str(), &vfs) == 0) {
    uint64_t avail = static_cast<uint64_t>(vfs.f_bavail) * vfs.f_frsize;
    if (avail < progress.total + kFreeSpaceMargin)
      throw Error(spec + ": the image's blobs take " + human_bytes(progress.total) + " and " + dirname_of(layout.dir()) +
                  " has " + human_bytes(avail) + " free: set TMPDIR to a filesystem with room for them; nothing was written");
  }
  progress.blobs = blobs.size();
  for (size_t i = 0; i < blobs.size(); ++i) {
    progress.current = i + 1;
    download_blob(client, blobs[i], i == 0 ? "config" : "layer", blobs_fd.get(), blobs_dir, progress);
  }
  progress.line.done();

  write_file_at(blobs_fd.get(), blobs_dir, sha256_hex_of_digest(image.digest, spec), image.body);
  write_file_at(dir_fd.get(), layout.dir(), "oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}");
  json desc = {{"mediaType", image.media_type.empty() ? std::string(kManifestMediaTypes[1]) : image.media_type},
               {"digest", image.digest},
               {"size", image.body.size()}};
  write_file_at(dir_fd.get(), layout.dir(), "index.json",
                json{{"schemaVersion", 2}, {"manifests", json::array({desc})}}.dump());
  return layout;
}

}  // namespace droot::pack
