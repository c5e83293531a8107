// `droot-pack --base OLD_ARTIFACT`: reads a base artifact and collects the object keys (object_key.h) of its
// regular files, which a delta then need not ship. One pass over the base in constant memory apart from the
// keys themselves (32 bytes per regular file): every file's content is hashed as it streams by, no path map.
#pragma once

#include <cstdint>
#include <string>

#include "artifact_config.h"
#include "object_key.h"

namespace droot::pack {

struct BaseArtifact {
  std::string path;  // as given to --base
  DeltaBase base;    // its image ref and id (from its config.json) and its payload's sha256
  uint64_t keys = 0;  // keys it added: regular files without extended attributes, hard links not counted
                      // again, plus the lines of its own .droot/delta.mtree if it is a delta itself
};

// Reads the artifact at `path`: a zstd, gzip or plain tar payload, its trailer (if any) found from the end as
// droot-exec does. Adds its keys to `keys` (call keys.seal() once every base is read). Files with extended
// attributes add no key (a delta always ships those). Checks that it is a droot artifact (config.json first,
// manifest.mtree present), that it is complete, and that its payload's sha256 matches what its signature's
// trusted comment and a PATH.sha256 sidecar say, when they are there; the signature itself is not verified
// (a forged base can only make a delta that a server cannot deploy: deploy checks every file against the
// delta's own signed manifest). Throws Error naming `path` and what is wrong.
BaseArtifact read_base_keys(const std::string& path, ObjectKeySet& keys);

}  // namespace droot::pack
