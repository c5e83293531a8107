#include "image_pull.h"

#include <cstdio>
#include <nlohmann/json.hpp>

#include "error.h"
#include "image_ref.h"
#include "progress.h"
#include "registry_auth.h"

namespace droot::pack {
namespace {

constexpr size_t kMaxLine = 64 << 10;  // a progress message is ~200 bytes; an error a few KiB at most

std::string url_escape(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

uint64_t json_uint(const nlohmann::json& j, const char* name) {
  auto it = j.find(name);
  return it != j.end() && it->is_number_unsigned() ? it->get<uint64_t>() : 0;
}

// Registries answer a refused login in many words; these are the ones dockerd passes on.
bool looks_like_auth_failure(const std::string& message) {
  for (const char* word : {"unauthorized", "authentication required", "no basic auth credentials", "denied", "401"})
    if (message.find(word) != std::string::npos) return true;
  return false;
}

std::string auth_hint(const std::string& message, const ImageRef& ref, const std::optional<RegistryCredentials>& creds,
                      const std::string& config_path) {
  if (!looks_like_auth_failure(message)) return "";
  if (!creds)
    return " (no credentials for " + ref.auth_server() + " in " + config_path + ": run 'docker login" +
           (ref.registry == kDockerHubDomain ? std::string() : " " + ref.registry) +
           "' or set DOCKER_CONFIG to a directory whose config.json has them)";
  return " (the registry refused the credentials for " + ref.auth_server() + " from " + creds->source + ")";
}

bool image_present(EngineClient& engine, const std::string& ref) {
  HttpResponse r = engine.call("GET", "/images/" + ref + "/json", {});
  if (r.status == 200) return true;
  if (r.status == 404) return false;
  throw Error("checking whether image " + ref + " is on the Engine at " + engine.endpoint().display + ": it answered " +
              std::to_string(r.status) + ": " + engine_message(r.body));
}

}  // namespace

PullPolicy parse_pull_policy(const std::string& value) {
  if (value == "missing") return PullPolicy::missing;
  if (value == "always") return PullPolicy::always;
  throw Error("--pull=" + value + ": expected --pull (= missing: pull only an image the Engine does not have) or "
              "--pull=always");
}

void PullStream::feed(const char* data, size_t size) {
  for (size_t i = 0; i < size; ++i) {
    char c = data[i];
    if (c == '\n') {
      if (!cutting_) line(pending_);
      pending_.clear();
      cutting_ = false;
    } else if (!cutting_) {
      pending_ += c;
      if (pending_.size() > kMaxLine) {
        // Keep what fits: a cut error line still says more than none (it is not JSON any more, so it is
        // reported raw below).
        line(pending_);
        pending_.clear();
        cutting_ = true;
      }
    }
  }
}

void PullStream::finish() {
  if (!cutting_ && !pending_.empty()) line(pending_);
  pending_.clear();
  cutting_ = false;
}

void PullStream::line(const std::string& text) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    // A line cut at kMaxLine that began as an error must not be lost.
    if (error_.empty() && text.rfind("{\"error", 0) == 0) error_ = text.substr(0, 300);
    return;
  }
  if (error_.empty()) {
    if (auto d = j.find("errorDetail"); d != j.end() && d->is_object()) {
      if (auto m = d->find("message"); m != d->end() && m->is_string()) error_ = m->get<std::string>();
    }
    if (auto e = j.find("error"); error_.empty() && e != j.end() && e->is_string()) error_ = e->get<std::string>();
    if (!error_.empty()) return;
  }
  auto s = j.find("status");
  if (s == j.end() || !s->is_string()) return;
  std::string status = s->get<std::string>();
  std::string id;
  if (auto i = j.find("id"); i != j.end() && i->is_string()) id = i->get<std::string>();
  if (status.rfind("Digest: ", 0) == 0) digest_ = status.substr(8);
  else if (status.rfind("Status: ", 0) == 0) status_ = status.substr(8);
  if (id.empty()) return;
  // The first message's id is the tag ("Pulling from library/busybox"); only layer states create layers.
  bool layer_state = status == "Pulling fs layer" || status == "Waiting" || status == "Already exists" ||
                     status == "Downloading" || status == "Verifying Checksum" || status == "Download complete" ||
                     status == "Extracting" || status == "Pull complete";
  if (!layer_state) return;
  Layer& layer = layers_[id];
  if (status == "Downloading") {
    if (auto p = j.find("progressDetail"); p != j.end() && p->is_object()) {
      layer.current = json_uint(*p, "current");
      if (uint64_t total = json_uint(*p, "total")) layer.total = total;
    }
  } else if (status == "Download complete" || status == "Verifying Checksum" || status == "Extracting") {
    layer.current = layer.total;
  } else if (status == "Pull complete" || status == "Already exists") {
    layer.current = layer.total;
    layer.done = true;
  }
}

