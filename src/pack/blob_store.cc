#include "blob_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "error.h"
#include "hash.h"
#include "io.h"
#include "signals.h"

namespace droot::pack {
namespace {

uint64_t parse_octal(const char* p, size_t n, const std::string& display, uint64_t pos) {
  // GNU base-256 for sizes of 8 GiB and more: high bit of the first byte set.
  if (static_cast<unsigned char>(p[0]) & 0x80) {
    uint64_t v = static_cast<unsigned char>(p[0]) & 0x7f;
    for (size_t i = 1; i < n; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
    return v;
  }
  uint64_t v = 0;
  size_t i = 0;
  while (i < n && (p[i] == ' ' || p[i] == '\0')) ++i;
  for (; i < n && p[i] >= '0' && p[i] <= '7'; ++i) v = v * 8 + static_cast<uint64_t>(p[i] - '0');
  for (; i < n; ++i)
    if (p[i] != ' ' && p[i] != '\0')
      throw Error(display + " is not a tar archive (bad number in the header at byte " + std::to_string(pos) + ")");
  return v;
}

std::string cstr(const char* p, size_t n) { return std::string(p, strnlen(p, n)); }

std::string strip_dot_slash(std::string s) {
  while (s.rfind("./", 0) == 0) s.erase(0, 2);
  return s;
}

}  // namespace

std::map<std::string, std::pair<uint64_t, uint64_t>> index_tar(int fd, const std::string& display) {
  std::map<std::string, std::pair<uint64_t, uint64_t>> members;
  const uint64_t total = file_size(fd, display);
  uint64_t pos = 0;
  std::string long_name;
  bool has_pax_size = false;
  uint64_t pax_size = 0;
  char h[512];
  while (pos + 512 <= total) {
    pread_exact(fd, h, 512, pos, display);
    bool zero = true;
    for (char c : h) zero = zero && c == 0;
    if (zero) break;
    if (std::memcmp(h + 257, "ustar", 5) != 0)
      throw Error(display + " is not a tar archive (no ustar header at byte " + std::to_string(pos) + ")");
    uint64_t size = parse_octal(h + 124, 12, display, pos);
    const char type = h[156];
    const uint64_t data = pos + 512;
    if (size > total || data + size > total)
      throw Error(display + " is truncated: a member at byte " + std::to_string(pos) + " runs past its end");
    std::string name = cstr(h, 100);
    std::string prefix = cstr(h + 345, 155);
    if (!prefix.empty()) name = prefix + "/" + name;
    if (type == 'x' || type == 'L') {
      if (size > (1 << 20)) throw Error(display + ": an extended tar header of " + std::to_string(size) + " bytes");
      std::string text(size, '\0');
      pread_exact(fd, text.data(), size, data, display);
      if (type == 'L') {
        long_name = cstr(text.data(), text.size());
      } else {
        // "LEN key=value\n" records.
        size_t i = 0;
        while (i < text.size()) {
          size_t sp = text.find(' ', i);
          if (sp == std::string::npos) break;
          size_t len = std::strtoull(text.c_str() + i, nullptr, 10);
          if (len == 0 || i + len > text.size()) throw Error(display + ": malformed pax header at byte " + std::to_string(pos));
          std::string rec = text.substr(sp + 1, i + len - sp - 2);
          size_t eq = rec.find('=');
          if (eq != std::string::npos) {
            if (rec.compare(0, eq, "path") == 0) long_name = rec.substr(eq + 1);
            if (rec.compare(0, eq, "size") == 0) {
              pax_size = std::strtoull(rec.c_str() + eq + 1, nullptr, 10);
              has_pax_size = true;
            }
          }
          i += len;
        }
      }
      pos = data + ((size + 511) / 512) * 512;
      continue;
    }
    if (!long_name.empty()) name = long_name;
    if (has_pax_size) size = pax_size;
    long_name.clear();
    has_pax_size = false;
    if (data + size > total)
      throw Error(display + " is truncated: member " + name + " runs past its end");
    if (type == '0' || type == '\0' || type == '7') members[strip_dot_slash(name)] = {data, size};
    pos = data + ((size + 511) / 512) * 512;
  }
  return members;
}

BlobStore BlobStore::open_directory(const std::string& path) {
  BlobStore s;
  s.display_ = path;
  s.fd_ = open_or_throw(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
  return s;
}

BlobStore BlobStore::open_tar(const std::string& path) {
  BlobStore s;
  s.display_ = path;
  s.is_tar_ = true;
  s.fd_ = open_or_throw(path, O_RDONLY | O_CLOEXEC);
  s.members_ = index_tar(s.fd_.get(), path);
  return s;
}

std::optional<BlobRange> BlobStore::find(const std::string& name) const {
  if (is_tar_) {
    auto it = members_.find(strip_dot_slash(name));
    if (it == members_.end()) return std::nullopt;
    return BlobRange{fd_.get(), it->second.first, it->second.second, display_ + ":" + name};
  }
  // A layout's names come from its own JSON: never follow one out of the directory.
  if (name.empty() || name[0] == '/' || name.find("..") != std::string::npos) return std::nullopt;
  int fd = ::openat(fd_.get(), name.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    if (errno == ENOENT) return std::nullopt;
    throw_errno("cannot open " + display_ + "/" + name);
  }
  UniqueFd f(fd);
  struct stat st{};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) throw Error(display_ + "/" + name + " is not a regular file");
  open_.push_back(std::move(f));
  return BlobRange{fd, 0, static_cast<uint64_t>(st.st_size), display_ + "/" + name};
}

BlobRange BlobStore::get(const std::string& name, const std::string& what) const {
  auto b = find(name);
  if (!b) throw Error(display_ + " has no " + name + " (" + what + "): the image is incomplete; nothing was written");
  return *b;
}

std::string sha256_hex_of_digest(const std::string& digest, const std::string& what) {
  const std::string prefix = "sha256:";
  if (digest.rfind(prefix, 0) != 0 || digest.size() != prefix.size() + 64 ||
      digest.find_first_not_of("0123456789abcdef", prefix.size()) != std::string::npos)
    throw Error(what + ": digest '" + digest.substr(0, 100) + "' is not sha256:<64 hex digits>");
  return digest.substr(prefix.size());
}

void verify_blob(const BlobRange& blob, const std::string& digest, const std::string& what) {
  const std::string want = sha256_hex_of_digest(digest, what);
  Digest sha = Digest::sha256();
  std::vector<char> buf(1 << 20);
  uint64_t done = 0;
  while (done < blob.size) {
    throw_if_interrupted();
    size_t n = static_cast<size_t>(std::min<uint64_t>(buf.size(), blob.size - done));
    pread_exact(blob.fd, buf.data(), n, blob.offset + done, blob.name);
    sha.update(buf.data(), n);
    done += n;
  }
  std::string got = to_hex(sha.finish());
  if (got != want)
    throw Error(what + ": blob " + blob.name + " has sha256:" + got + ", not the " + digest +
                " the manifest names: the image is corrupt or was tampered with; nothing was written");
}

std::string read_blob(const BlobRange& blob, const std::string& digest, size_t max_size, const std::string& what) {
  if (blob.size > max_size)
    throw Error(what + ": " + blob.name + " is " + std::to_string(blob.size) + " bytes, more than the " +
                std::to_string(max_size) + " droot-pack accepts for it");
  std::string text(blob.size, '\0');
  pread_exact(blob.fd, text.data(), text.size(), blob.offset, blob.name);
  if (!digest.empty()) {
    std::string got = sha256_hex(text);
    if (got != sha256_hex_of_digest(digest, what))
      throw Error(what + ": blob " + blob.name + " has sha256:" + got + ", not the " + digest +
                  " the manifest names: the image is corrupt or was tampered with; nothing was written");
  }
  return text;
}

}  // namespace droot::pack
