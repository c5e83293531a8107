#include "local_image.h"

#include "error.h"
#include "registry_image.h"

namespace droot::pack {

using nlohmann::json;

namespace {

constexpr size_t kMaxJsonBlob = 16 << 20;  // manifests, indexes and configs are KiBs; refuse a huge one unread

json parse_json(const std::string& text, const std::string& what) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || (!j.is_object() && !j.is_array()))
    throw Error(what + " is not valid JSON: the image is corrupt; nothing was written");
  return j;
}

std::string blob_path(const std::string& digest, const std::string& what) {
  return "blobs/sha256/" + sha256_hex_of_digest(digest, what);
}

// Reads the blob a descriptor names, checking its size and digest.
std::string read_descriptor(const BlobStore& store, const json& desc, const std::string& what) {
  if (!desc.is_object()) throw Error(what + ": a descriptor is not a JSON object: the image is corrupt; nothing was written");
  const std::string digest = json_string(desc, "digest");
  BlobRange b = store.get(blob_path(digest, what), what + " " + digest);
  if (auto s = desc.find("size"); s != desc.end() && s->is_number_unsigned() && s->get<uint64_t>() != b.size)
    throw Error(what + ": blob " + digest + " is " + std::to_string(b.size) + " bytes, not the " +
                std::to_string(s->get<uint64_t>()) + " its descriptor says: the image is corrupt; nothing was written");
  return read_blob(b, digest, kMaxJsonBlob, what);
}

void check_config_platform(const json& config, const std::optional<Platform>& platform, const std::string& what) {
  if (!platform) return;
  if (!platform_matches(*platform, config))
    throw Error(what + " is an image for " + Platform{json_string(config, "os"), json_string(config, "architecture"), json_string(config, "variant")}.str() +
                ", not for --platform " + platform->str() + "; nothing was written");
}

void check_config(const json& config, const std::string& what) {
  if (!config.is_object()) throw Error(what + ": the image config is not a JSON object; nothing was written");
  if (auto c = config.find("config"); c != config.end() && !c->is_null() && !c->is_object())
    throw Error(what + ": the image config's \"config\" is not an object; nothing was written");
  // droot-exec is the judge of what it can run, as for the Engine's inspect answer (engine_messages.cc).
  try {
    parse_config_json(make_config_json(ImageInfo{}, config.value("config", json()), 0, ""), "config.json");
  } catch (const Error& e) {
    throw Error(what + ": its image config is one droot-exec could not read: " + e.what());
  }
}

