// Where droot-pack reads an image from, in skopeo's transport syntax (containers-transports(5)): a bare IMAGE
// is the Docker Engine, as it always was; "docker-archive:PATH[:REF|:@N]" a `docker save` tar,
// "oci-archive:PATH[:REF]" a tar of an OCI image layout, "oci:DIR[:REF]" an OCI image layout directory.
#pragma once

#include <string>

namespace droot::pack {

enum class SourceKind { engine, docker_archive, oci_archive, oci_layout };

struct ImageSource {
  SourceKind kind = SourceKind::engine;
  std::string path;  // the archive or layout (not for the Engine)
  std::string ref;   // oci: the org.opencontainers.image.ref.name; docker-archive: a RepoTag or "@N"; "" = the only one
};

// Splits at the first ':' after the transport, as skopeo does (a PATH therefore holds no ':'). A transport
// droot-pack does not read ("docker://", "dir:", "containers-storage:") is an Error that says what it
// reads instead; anything else without a known transport prefix is an Engine image name.
ImageSource parse_image_source(const std::string& text);
const char* source_kind_name(SourceKind kind);

}  // namespace droot::pack
