#include "content_spool.h"

#include <unistd.h>

#include <algorithm>

#include "error.h"
#include "io.h"
#include "spool_file.h"

namespace droot::pack {

namespace {
const std::string kWhat = "the file content spool";
}

void ContentSpool::clear() {
  memory_.clear();  // keeps its capacity: no allocation per file
  if (file_size_ > 0 && ::ftruncate(file_.get(), 0) != 0) throw_errno("cannot truncate " + kWhat);
  file_size_ = 0;
}

void ContentSpool::append(const void* data, size_t size) {
  const char* p = static_cast<const char*>(data);
  if (memory_.size() < limit_) {
    if (memory_.capacity() < limit_) memory_.reserve(limit_);  // once: the buffer is reused for every file
    size_t n = std::min(size, limit_ - memory_.size());
    memory_.insert(memory_.end(), p, p + n);
    p += n;
    size -= n;
  }
  if (size == 0) return;
  if (!file_) file_ = make_spool_file(kWhat);
  pwrite_all(file_.get(), p, size, file_size_, kWhat);
  file_size_ += size;
}

void ContentSpool::replay(const std::function<void(const void*, size_t)>& sink) const {
  if (!memory_.empty()) sink(memory_.data(), memory_.size());
  if (file_size_ == 0) return;
  std::vector<char> buf(static_cast<size_t>(std::min<uint64_t>(file_size_, 256 * 1024)));
  for (uint64_t off = 0; off < file_size_;) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), file_size_ - off));
    pread_exact(file_.get(), buf.data(), want, off, kWhat);
    sink(buf.data(), want);
    off += want;
  }
}

}  // namespace droot::pack