size_t PullStream::layers_done() const {
  size_t n = 0;
  for (const auto& [id, l] : layers_) n += l.done ? 1 : 0;
  return n;
}

uint64_t PullStream::bytes_downloaded() const {
  uint64_t n = 0;
  for (const auto& [id, l] : layers_) n += l.current;
  return n;
}

uint64_t PullStream::bytes_total() const {
  uint64_t n = 0;
  for (const auto& [id, l] : layers_) n += l.total;
  return n;
}

std::string PullStream::summary() const {
  if (layers_.empty()) return "asking the registry";
  std::string s = std::to_string(layers_done()) + "/" + std::to_string(layers()) + " layers";
  if (bytes_total() > 0) s += ", " + human_bytes(bytes_downloaded()) + " of " + human_bytes(bytes_total());
  return s;
}

bool ensure_image(EngineClient& engine, const std::string& ref, const PullOptions& options) {
  if (options.policy == PullPolicy::never) return false;
  // An image id can only be found locally; anything else is checked before the Engine is asked anything.
  std::optional<ImageRef> parsed;
  if (!is_image_id(ref)) parsed = parse_image_ref(ref);
  if (options.policy == PullPolicy::missing && image_present(engine, ref)) return false;
  if (!parsed) parsed = parse_image_ref(ref);  // throws: "an image id … only names a local image"
  const ImageRef& r = *parsed;

  std::optional<RegistryCredentials> creds = load_credentials(options.docker_config, r.auth_server());
  std::vector<std::string> headers;
  if (creds) headers.push_back("X-Registry-Auth: " + encode_registry_auth(*creds));

  PullStream stream;
  Progress progress(options.progress, "pulling " + ref, 0);
  std::function<bool(const char*, size_t)> sink = [&](const char* data, size_t size) {
    stream.feed(data, size);
    progress.status(stream.summary());
    return true;
  };
  const std::string what = "pulling " + ref + " from " + r.registry;
  HttpResponse resp =
      engine.call("POST", "/images/create?fromImage=" + url_escape(r.name) + "&tag=" + url_escape(r.api_tag()), headers, &sink);
  stream.finish();
  progress.done();
  if (resp.status != 200) {
    std::string message = engine_message(resp.body);
    throw Error(what + " failed: the Engine at " + engine.endpoint().display + " answered " + std::to_string(resp.status) +
                ": " + message + auth_hint(message, r, creds, options.docker_config));
  }
  if (!stream.error().empty())
    throw Error(what + " failed: " + stream.error() + auth_hint(stream.error(), r, creds, options.docker_config));
  if (!options.quiet) {
    std::string detail = stream.digest().empty() ? "" : " (" + stream.digest() + ")";
    std::fprintf(stderr, "pulled %s%s: %s\n", ref.c_str(), detail.c_str(),
                 stream.status().empty() ? stream.summary().c_str() : stream.status().c_str());
  }
  return true;
}

}  // namespace droot::pack
