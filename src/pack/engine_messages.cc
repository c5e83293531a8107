#include "engine_messages.h"

#include <cctype>
#include <cstdio>

#include "error.h"

namespace droot::pack {

using nlohmann::json;

int compare_api_versions(const std::string& a, const std::string& b) {
  int a1 = 0, a2 = 0, b1 = 0, b2 = 0;
  std::sscanf(a.c_str(), "%d.%d", &a1, &a2);
  std::sscanf(b.c_str(), "%d.%d", &b1, &b2);
  if (a1 != b1) return a1 < b1 ? -1 : 1;
  if (a2 != b2) return a2 < b2 ? -1 : 1;
  return 0;
}

namespace {

// An error message comes from the Engine, which may be hostile or broken: droot-pack prints it inside its own
// one-line error, so control characters (newlines, terminal escapes, DEL) become spaces and the length is
// bounded. Bytes from 0x80 up are kept: messages are UTF-8.
std::string printable_message(std::string text, size_t max_size) {
  if (text.size() > max_size) {
    text.resize(max_size);
    text += "...";
  }
  for (auto& c : text)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  while (!text.empty() && text.back() == ' ') text.pop_back();
  return text;
}

// nlohmann::json parses iteratively but copies and dumps recursively: an inspect answer nested 20000 levels
// deep (40 KB of "[") overflowed droot-pack's stack when .Config was copied into config.json
// (tests/fuzz/regressions/engine_fuzz/). Real answers nest a handful of levels; deeper JSON is refused unread.
constexpr int kMaxJsonDepth = 64;

bool nested_too_deep(std::string_view text) {
  int depth = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxJsonDepth) return true;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return false;
}

}  // namespace

std::string engine_message(const std::string& body) {
  auto j = nested_too_deep(body) ? json(json::value_t::discarded) : json::parse(body, nullptr, false);
  if (!j.is_discarded() && j.is_object()) {
    auto it = j.find("message");
    if (it != j.end() && it->is_string()) {
      std::string m = printable_message(it->get<std::string>(), 1000);
      if (!m.empty()) return m;
    }
  }
  std::string text = printable_message(body.substr(0, 300), 300);
  return text.empty() ? "(empty answer)" : text;
}

void add_header_line(std::string_view line, std::map<std::string, std::string>& headers) {
  auto colon = line.find(':');
  if (colon == std::string_view::npos) return;
  std::string name(line.substr(0, colon));
  for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::string value(line.substr(colon + 1));
  value.erase(0, value.find_first_not_of(" \t"));
  while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) value.pop_back();
  headers[name] = value;
}

std::string choose_api_version(const std::string& server, const std::string& forced, const std::string& display) {
  std::string version;
  if (!forced.empty()) {
    version = forced;
  } else if (server.empty()) {
    version = kOldestApiVersion;  // a daemon that does not say speaks at least the oldest we support
  } else {
    version = compare_api_versions(server, kNewestApiVersion) < 0 ? server : kNewestApiVersion;
  }
  if (compare_api_versions(version, kOldestApiVersion) < 0 && !forced.empty())
    throw Error("DOCKER_API_VERSION=" + forced + " is older than API " + kOldestApiVersion +
                ", the oldest droot-pack speaks: unset it or raise it");
  if (compare_api_versions(version, kOldestApiVersion) < 0)
    throw Error("the Docker Engine at " + display + " speaks API " + version + ", older than " + kOldestApiVersion +
                " which droot-pack needs: upgrade the daemon");
  return version;
}

namespace {

// "" for an absent or null field; the string otherwise (the caller has checked the type).
std::string string_or_empty(const json& obj, const char* field) {
  auto it = obj.find(field);
  return it == obj.end() || it->is_null() ? std::string() : it->get<std::string>();
}

bool absent_or(const json& obj, const char* field, bool (json::*is_type)() const noexcept) {
  auto it = obj.find(field);
  return it == obj.end() || it->is_null() || ((*it).*is_type)();
}

}  // namespace

json parse_inspect_answer(const std::string& body, const std::string& what) {
  if (nested_too_deep(body)) throw Error(what + " sent malformed JSON (nested more than " + std::to_string(kMaxJsonDepth) + " levels deep)");
  auto j = json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("Id") || !j["Id"].is_string())
    throw Error(what + " sent malformed JSON");
  for (const char* field : {"Created", "Os", "Architecture"})
    if (!absent_or(j, field, &json::is_string)) throw Error(what + " sent malformed JSON (" + field + " is not a string)");
  if (!absent_or(j, "RepoDigests", &json::is_array)) throw Error(what + " sent malformed JSON (RepoDigests is not an array)");
  if (!absent_or(j, "Size", &json::is_number)) throw Error(what + " sent malformed JSON (Size is not a number)");
  // config.json keeps .Config byte for byte, and droot-exec refuses a config whose Env, Cmd, User, … have the
  // wrong types: refuse it here, where the culprit (the Engine) can be named, rather than ship an artifact
  // that no server can run. droot-exec's own parser is the judge, so the two sides cannot disagree.
  try {
    parse_config_json(make_config_json(ImageInfo{}, image_config_from(j), 0, ""), "config.json");
  } catch (const Error& e) {
    throw Error(what + " sent an image Config that droot-exec could not read: " + e.what());
  }
  return j;
}

std::string parse_create_answer(const std::string& body, const std::string& what) {
  if (nested_too_deep(body)) throw Error(what + " sent malformed JSON (nested more than " + std::to_string(kMaxJsonDepth) + " levels deep)");
  auto j = json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("Id") || !j["Id"].is_string())
    throw Error(what + " sent malformed JSON");
  return j["Id"].get<std::string>();
}

ImageInfo image_info_from(const json& inspect, const std::string& ref) {
  ImageInfo info;
  info.ref = ref;
  info.id = string_or_empty(inspect, "Id");
  if (auto d = inspect.find("RepoDigests"); d != inspect.end() && d->is_array())
    for (const auto& x : *d)
      if (x.is_string()) info.repo_digests.push_back(x.get<std::string>());
  info.created = string_or_empty(inspect, "Created");
  info.os = string_or_empty(inspect, "Os");
  info.architecture = string_or_empty(inspect, "Architecture");
  return info;
}

json image_config_from(const json& inspect) {
  auto it = inspect.find("Config");
  return it == inspect.end() ? json() : *it;
}

uint64_t image_size_from(const json& inspect) {
  // Only a progress estimate: a size that is not a plain count (negative, fractional) counts as unknown.
  auto it = inspect.find("Size");
  return it != inspect.end() && it->is_number_unsigned() ? it->get<uint64_t>() : 0;
}

}  // namespace droot::pack
