// Normalises one entry of the Engine's export for reproducibility (droot-artifact(5), "Normalisation") and
// describes it for the manifest.
#pragma once

#include <archive_entry.h>

#include <cstdint>
#include <optional>
#include <string>

#include "mtree.h"

namespace droot::pack {

// "./bin/sh", "/bin/sh", "bin/sh/" → "bin/sh"; "" for the root itself.
std::string relative_path(const char* raw);

// Why an export entry is left out of the artifact, or nullopt to keep it.
std::optional<std::string> skip_reason(const std::string& path);

// Rewrites `entry` in place: relative paths, numeric ids only, mtime clamped to `source_date`, no atime, ctime
// or birth time. Returns the entry's path.
std::string normalise_entry(archive_entry* entry, int64_t source_date);

// The manifest line for a normalised entry (sha256 and size filled in by the caller for regular files).
ManifestEntry manifest_entry_for(archive_entry* entry, const std::string& path);

}  // namespace droot::pack