LocalImage open_oci(BlobStore store, const ImageSource& src, const std::string& spec, const std::optional<Platform>& platform) {
  LocalImage img{std::move(store), {}, {}, {}, {}};
  const BlobStore& s = img.store;
  json index = parse_json(read_blob(s.get("index.json", "the OCI layout's index"), "", kMaxJsonBlob, spec + ": index.json"),
                          spec + ": index.json");
  if (!index.is_object() || !index.contains("manifests") || !index["manifests"].is_array())
    throw Error(spec + ": index.json has no \"manifests\" array: not an OCI image layout; nothing was written");
  const json& all = index["manifests"];
  std::vector<json> candidates;
  std::string refs;
  for (const auto& m : all) {
    if (!m.is_object()) continue;
    std::string name = m.contains("annotations") && m["annotations"].is_object() ? json_string(m["annotations"], "org.opencontainers.image.ref.name") : "";
    if (!name.empty()) refs += (refs.empty() ? "" : ", ") + name;
    if (src.ref.empty() || name == src.ref) candidates.push_back(m);
  }
  if (candidates.empty())
    throw Error(spec + ": the layout has no image " + (src.ref.empty() ? std::string("at all") : "named " + src.ref) +
                (refs.empty() ? "" : "; it names: " + refs));
  json desc;
  if (candidates.size() == 1) {
    desc = candidates.front();
  } else {
    // Several: an index.json that is itself a multi-platform list, or several named images.
    bool all_platforms = true;
    for (const auto& c : candidates) all_platforms = all_platforms && c.contains("platform");
    if (!all_platforms)
      throw Error(spec + ": the layout holds " + std::to_string(candidates.size()) + " images; name one as " +
                  spec + ":REF (it names: " + (refs.empty() ? "none" : refs) + ")");
    desc = select_platform_manifest(json(candidates), platform.value_or(host_platform()), platform.has_value(), spec);
  }
  std::string what = spec;
  json manifest = parse_json(read_descriptor(s, desc, spec + ": manifest"), spec + ": manifest " + json_string(desc, "digest"));
  if (is_index_media_type(json_string(desc, "mediaType")) || is_index_media_type(json_string(manifest, "mediaType")) ||
      (manifest.is_object() && manifest.contains("manifests"))) {
    if (!manifest.contains("manifests") || !manifest["manifests"].is_array())
      throw Error(spec + ": image index " + json_string(desc, "digest") + " has no \"manifests\" array; nothing was written");
    json chosen = select_platform_manifest(manifest["manifests"], platform.value_or(host_platform()), platform.has_value(),
                                           spec + " (index " + json_string(desc, "digest") + ")");
    manifest = parse_json(read_descriptor(s, chosen, spec + ": manifest"), spec + ": manifest " + json_string(chosen, "digest"));
  }
  if (!manifest.is_object() || !manifest.contains("config") || !manifest["config"].is_object() ||
      !manifest.contains("layers") || !manifest["layers"].is_array())
    throw Error(spec + ": the image manifest has no config or layers: not an image manifest; nothing was written");
  img.config_digest = json_string(manifest["config"], "digest");
  img.config = parse_json(read_descriptor(s, manifest["config"], spec + ": config"), spec + ": config " + img.config_digest);
  check_config(img.config, spec);
  check_config_platform(img.config, platform, spec);
  for (const auto& l : manifest["layers"]) {
    if (!l.is_object()) throw Error(spec + ": a layer descriptor is not an object; nothing was written");
    const std::string digest = json_string(l, "digest");
    BlobRange b = s.get(blob_path(digest, spec + ": layer"), "layer " + digest);
    if (auto sz = l.find("size"); sz != l.end() && sz->is_number_unsigned() && sz->get<uint64_t>() != b.size)
      throw Error(spec + ": layer " + digest + " is " + std::to_string(b.size) + " bytes, not the " +
                  std::to_string(sz->get<uint64_t>()) + " the manifest says: the image is corrupt; nothing was written");
    img.layers.push_back({b, digest});
  }
  return img;
}

// "blobs/sha256/<hex>" (docker 25+) or "<hex>.json" / "<hex>/layer.tar" (older docker save): the digest the
// name implies, or "" when it implies none.
std::string digest_from_name(const std::string& name) {
  std::string hex;
  if (name.rfind("blobs/sha256/", 0) == 0) hex = name.substr(13);
  else if (name.size() == 64 + 5 && name.compare(64, 5, ".json") == 0) hex = name.substr(0, 64);
  if (hex.size() != 64 || hex.find_first_not_of("0123456789abcdef") != std::string::npos) return "";
  return "sha256:" + hex;
}

