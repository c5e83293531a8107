#include "extracted_records.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <limits>

#include "error.h"
#include "io.h"

namespace droot::exec {
namespace {

void check_id(uint64_t id, const std::string& path) {
  // Linux ids are 32-bit: a larger one in an archive cannot be applied, so it cannot match either.
  if (id > std::numeric_limits<uint32_t>::max())
    throw Error("'" + path + "': owner id " + std::to_string(id) + " is out of range");
}

constexpr size_t kSpoolBuffer = 64 * 1024;

}  // namespace

ExtractedRecords::ExtractedRecords(int spool_dir, std::string manifest_name)
    : spool_dir_(spool_dir), manifest_name_(std::move(manifest_name)), lines_(manifest_name_) {}

void ExtractedRecords::flush(Spool& s) {
  if (s.out.empty()) return;
  if (!s.fd) {
    // Unlinked from the start: a killed deploy leaves nothing behind.
    s.fd = open_unnamed(spool_dir_);
    if (!s.fd) throw_errno("cannot create a temporary file for the deploy's records");
  }
  // Appended at the file's position, which only this moves: the comparison reads with pread.
  write_all(s.fd.get(), s.out, "the deploy's records");
  s.written += s.out.size();
  s.out.clear();
}

void ExtractedRecords::add(const ManifestEntry& entry, Source source) {
  check_id(entry.uid, entry.path);
  check_id(entry.gid, entry.path);
  if (reading_) throw Error(manifest_name_ + ": an entry after the manifest");
  Spool& s = spools_[static_cast<int>(source)];
  s.out += format_manifest_line(entry);
  if (s.out.size() >= kSpoolBuffer) flush(s);
  ++records_;
  if (source != Source::archive) return;
  // The recent entries stay at hand: a hard link's target is nearly always close before it.
  if (recent_.size() < kRecent) {
    recent_.push_back(entry);
  } else {
    recent_[recent_next_] = entry;
    recent_next_ = (recent_next_ + 1) % kRecent;
  }
}

std::optional<std::string_view> ExtractedRecords::next_line(const Spool& s, Reader& r) {
  for (;;) {
    size_t nl = r.buffer.find('\n', r.pos);
    if (nl != std::string::npos) {
      std::string_view line(r.buffer.data() + r.pos, nl - r.pos);
      r.pos = nl + 1;
      return line;
    }
    // Keep the partial line, read the next block after it.
    r.offset += r.pos;
    r.buffer.erase(0, r.pos);
    r.pos = 0;
    const uint64_t at = r.offset + r.buffer.size();
    if (at >= s.written) return std::nullopt;  // lines always end in '\n': nothing partial is left
    const size_t old = r.buffer.size();
    r.buffer.resize(old + static_cast<size_t>(std::min<uint64_t>(kSpoolBuffer, s.written - at)));
    ssize_t n = ::pread(s.fd.get(), r.buffer.data() + old, r.buffer.size() - old, static_cast<off_t>(at));
    if (n <= 0) {
      if (n < 0 && errno == EINTR) {
        r.buffer.resize(old);
        continue;
      }
      throw_errno("cannot read the deploy's records");
    }
    r.buffer.resize(old + static_cast<size_t>(n));
  }
}

bool ExtractedRecords::find(const std::string& path, ManifestEntry& out) {
  // Newest first: a path archived twice is its last record.
  for (size_t i = 0; i < recent_.size(); ++i) {
    const ManifestEntry& e = recent_[(recent_next_ + recent_.size() - 1 - i) % recent_.size()];
    if (e.path == path) {
      out = e;
      return true;
    }
  }
  Spool& s = spools_[0];
  flush(s);
  Reader scan;
  while (auto line = next_line(s, scan)) {
    auto e = parse_manifest_line(*line, "records");
    if (e && e->path == path) {
      out = std::move(*e);
      return true;
    }
  }
  return false;
}

const std::optional<ManifestEntry>& ExtractedRecords::peek(Spool& s) {
  if (!s.head_loaded) {
    s.head_loaded = true;
    s.head.reset();
    while (auto line = next_line(s, s.reader))
      if ((s.head = parse_manifest_line(*line, "records"))) break;
  }
  return s.head;
}

std::optional<ManifestEntry> ExtractedRecords::take(Spool& s) {
  peek(s);
  s.head_loaded = false;
  return std::move(s.head);
}

void ExtractedRecords::note(Difference d) {
  if (differences_.size() < kKeptDifferences) differences_.push_back(std::move(d));
  ++difference_count_;
}

void ExtractedRecords::compare(const ManifestEntry& want) {
  if (want.path == last_listed_ || pending_manifest_.count(want.path))
    throw Error(manifest_name_ + ": '" + mtree_escape(want.path) + "' is listed twice");
  last_listed_ = want.path;
  // The record in step with this line: the archive's next, or the store's next (a delta's file).
  Spool* source = nullptr;
  for (Spool& s : spools_)
    if (const auto& head = peek(s); head && head->path == want.path) source = &s;
  if (source == nullptr)
    for (Spool& s : spools_)
      if (!source && peek(s)) source = &s;
  std::optional<ManifestEntry> seen = source ? take(*source) : std::nullopt;
  std::vector<Difference> found;
  if (seen && seen->path == want.path) {
    diff_entry(*seen, want, found);
  } else {
    // Out of step: each side waits for its partner (an entry missing on one side leaves one waiting).
    if (auto it = pending_records_.find(want.path); it != pending_records_.end()) {
      diff_entry(it->second, want, found);
      pending_records_.erase(it);
    } else {
      pending_manifest_.emplace(want.path, want);
    }
    if (seen) match_record(std::move(*seen), found);
  }
  for (auto& d : found) note(std::move(d));
}

void ExtractedRecords::match_record(ManifestEntry seen, std::vector<Difference>& found) {
  if (auto it = pending_manifest_.find(seen.path); it != pending_manifest_.end()) {
    diff_entry(seen, it->second, found);
    pending_manifest_.erase(it);
  } else {
    std::string path = seen.path;
    pending_records_.emplace(std::move(path), std::move(seen));
  }
}

void ExtractedRecords::compare_line(std::string_view line, size_t line_no) {
  auto want = parse_manifest_line(line, manifest_name_ + " line " + std::to_string(line_no));
  if (want) compare(*want);
}

void ExtractedRecords::feed_manifest(std::string_view chunk) {
  if (!reading_) {
    for (Spool& s : spools_) flush(s);
    reading_ = true;
    recent_.clear();
    recent_.shrink_to_fit();
    recent_next_ = 0;
  }
  lines_.feed(chunk, [this](std::string_view line, size_t line_no) { compare_line(line, line_no); });
}

std::vector<Difference> ExtractedRecords::finish_manifest() {
  if (!reading_) feed_manifest("");
  lines_.finish([this](std::string_view line, size_t line_no) { compare_line(line, line_no); });
  std::vector<Difference> found;
  for (Spool& s : spools_)
    while (auto seen = take(s)) match_record(std::move(*seen), found);
  for (auto& d : found) note(std::move(d));
  for (const auto& [path, want] : pending_manifest_)
    note({Difference::Kind::missing, path, "in the manifest but not in the archive"});
  for (const auto& [path, seen] : pending_records_)
    note({Difference::Kind::extra, path, "in the archive but not in the manifest"});
  pending_manifest_.clear();
  pending_records_.clear();
  return differences_;
}

}  // namespace droot::exec
