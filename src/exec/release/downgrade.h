// No silent downgrade: deploy refuses an artifact whose image is older than the current release's, by the
// image creation time both config.json files carry (signed, unlike a file's date or a release's name).
// Rollback is the explicit way back; --allow-downgrade the explicit way forward to an older image.
#pragma once

#include <optional>
#include <string>

#include "artifact_config.h"

namespace droot::exec {

// The refusal text if `incoming` is older than `current` (whole seconds of image.created); nullopt if not,
// or if either has no readable creation time (nothing to compare: not refused).
std::optional<std::string> downgrade_refusal(const ArtifactConfig& incoming, const ArtifactConfig& current,
                                             const std::string& current_release, const std::string& dest);

}  // namespace droot::exec