LocalImage open_docker_archive(BlobStore store, const ImageSource& src, const std::string& spec,
                               const std::optional<Platform>& platform) {
  LocalImage img{std::move(store), {}, {}, {}, {}};
  const BlobStore& s = img.store;
  json manifest = parse_json(read_blob(s.get("manifest.json", "docker save's manifest"), "", kMaxJsonBlob, spec + ": manifest.json"),
                             spec + ": manifest.json");
  if (!manifest.is_array() || manifest.empty())
    throw Error(spec + ": manifest.json is not a non-empty array: not a `docker save` archive; nothing was written");
  size_t pick = manifest.size();
  std::string tags;
  for (size_t i = 0; i < manifest.size(); ++i)
    if (manifest[i].is_object() && manifest[i].contains("RepoTags") && manifest[i]["RepoTags"].is_array())
      for (const auto& t : manifest[i]["RepoTags"])
        if (t.is_string()) {
          tags += (tags.empty() ? "" : ", ") + t.get<std::string>();
          if (t.get<std::string>() == src.ref) pick = i;
        }
  if (src.ref.empty()) {
    if (manifest.size() != 1)
      throw Error(spec + " holds " + std::to_string(manifest.size()) + " images; name one as " + spec + ":TAG or " + spec +
                  ":@N (it holds: " + tags + ")");
    pick = 0;
  } else if (src.ref[0] == '@') {
    char* end = nullptr;
    unsigned long n = std::strtoul(src.ref.c_str() + 1, &end, 10);
    if (*end != '\0' || src.ref.size() == 1 || n >= manifest.size())
      throw Error(spec + ": " + src.ref + " is not an image index below " + std::to_string(manifest.size()));
    pick = n;
  } else if (pick == manifest.size()) {
    throw Error(spec + " holds no image tagged " + src.ref + " (it holds: " + (tags.empty() ? "untagged images" : tags) + ")");
  }
  const json& entry = manifest[pick];
  if (!entry.is_object() || !entry.contains("Config") || !entry["Config"].is_string() || !entry.contains("Layers") ||
      !entry["Layers"].is_array())
    throw Error(spec + ": manifest.json's entry has no Config or Layers: not a `docker save` archive; nothing was written");
  if (entry.contains("RepoTags") && entry["RepoTags"].is_array())
    for (const auto& t : entry["RepoTags"])
      if (t.is_string()) img.repo_tags.push_back(t.get<std::string>());
  const std::string config_name = entry["Config"].get<std::string>();
  img.config_digest = digest_from_name(config_name);
  if (img.config_digest.empty())
    throw Error(spec + ": the config's name " + config_name + " does not say its digest, so it cannot be verified");
  img.config = parse_json(read_blob(s.get(config_name, "the image config"), img.config_digest, kMaxJsonBlob, spec + ": config"),
                          spec + ": config " + config_name);
  check_config(img.config, spec);
  check_config_platform(img.config, platform, spec);
  // Older `docker save` names layers <id>/layer.tar, which says nothing of their content: such a layer is
  // uncompressed, so its digest is its diff_id in the (verified) config.
  json diff_ids = img.config.contains("rootfs") && img.config["rootfs"].is_object() ? img.config["rootfs"].value("diff_ids", json())
                                                                                   : json();
  const json& layers = entry["Layers"];
  for (size_t i = 0; i < layers.size(); ++i) {
    if (!layers[i].is_string()) throw Error(spec + ": manifest.json's Layers holds a non-string; nothing was written");
    const std::string name = layers[i].get<std::string>();
    std::string digest = digest_from_name(name);
    if (digest.empty()) {
      if (!diff_ids.is_array() || diff_ids.size() != layers.size() || !diff_ids[i].is_string())
        throw Error(spec + ": layer " + name + " has no digest to check it against (the config's rootfs.diff_ids does "
                    "not list one per layer); nothing was written");
      digest = diff_ids[i].get<std::string>();
    }
    img.layers.push_back({s.get(name, "layer " + digest), digest});
  }
  return img;
}

}  // namespace

LocalImage open_local_image(const ImageSource& source, const std::string& spec, const std::optional<Platform>& platform) {
  switch (source.kind) {
    case SourceKind::oci_layout: return open_oci(BlobStore::open_directory(source.path), source, spec, platform);
    case SourceKind::oci_archive: return open_oci(BlobStore::open_tar(source.path), source, spec, platform);
    case SourceKind::docker_archive: return open_docker_archive(BlobStore::open_tar(source.path), source, spec, platform);
    case SourceKind::registry: {
      // Pulled into a private OCI layout, every blob verified on the way, then read as oci:DIR. open_oci opens
      // each blob it hands out, so the directory goes when this returns and the layers stay readable through
      // their descriptors until the LocalImage is destroyed.
      PulledLayout pulled = pull_registry_image(source, spec, platform);
      LocalImage image = open_oci(BlobStore::open_directory(pulled.dir()),
                                  ImageSource{SourceKind::oci_layout, pulled.dir(), "", {}}, spec, platform);
      for (auto& layer : image.layers) layer.verified = true;  // pull_registry_image hashed every blob it wrote
      return image;
    }
    case SourceKind::engine: break;
  }
  throw Error("internal: open_local_image on an Engine image");
}

ImageInfo local_image_info(const LocalImage& image, const std::string& spec) {
  ImageInfo info;
  info.ref = spec;
  info.id = image.config_digest;
  info.created = json_string(image.config, "created");
  info.os = json_string(image.config, "os");
  info.architecture = json_string(image.config, "architecture");
  return info;
}

json local_image_config(const LocalImage& image) {
  auto it = image.config.find("config");
  return it == image.config.end() ? json() : *it;
}

}  // namespace droot::pack
