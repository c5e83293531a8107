#include "mtree_spool.h"

#include <algorithm>
#include <vector>

#include "io.h"
#include "spool_file.h"

namespace droot::pack {

MtreeSpool::MtreeSpool(std::string what) : what_(std::move(what)), fd_(make_spool_file(what_)) {
  const std::string header = manifest_header();
  write_all(fd_.get(), header, what_);
  size_ = header.size();
}

void MtreeSpool::append(const ManifestEntry& e) {
  const std::string line = format_manifest_line(e);
  write_all(fd_.get(), line, what_);
  size_ += line.size();
}

std::optional<ManifestEntry> MtreeSpool::find(const std::string& path) const {
  const std::string prefix = "./" + mtree_escape(path) + " ";
  std::string pending;
  std::vector<char> buf(256 * 1024);
  for (uint64_t off = 0; off < size_;) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), size_ - off));
    pread_exact(fd_.get(), buf.data(), want, off, what_);
    off += want;
    pending.append(buf.data(), want);
    size_t start = 0;
    for (size_t nl; (nl = pending.find('\n', start)) != std::string::npos; start = nl + 1) {
      if (pending.compare(start, prefix.size(), prefix) == 0) {
        auto m = parse_manifest(pending.substr(start, nl - start + 1), what_);
        return m.begin()->second;
      }
    }
    pending.erase(0, start);
  }
  return std::nullopt;
}

}  // namespace droot::pack
