#include "delta_needs.h"

#include <archive.h>
#include <archive_entry.h>

#include "error.h"
#include "line_splitter.h"
#include "mtree.h"
#include "object_store.h"
#include "payload_reader.h"

namespace droot::exec {
namespace {

std::string archive_text(archive* a) {
  const char* s = archive_error_string(a);
  return s ? s : "unknown error";
}

// 'path' as the manifest escapes it. (Appending, not "'" + …: GCC 12 warns falsely about the insert at 0,
// PR 105329.)
std::string quoted_path(const std::string& path) {
  return std::string(1, '\'').append(mtree_escape(path)).append(1, '\'');
}

}  // namespace

ObjectKey delta_object_key(const ManifestEntry& e, const std::string& where) {
  if (e.type != "file" || !e.time) throw Error(where + ": every line must be a regular file with a time");
  const timespec mtime{static_cast<time_t>(e.time->sec), static_cast<long>(e.time->nsec)};
  return object_key(e.sha256, e.mode, e.uid, e.gid, mtime, "", e.path);
}

DeltaNeeds delta_needs(const VerifiedPayload& payload, const ObjectStore& objects, bool owners) {
  DeltaNeeds needs;
  PayloadReader reader(payload.fd, payload.size, payload.name);
  archive* a = reader.get();
  archive_entry* entry = nullptr;
  bool first = true;
  for (;;) {
    int rc = archive_read_next_header(a, &entry);
    if (rc == ARCHIVE_EOF) break;
    if (rc < ARCHIVE_WARN) throw Error(payload.name + ": corrupt payload: " + archive_text(a));
    const char* raw = archive_entry_pathname(entry);
    const std::string path = raw ? raw : "";
    if (first) {
      // config.json is the first entry of every artifact: a full one stops the look here.
      first = false;
      if (path != kConfigPath) return needs;
      std::string text(static_cast<size_t>(std::min<int64_t>(archive_entry_size(entry), 16 << 20)), '\0');
      if (archive_read_data(a, text.data(), text.size()) != static_cast<la_ssize_t>(text.size()))
        throw Error(payload.name + ": cannot read .droot/config.json: " + archive_text(a));
      needs.config = parse_config_json(text, payload.name + ": .droot/config.json");
      if (!needs.config->is_delta()) return needs;
      needs.bases = needs.config->delta_bases;
      continue;
    }
    if (path != kDeltaPath) continue;  // skipped: libarchive reads past the data without copying it out
    LineSplitter lines(payload.name + ": .droot/delta.mtree");
    auto check_line = [&](std::string_view line, size_t line_no) {
      const std::string where = payload.name + ": .droot/delta.mtree line " + std::to_string(line_no);
      auto e = parse_manifest_line(line, where);
      if (!e) return;
      ObjectKey key = delta_object_key(*e, where);
      ++needs.files;
      needs.bytes += e->size;
      std::string why;
      switch (objects.find(key, e->size, owners, &why)) {
        case ObjectStore::Found::present:
          return;
        case ObjectStore::Found::absent:
          ++needs.missing;
          needs.missing_bytes += e->size;
          if (needs.first_problem.empty()) needs.first_problem = quoted_path(e->path) + " (" + key.path() + ") is not there";
          return;
        case ObjectStore::Found::damaged:
          ++needs.damaged;
          if (needs.first_problem.empty()) needs.first_problem = quoted_path(e->path) + ": " + why;
          return;
      }
    };
    const void* block = nullptr;
    size_t size = 0;
    la_int64_t offset = 0;
    for (;;) {
      rc = archive_read_data_block(a, &block, &size, &offset);
      if (rc == ARCHIVE_EOF) break;
      if (rc < ARCHIVE_WARN) throw Error(payload.name + ": corrupt payload: " + archive_text(a));
      lines.feed(std::string_view(static_cast<const char*>(block), size), check_line);
    }
    lines.finish(check_line);
    return needs;
  }
  return needs;
}

std::string delta_refusal(const DeltaNeeds& needs, const std::string& artifact, const std::string& dest) {
  std::string bases;
  for (const auto& b : needs.bases)
    bases += std::string(bases.empty() ? "" : ", ") + b.image + " (payload sha256 " + b.payload_sha256.substr(0, 12) + "…)";
  const std::string of_files = " of the " + std::to_string(needs.files) + " files it takes from there";
  std::string text = artifact + " is a delta against " + bases + ", and " + dest;
  if (needs.missing)
    text += " does not hold " + std::to_string(needs.missing) + of_files + " (" + std::to_string(needs.missing_bytes) + " bytes)";
  if (needs.damaged)
    text += std::string(needs.missing ? "; it holds " : " holds ") + std::to_string(needs.damaged) +
            (needs.missing ? " more" : of_files) + " damaged on disk (run droot-exec check --objects " + dest + ")";
  text += "; first: " + needs.first_problem + ". A release of " + (needs.bases.size() == 1 ? "that base" : "one of those bases") +
          " provides them: deploy the full artifact instead (nothing was deployed to " + dest + ")";
  return text;
}

}  // namespace droot::exec
