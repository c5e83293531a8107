#include "image_ref.h"

#include <cctype>

#include "error.h"

namespace droot::pack {
namespace {

bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool is_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

// docker's path-component: [a-z0-9]+ ((\.|_|__|-+) [a-z0-9]+)*
bool valid_path_component(const std::string& s) {
  size_t i = 0;
  auto alnum_run = [&] {
    size_t start = i;
    while (i < s.size() && is_lower_alnum(s[i])) ++i;
    return i > start;
  };
  if (!alnum_run()) return false;
  while (i < s.size()) {
    if (s[i] == '.') {
      ++i;
    } else if (s[i] == '_') {
      ++i;
      if (i < s.size() && s[i] == '_') ++i;
    } else if (s[i] == '-') {
      while (i < s.size() && s[i] == '-') ++i;
    } else {
      return false;
    }
    if (!alnum_run()) return false;
  }
  return true;
}

// docker's domain: dot-separated [a-zA-Z0-9] labels (inner '-' allowed) or a bracketed IPv6 address,
// optionally :port.
bool valid_domain(const std::string& d) {
  std::string host = d;
  if (auto colon = d.rfind(':'); colon != std::string::npos && (d[0] != '[' || colon > d.find(']'))) {
    std::string port = d.substr(colon + 1);
    if (port.empty() || port.size() > 5) return false;
    for (char c : port)
      if (!std::isdigit(static_cast<unsigned char>(c))) return false;
    host = d.substr(0, colon);
  }
  if (host.empty()) return false;
  if (host.front() == '[') {
    if (host.back() != ']' || host.size() < 4) return false;
    for (size_t i = 1; i + 1 < host.size(); ++i)
      if (!std::isxdigit(static_cast<unsigned char>(host[i])) && host[i] != ':') return false;
    return true;
  }
  size_t start = 0;
  for (;;) {
    size_t dot = host.find('.', start);
    std::string label = host.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (label.empty() || label.front() == '-' || label.back() == '-') return false;
    for (char c : label)
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') return false;
    if (dot == std::string::npos) return true;
    start = dot + 1;
  }
}

// docker's tag: [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
bool valid_tag(const std::string& t) {
  if (t.empty() || t.size() > 128 || t[0] == '.' || t[0] == '-') return false;
  for (char c : t)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '-') return false;
  return true;
}

bool valid_digest(const std::string& d) {
  auto colon = d.find(':');
  if (colon == std::string::npos || colon == 0) return false;
  std::string algo = d.substr(0, colon), hex = d.substr(colon + 1);
  for (char c : algo)
    if (!is_lower_alnum(c) && c != '+' && c != '.' && c != '_' && c != '-') return false;
  if (hex.size() < 32) return false;
  for (char c : hex)
    if (!is_hex(c)) return false;
  return algo != "sha256" || hex.size() == 64;
}

}  // namespace

bool is_image_id(const std::string& ref) {
  std::string hex = ref.rfind("sha256:", 0) == 0 ? ref.substr(7) : ref;
  if (hex.size() != 64) return false;
  for (char c : hex)
    if (!is_hex(c)) return false;
  return true;
}

ImageRef parse_image_ref(const std::string& ref) {
  auto bad = [&](const std::string& why) -> Error {
    return Error("'" + ref + "' is not an image reference that can be pulled: " + why);
  };
  if (ref.empty()) throw bad("it is empty");
  if (is_image_id(ref)) throw bad("it is an image id, which only names a local image (pull by name[:tag] or name@digest)");

  ImageRef r;
  std::string rest = ref;
  if (auto at = rest.find('@'); at != std::string::npos) {
    r.digest = rest.substr(at + 1);
    rest = rest.substr(0, at);
    if (!valid_digest(r.digest)) throw bad("'" + r.digest + "' is not a digest (expected sha256:<64 hex digits>)");
  }
  // A ':' after the last '/' starts the tag; one before it belongs to the registry's port.
  auto slash = rest.rfind('/');
  if (auto colon = rest.rfind(':'); colon != std::string::npos && (slash == std::string::npos || colon > slash)) {
    r.tag = rest.substr(colon + 1);
    rest = rest.substr(0, colon);
    if (!valid_tag(r.tag)) throw bad("'" + r.tag + "' is not a valid tag");
  }
  if (rest.empty()) throw bad("the name is missing");
  if (rest.size() > 255) throw bad("the name is longer than 255 characters");
  r.name = rest;

  // The docker CLI's rule: the first component is a registry if it has a '.' or a ':', is "localhost", or
  // has upper-case letters (which a repository cannot); otherwise the name is on Docker Hub.
  std::string path = rest;
  auto first_slash = rest.find('/');
  if (first_slash != std::string::npos) {
    std::string first = rest.substr(0, first_slash);
    bool has_upper = false;
    for (char c : first) has_upper = has_upper || std::isupper(static_cast<unsigned char>(c));
    if (first.find_first_of(".:") != std::string::npos || first == "localhost" || has_upper) {
      if (!valid_domain(first)) throw bad("'" + first + "' is not a registry host[:port]");
      r.registry = first;
      path = rest.substr(first_slash + 1);
    }
  }
  if (r.registry.empty() || r.registry == "index.docker.io") r.registry = kDockerHubDomain;
  if (path.empty()) throw bad("the repository is missing after the registry");
  size_t start = 0;
  for (;;) {
    size_t end = path.find('/', start);
    std::string component = path.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (!valid_path_component(component)) {
      bool upper = false;
      for (char c : component) upper = upper || std::isupper(static_cast<unsigned char>(c));
      throw bad(upper ? "repository names must be lower-case" : "'" + component + "' is not a valid repository name component");
    }
    if (end == std::string::npos) break;
    start = end + 1;
  }
  r.repository = r.registry == kDockerHubDomain && path.find('/') == std::string::npos ? "library/" + path : path;
  return r;
}

std::string ImageRef::api_tag() const {
  if (!digest.empty()) return digest;
  return tag.empty() ? "latest" : tag;
}

std::string ImageRef::auth_server() const {
  return registry == kDockerHubDomain ? kDockerHubAuthServer : registry;
}

std::string ImageRef::canonical() const {
  std::string s = registry + "/" + repository;
  if (!tag.empty() || digest.empty()) s += ":" + (tag.empty() ? std::string("latest") : tag);
  if (!digest.empty()) s += "@" + digest;
  return s;
}

}  // namespace droot::pack
