#include "artifact_config.h"

#include <ctime>

#include "error.h"

namespace droot {

using nlohmann::json;

std::string make_config_json(const ImageInfo& image, const json& image_config, int64_t source_date_epoch,
                             const std::string& packer, const std::vector<DeltaBase>& delta_bases,
                             uint64_t dropped_dev_special_files) {
  json doc = json::object();
  doc["droot_artifact"] = delta_bases.empty() ? kArtifactVersion : kDeltaArtifactVersion;
  if (!delta_bases.empty()) {
    json bases = json::array();
    for (const auto& b : delta_bases) bases.push_back({{"image", b.image}, {"id", b.id}, {"payload_sha256", b.payload_sha256}});
    doc["delta"] = {{"bases", std::move(bases)}};
  }
  if (dropped_dev_special_files != 0) doc["dropped_dev_special_files"] = dropped_dev_special_files;
  doc["image"] = {{"ref", image.ref},         {"id", image.id},
                  {"repo_digests", image.repo_digests}, {"created", image.created},
                  {"os", image.os},           {"architecture", image.architecture}};
  doc["config"] = image_config.is_null() ? json::object() : image_config;
  doc["source_date_epoch"] = source_date_epoch;
  doc["packer"] = packer;
  // nlohmann's object keeps keys sorted, so the text is the same for the same inputs.
  return doc.dump(2) + "\n";
}

std::string make_drootenv(const json& env) {
  std::string out;
  if (!env.is_array()) return out;
  for (const auto& item : env) {
    if (!item.is_string()) continue;
    const std::string& kv = item.get_ref<const std::string&>();
    if (kv.find('=') == std::string::npos || kv.find('\n') != std::string::npos) continue;
    out += kv;
    out += '\n';
  }
  return out;
}

std::vector<std::string> parse_drootenv(const std::string& text) {
  std::vector<std::string> env;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    std::string line = text.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
    pos = nl == std::string::npos ? text.size() : nl + 1;
    if (line.empty() || line.find('=') == std::string::npos || line[0] == '=') continue;
    env.push_back(line);
  }
  return env;
}

