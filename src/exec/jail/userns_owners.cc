#include "userns_owners.h"

#include <fcntl.h>
#include <unistd.h>

#include <charconv>

#include "error.h"
#include "mtree.h"
#include "beneath.h"

namespace droot::exec {

namespace {

// The value of ` KEY=` on a manifest line (paths are escaped: no space inside them), or nullopt.
std::optional<uint64_t> keyword(std::string_view line, std::string_view key) {
  size_t at = line.find(key);
  if (at == std::string_view::npos) return std::nullopt;
  const char* begin = line.data() + at + key.size();
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(begin, line.data() + line.size(), v);
  if (ec != std::errc() || end == begin) return std::nullopt;
  return v;
}

}  // namespace

void OwnerScan::line(std::string_view text) {
  if (found_ || text.empty() || text[0] == '#' || text[0] == '/') return;
  // Cheap on the common line (both ids small); the whole line is parsed only for the one reported.
  auto uid = keyword(text, " uid="), gid = keyword(text, " gid=");
  bool bad_uid = uid && *uid >= count_, bad_gid = gid && *gid >= count_;
  if (!bad_uid && !bad_gid) return;
  auto entry = parse_manifest_line(text, source_);
  if (!entry) return;
  found_ = UnmappedOwner{entry->path, bad_uid ? *uid : *gid, !bad_uid};
}

void OwnerScan::feed(std::string_view data) {
  if (!found_) lines_.feed(data, [this](std::string_view text, size_t) { line(text); });
}

std::optional<UnmappedOwner> OwnerScan::finish() {
  lines_.finish([this](std::string_view text, size_t) { line(text); });
  return found_;
}

std::optional<UnmappedOwner> first_unmapped_owner(int root, uint64_t count, const std::string& rootfs) {
  const std::string source = rootfs + "/" + std::string(kManifestPath);
  // droot's own file at a fixed place: a symlink or a mount there is not the manifest, never followed.
  UniqueFd fd = open_beneath(root, std::string(kManifestPath), O_RDONLY);
  if (!fd) {
    if (errno == ENOENT) return std::nullopt;
    throw Error("cannot open " + source + ": " + beneath_error_text(errno));
  }
  OwnerScan scan(count, source);
  char buf[1 << 16];
  for (;;) {
    ssize_t n = read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno("cannot read " + source);
    }
    if (n == 0) break;
    scan.feed(std::string_view(buf, static_cast<size_t>(n)));
  }
  return scan.finish();
}

}  // namespace droot::exec
