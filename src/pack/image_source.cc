#include "image_source.h"

#include "error.h"
#include "image_ref.h"

namespace droot::pack {

const char* source_kind_name(SourceKind kind) {
  switch (kind) {
    case SourceKind::engine: return "the Docker Engine";
    case SourceKind::docker_archive: return "docker-archive";
    case SourceKind::oci_archive: return "oci-archive";
    case SourceKind::oci_layout: return "oci";
    case SourceKind::registry: return "docker://";
  }
  return "?";
}

ImageSource parse_image_source(const std::string& text) {
  ImageSource s;
  if (text.rfind("docker://", 0) == 0) {
    s.kind = SourceKind::registry;
    s.path = text.substr(9);
    if (s.path.empty()) throw Error(text + ": no image after 'docker://' (give docker://[REGISTRY/]REPOSITORY[:TAG|@DIGEST])");
    try {
      parse_image_ref(s.path);  // refused here, before any key is read or byte sent
    } catch (const Error& e) {
      throw Error(text + ": " + e.what());
    }
    return s;
  }
  struct Prefix {
    const char* name;
    SourceKind kind;
  };
  for (const Prefix& p : {Prefix{"docker-archive:", SourceKind::docker_archive}, Prefix{"oci-archive:", SourceKind::oci_archive},
                          Prefix{"oci:", SourceKind::oci_layout}}) {
    std::string prefix = p.name;
    if (text.rfind(prefix, 0) != 0) continue;
    std::string rest = text.substr(prefix.size());
    size_t colon = rest.find(':');
    s.kind = p.kind;
    s.path = rest.substr(0, colon);
    if (colon != std::string::npos) {
      s.ref = rest.substr(colon + 1);
      if (s.ref.empty()) throw Error(text + ": empty reference after ':' (give " + prefix + "PATH or " + prefix + "PATH:REF)");
    }
    if (s.path.empty()) throw Error(text + ": no path after '" + prefix + "'");
    return s;
  }
  for (const char* other : {"dir:", "containers-storage:", "docker-daemon:", "ostree:", "sif:"})
    if (text.rfind(other, 0) == 0)
      throw Error(text + ": droot-pack does not read the '" + std::string(other) +
                  "' transport; it reads a bare IMAGE from the Docker Engine, docker-archive:PATH, oci-archive:PATH[:REF], "
                  "oci:DIR[:REF] and docker://REFERENCE (e.g. skopeo copy " + text + " oci-archive:image.tar first)");
  s.path = text;  // the Engine's image name, unchanged
  return s;
}

}  // namespace droot::pack
