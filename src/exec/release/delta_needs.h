// Before a delta writes anything: does DEST's object store hold every file the delta does not carry?
// The payload (already verified) is read once more up to its .droot/delta.mtree — a delta is small, so this
// costs little — and each listed object is looked up. Missing or damaged objects are counted, not held.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "artifact_config.h"
#include "extract.h"
#include "mtree.h"
#include "object_store.h"

namespace droot::exec {

struct DeltaNeeds {
  std::optional<ArtifactConfig> config;  // the payload's .droot/config.json (its first entry), if it has one
  std::vector<DeltaBase> bases;
  uint64_t files = 0;          // lines of .droot/delta.mtree
  uint64_t bytes = 0;
  uint64_t missing = 0;        // objects absent from the store
  uint64_t missing_bytes = 0;
  uint64_t damaged = 0;        // present, but not what their name says
  std::string first_problem;   // the first missing or damaged object, for the message
};

// The object a line of .droot/delta.mtree takes from the store (no capability: files with extended attributes
// are always shipped). Throws Error("<where>: …") unless the line is a regular file with a time.
ObjectKey delta_object_key(const ManifestEntry& e, const std::string& where);

// For an artifact that is not a delta, returns an empty DeltaNeeds (no bases). Throws on a malformed list.
DeltaNeeds delta_needs(const VerifiedPayload& payload, const ObjectStore& objects, bool owners);

// "the delta needs 3 files (1.2 MiB) that DEST does not hold … deploy the full artifact": the refusal text.
std::string delta_refusal(const DeltaNeeds& needs, const std::string& artifact, const std::string& dest);

}  // namespace droot::exec
