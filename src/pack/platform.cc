#include "platform.h"

#include "architecture.h"
#include "error.h"

namespace droot::pack {

Platform parse_platform(const std::string& text) {
  Platform p;
  size_t a = text.find('/');
  size_t b = a == std::string::npos ? std::string::npos : text.find('/', a + 1);
  if (a == std::string::npos || a == 0 || a + 1 == text.size() || b == a + 1 ||
      (b != std::string::npos && (b + 1 == text.size() || text.find('/', b + 1) != std::string::npos)))
    throw Error("--platform " + text + ": expected OS/ARCH or OS/ARCH/VARIANT, e.g. linux/arm64 or linux/arm/v7");
  p.os = text.substr(0, a);
  p.architecture = b == std::string::npos ? text.substr(a + 1) : text.substr(a + 1, b - a - 1);
  if (b != std::string::npos) p.variant = text.substr(b + 1);
  return p;
}

Platform host_platform() { return Platform{"linux", host_architecture(), ""}; }

namespace {
std::string field(const nlohmann::json& j, const char* name) {
  auto it = j.find(name);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}
}  // namespace

bool platform_matches(const Platform& want, const nlohmann::json& platform) {
  if (!platform.is_object()) return false;
  if (field(platform, "os") != want.os || field(platform, "architecture") != want.architecture) return false;
  return want.variant.empty() || field(platform, "variant") == want.variant;
}

std::string describe_platforms(const nlohmann::json& manifests) {
  std::string out;
  if (!manifests.is_array()) return out;
  for (const auto& m : manifests) {
    auto p = m.find("platform");
    if (p == m.end() || !p->is_object()) continue;
    Platform x{field(*p, "os"), field(*p, "architecture"), field(*p, "variant")};
    out += (out.empty() ? "" : ", ") + x.str();
  }
  return out.empty() ? "none named" : out;
}

bool is_index_media_type(const std::string& media_type) {
  return media_type == "application/vnd.oci.image.index.v1+json" ||
         media_type == "application/vnd.docker.distribution.manifest.list.v2+json";
}

nlohmann::json select_platform_manifest(const nlohmann::json& manifests, const Platform& want, bool explicit_platform,
                                        const std::string& what) {
  if (manifests.is_array())
    for (const auto& m : manifests) {
      if (!m.is_object()) continue;
      auto p = m.find("platform");
      bool attestation = p != m.end() && p->is_object() && field(*p, "os") == "unknown";
      if (!attestation && p != m.end() && platform_matches(want, *p)) return m;
    }
  throw Error(what + " has no image for " + (explicit_platform ? "--platform " : "this host's platform ") + want.str() +
              "; it holds: " + describe_platforms(manifests) + " (choose one with --platform OS/ARCH[/VARIANT])");
}

}  // namespace droot::pack