namespace {

std::vector<std::string> string_array(const json& j, const std::string& field, const std::string& source) {
  std::vector<std::string> out;
  if (j.is_null()) return out;
  if (!j.is_array()) throw Error(source + ": config." + field + " must be an array of strings");
  for (const auto& item : j) {
    if (!item.is_string()) throw Error(source + ": config." + field + " must be an array of strings");
    out.push_back(item.get<std::string>());
  }
  return out;
}

std::string string_field(const json& obj, const char* field, const std::string& source) {
  auto it = obj.find(field);
  if (it == obj.end() || it->is_null()) return {};
  if (!it->is_string()) throw Error(source + ": field " + field + " must be a string");
  return it->get<std::string>();
}

bool is_sha256_hex(const std::string& s) {
  return s.size() == 64 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

std::vector<DeltaBase> parse_delta_bases(const json& doc, const std::string& source) {
  auto delta = doc.find("delta");
  if (delta == doc.end() || !delta->is_object())
    throw Error(source + ": a version 2 (delta) artifact needs a \"delta\" object naming its bases");
  auto bases = delta->find("bases");
  if (bases == delta->end() || !bases->is_array() || bases->empty())
    throw Error(source + ": delta.bases must be a non-empty array");
  std::vector<DeltaBase> out;
  for (size_t i = 0; i < bases->size(); ++i) {
    const json& b = (*bases)[i];
    const std::string where = source + ": delta.bases[" + std::to_string(i) + "]";
    if (!b.is_object()) throw Error(where + " must be an object");
    DeltaBase base;
    base.image = string_field(b, "image", where);
    base.id = string_field(b, "id", where);
    base.payload_sha256 = string_field(b, "payload_sha256", where);
    if (!is_sha256_hex(base.payload_sha256))
      throw Error(where + ".payload_sha256 must be 64 lower-case hex digits (the base artifact's payload sha256)");
    out.push_back(std::move(base));
  }
  return out;
}

}  // namespace

ArtifactConfig parse_config_json(const std::string& text, const std::string& source) {
  json doc = json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) throw Error(source + ": not a JSON object");
  ArtifactConfig out;
  auto version = doc.find("droot_artifact");
  if (version == doc.end() || !version->is_number_integer()) throw Error(source + ": missing droot_artifact version");
  // Compared as the 64-bit number it is: get<int>() truncated 4294967297 to 1 (tests/fuzz/regressions/).
  const int64_t v = version->get<int64_t>();
  if (v != kArtifactVersion && v != kDeltaArtifactVersion)
    throw Error(source + ": artifact format version " + version->dump() + " is not supported (this droot reads versions " +
                std::to_string(kArtifactVersion) + " and " + std::to_string(kDeltaArtifactVersion) + "; upgrade droot-exec)");
  out.version = static_cast<int>(v);
  auto delta = doc.find("delta");
  if (v == kArtifactVersion && delta != doc.end())
    throw Error(source + ": a version 1 (full) artifact must not have a \"delta\" object (a delta is version 2)");
  if (v == kDeltaArtifactVersion) out.delta_bases = parse_delta_bases(doc, source);
  if (auto dropped = doc.find("dropped_dev_special_files"); dropped != doc.end()) {
    if (!dropped->is_number_unsigned())
      throw Error(source + ": dropped_dev_special_files must be a non-negative integer (the special files under dev/ "
                  "droot-pack left out)");
    out.dropped_dev_special_files = dropped->get<uint64_t>();
  }
  if (auto image = doc.find("image"); image != doc.end() && image->is_object()) {
    out.image.ref = string_field(*image, "ref", source);
    out.image.id = string_field(*image, "id", source);
    out.image.created = string_field(*image, "created", source);
    out.image.os = string_field(*image, "os", source);
    out.image.architecture = string_field(*image, "architecture", source);
    if (auto d = image->find("repo_digests"); d != image->end()) out.image.repo_digests = string_array(*d, "repo_digests", source);
  }
  if (auto sde = doc.find("source_date_epoch"); sde != doc.end() && sde->is_number_integer())
    out.source_date_epoch = sde->get<int64_t>();
  out.packer = string_field(doc, "packer", source);
  auto cfg = doc.find("config");
  if (cfg != doc.end() && !cfg->is_null()) {
    if (!cfg->is_object()) throw Error(source + ": config must be an object");
    auto get = [&](const char* name) -> const json& {
      static const json null_value;
      auto it = cfg->find(name);
      return it == cfg->end() ? null_value : *it;
    };
    out.config.env = string_array(get("Env"), "Env", source);
    out.config.entrypoint = string_array(get("Entrypoint"), "Entrypoint", source);
    out.config.cmd = string_array(get("Cmd"), "Cmd", source);
    out.config.user = string_field(*cfg, "User", source);
    out.config.working_dir = string_field(*cfg, "WorkingDir", source);
    out.config.stop_signal = string_field(*cfg, "StopSignal", source);
    const json& labels = get("Labels");
    if (labels.is_object())
      for (auto it = labels.begin(); it != labels.end(); ++it)
        if (it->is_string()) out.config.labels[it.key()] = it->get<std::string>();
  }
  return out;
}

int64_t parse_rfc3339(const std::string& text) {
  std::tm tm{};
  const char* rest = strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (rest == nullptr) throw Error("cannot parse time '" + text + "'");
  if (*rest == '.')
    for (++rest; *rest >= '0' && *rest <= '9'; ++rest) {
    }
  int64_t offset = 0;
  if (*rest == '+' || *rest == '-') {
    int hh = 0, mm = 0;
    if (std::sscanf(rest + 1, "%2d:%2d", &hh, &mm) != 2) throw Error("cannot parse time zone in '" + text + "'");
    offset = (hh * 3600 + mm * 60) * (*rest == '+' ? 1 : -1);
  } else if (*rest != 'Z') {
    throw Error("cannot parse time '" + text + "'");
  }
  return static_cast<int64_t>(timegm(&tm)) - offset;
}

}  // namespace droot
