// What a deploy extracted, and its comparison with the manifest as the manifest's text streams in (it is the
// archive's last entry). Nothing per entry stays in memory for the whole deploy: each record is appended to
// a spool file (an unlinked temporary file beside the release) as a manifest line, and when the manifest
// arrives its lines are compared in step with the spool's. droot-pack lists the manifest in archive order,
// so the two streams agree line by line; an entry out of step waits in a small map until its partner comes
// (a manifest in another order still compares correctly, at the cost of that map: only a trusted signer
// can produce one).
//
// A delta's files taken from the object store are recorded in a second spool, in the order of
// .droot/delta.mtree (which is the manifest's order too): the comparison merges the two.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fd.h"
#include "line_splitter.h"
#include "manifest_diff.h"
#include "mtree.h"

namespace droot::exec {

class ExtractedRecords {
 public:
  // The spools are unnamed files (io.h, open_unnamed) in `spool_dir`: the release being built.
  ExtractedRecords(int spool_dir, std::string manifest_name);

  enum class Source { archive, store };
  // Adds an entry (regular files with size and sha256), in archive order. Throws on ids beyond 32 bits.
  void add(const ManifestEntry& entry, Source source = Source::archive);
  // The record of an earlier archive entry; false if there is none. Recent entries come from memory, older
  // ones from the spool (a hard link to a file far back costs one read of the spool).
  bool find(const std::string& path, ManifestEntry& out);

  // Feeds the manifest's text; complete lines are compared right away.
  void feed_manifest(std::string_view chunk);
  // End of the manifest: records it did not list are "extra", lines without a record "missing". Returns the
  // differences found (the first kKeptDifferences; `difference_count()` has the total).
  std::vector<Difference> finish_manifest();
  size_t difference_count() const { return difference_count_; }
  uint64_t records() const { return records_; }

  static constexpr size_t kKeptDifferences = 100;
  static constexpr size_t kRecent = 4096;

 private:
  struct Reader {
    uint64_t offset = 0;  // of buffer's start in the file
    std::string buffer;
    size_t pos = 0;
  };
  struct Spool {
    UniqueFd fd;
    std::string out;     // lines not yet written
    uint64_t written = 0;
    Reader reader;       // the comparison's position
    std::optional<ManifestEntry> head;
    bool head_loaded = false;
  };
  void flush(Spool& s);
  static std::optional<std::string_view> next_line(const Spool& s, Reader& r);
  const std::optional<ManifestEntry>& peek(Spool& s);
  std::optional<ManifestEntry> take(Spool& s);
  void compare_line(std::string_view line, size_t line_no);
  void compare(const ManifestEntry& want);
  // A record whose manifest line has not come in step: compared with a waiting line, or made to wait.
  void match_record(ManifestEntry seen, std::vector<Difference>& found);
  void note(Difference d);

  int spool_dir_;
  std::string manifest_name_;
  Spool spools_[2];
  bool reading_ = false;
  uint64_t records_ = 0;
  // The last kRecent archive records, a ring (recent_next_: the oldest, overwritten next): assigning over
  // an entry reuses its strings, so a record costs no allocation; find() scans it newest first (hard links
  // are rare, every entry is not).
  std::vector<ManifestEntry> recent_;
  size_t recent_next_ = 0;

  std::map<std::string, ManifestEntry> pending_records_;   // records whose manifest line has not come yet
  std::map<std::string, ManifestEntry> pending_manifest_;  // manifest lines whose record has not come yet
  std::string last_listed_;
  LineSplitter lines_;  // the manifest's lines, as its chunks come
  std::vector<Difference> differences_;
  size_t difference_count_ = 0;
};

}  // namespace droot::exec
