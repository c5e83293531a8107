// `run --userns` and the owners recorded in a release: an id the jail's namespace does not map (≥ COUNT) has
// no name inside it — the kernel shows such a file as owned by the overflow id 65534 and refuses to chown,
// chmod or create anything through it (EOVERFLOW). Decision: refuse the run, naming the first such path and
// its id, rather than start a service that fails somewhere later; the way out is a larger COUNT
// (--userns=BASE:COUNT) or no user namespace.
//
// The release's own record is read, not the tree: `.droot/manifest.mtree` has every entry's uid and gid, and
// deploy made the tree from it (check reports any difference). A plain ROOT without a manifest is not
// scanned (it is the caller's directory: its ids are the caller's business).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "line_splitter.h"

namespace droot::exec {

struct UnmappedOwner {
  std::string path;  // as in the manifest, without "./"
  uint64_t id = 0;
  bool is_gid = false;
};

// Streams manifest text in pieces: feed() each, then finish(). Keeps only an unfinished line in memory.
class OwnerScan {
 public:
  explicit OwnerScan(uint64_t count, std::string source) : count_(count), source_(source), lines_(std::move(source)) {}
  void feed(std::string_view data);
  std::optional<UnmappedOwner> finish();

 private:
  void line(std::string_view text);
  uint64_t count_;
  std::string source_;
  LineSplitter lines_;
  std::optional<UnmappedOwner> found_;
};

// The first entry of `rootfs`'s .droot/manifest.mtree (open at `root`) with a uid or gid ≥ `count`; nullopt
// when all fit or there is no manifest.
std::optional<UnmappedOwner> first_unmapped_owner(int root, uint64_t count, const std::string& rootfs);

}  // namespace droot::exec
