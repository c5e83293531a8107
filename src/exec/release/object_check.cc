#include "object_check.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "error.h"
#include "hash.h"
#include "object_store.h"

namespace droot::exec {

ObjectCheck check_objects(const ObjectStore& objects, bool owners) {
  ObjectCheck out;
  std::vector<char> buf(1 << 20);
  objects.for_each([&](int dir, const std::string& d, const std::string& name) {
    const std::string rel = d + "/" + name;
    auto parsed = parse_object_name(d, name);
    if (!parsed) {
      out.damaged.push_back({rel, "not an object name (put there by hand?)"});
      return;
    }
    // O_NOFOLLOW | O_NONBLOCK: a symlink is reported, not followed; a FIFO planted here does not block.
    int raw = ::openat(dir, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (raw < 0) {
      out.damaged.push_back({rel, std::string("cannot open it: ") + std::strerror(errno)});
      return;
    }
    UniqueFd fd(raw);
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) throw_errno("cannot look at " + objects.path() + "/" + rel);
    ++out.checked;
    if (!S_ISREG(st.st_mode)) {
      out.damaged.push_back({rel, "not a regular file"});
      return;
    }
    const ObjectKey& k = parsed->key;
    // The name does not carry the size: the content's sha256 below answers for it.
    std::string problem = object_mismatch(st, k, static_cast<uint64_t>(st.st_size), owners);
    if (st.st_nlink == 1) ++out.unused;
    Digest sha = Digest::sha256();
    for (;;) {
      ssize_t n = ::read(fd.get(), buf.data(), buf.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        throw_errno("cannot read " + objects.path() + "/" + rel);
      }
      if (n == 0) break;
      sha.update(buf.data(), static_cast<size_t>(n));
      out.bytes += static_cast<uint64_t>(n);
    }
    const std::string got = to_hex(sha.finish());
    if (got != to_hex(k.sha256)) problem = "content differs (sha256 " + got + ")" + (problem.empty() ? "" : "; " + problem);
    if (!problem.empty()) out.damaged.push_back({rel, problem});
  });
  return out;
}

}  // namespace droot::exec
