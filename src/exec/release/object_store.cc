#include "object_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <utility>
#include <cstdio>

#include "beneath.h"
#include "dir_names.h"
#include "error.h"
#include "hash.h"

namespace droot::exec {
namespace {

constexpr const char* kObjectsDir = "objects";

// Lower-case hex only (the names ObjectKey::name() makes); -1 for anything else.
constexpr std::array<int8_t, 256> kHexValue = [] {
  std::array<int8_t, 256> t{};
  for (auto& v : t) v = -1;
  for (int c = '0'; c <= '9'; ++c) t[c] = static_cast<int8_t>(c - '0');
  for (int c = 'a'; c <= 'f'; ++c) t[c] = static_cast<int8_t>(c - 'a' + 10);
  return t;
}();

int hex_digit(char c) { return kHexValue[static_cast<unsigned char>(c)]; }

bool parse_hex(std::string_view hex, uint8_t* out) {
  for (size_t i = 0; i < hex.size() / 2; ++i) {
    int hi = hex_digit(hex[2 * i]), lo = hex_digit(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return hex.size() % 2 == 0;
}

template <typename T>
bool parse_int(std::string_view s, T& out, int base = 10) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out, base);
  return ec == std::errc() && p == s.data() + s.size() && !s.empty();
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  for (;;) {
    size_t at = s.find(sep);
    out.push_back(s.substr(0, at));
    if (at == std::string_view::npos) return out;
    s.remove_prefix(at + 1);
  }
}

}  // namespace

std::string ObjectKey::dir() const { return to_hex(sha256.data(), 1); }

std::string ObjectKey::name() const { return std::string(ObjectName(*this).view()); }

ObjectName::ObjectName(const ObjectKey& key) {
  char* p = to_hex(key.sha256.data() + 1, key.sha256.size() - 1, text_);
  char* const end = text_ + sizeof text_;
  if (key.mtime.tv_nsec >= 0 && key.mtime.tv_nsec <= 999999999) {
    // What snprintf's "-%04o-%u-%u-%lld.%09ld" makes, by hand.
    const uint32_t mode = key.mode & 07777;
    *p++ = '-';
    for (int shift = 9; shift >= 0; shift -= 3) *p++ = static_cast<char>('0' + ((mode >> shift) & 7));
    *p++ = '-';
    p = std::to_chars(p, end, key.uid).ptr;
    *p++ = '-';
    p = std::to_chars(p, end, key.gid).ptr;
    *p++ = '-';
    p = std::to_chars(p, end, static_cast<long long>(key.mtime.tv_sec)).ptr;
    *p++ = '.';
    for (long nsec = key.mtime.tv_nsec, div = 100000000; div > 0; div /= 10) *p++ = static_cast<char>('0' + nsec / div % 10);
  } else {
    p += std::snprintf(p, static_cast<size_t>(end - p), "-%04o-%u-%u-%lld.%09ld", key.mode & 07777, key.uid, key.gid,
                       static_cast<long long>(key.mtime.tv_sec), static_cast<long>(key.mtime.tv_nsec));
  }
  if (!key.capability.empty()) {
    const std::string digest = sha256_hex(key.capability);
    *p++ = '-';
    *p++ = 'c';
    p = std::copy_n(digest.data(), 16, p);
  }
  *p = '\0';
  size_ = static_cast<size_t>(p - text_);
}

std::optional<ParsedObjectName> parse_object_name(const std::string& dir, const std::string& name) {
  std::vector<std::string_view> f = split(name, '-');
  if (dir.size() != 2 || (f.size() != 5 && f.size() != 6) || f[0].size() != 62) return std::nullopt;
  ParsedObjectName out;
  if (!parse_hex(dir, out.key.sha256.data()) || !parse_hex(f[0], out.key.sha256.data() + 1)) return std::nullopt;
  if (!parse_int(f[1], out.key.mode, 8) || out.key.mode > 07777) return std::nullopt;
  if (!parse_int(f[2], out.key.uid) || !parse_int(f[3], out.key.gid)) return std::nullopt;
  size_t dot = f[4].find('.');
  if (dot == std::string_view::npos) return std::nullopt;
  long long sec = 0;
  long nsec = 0;
  if (!parse_int(f[4].substr(0, dot), sec) || f[4].size() - dot - 1 != 9 || !parse_int(f[4].substr(dot + 1), nsec))
    return std::nullopt;
  out.key.mtime = {static_cast<time_t>(sec), nsec};
  if (f.size() == 6) {
    if (f[5].size() != 17 || f[5][0] != 'c') return std::nullopt;
    out.capability_digest = std::string(f[5].substr(1));
  }
  if (out.key.name() != name.substr(0, name.size() - (f.size() == 6 ? 18 : 0))) return std::nullopt;  // canonical only
  return out;
}

ObjectKey object_key(const std::string& sha256_hex_text, uint32_t mode, uint64_t uid, uint64_t gid, timespec mtime,
                     const std::string& capability, const std::string& path) {
  ObjectKey k;
  if (sha256_hex_text.size() != 64 || !parse_hex(sha256_hex_text, k.sha256.data()))
    throw Error("'" + path + "': no valid sha256 for the object store");
  if (uid > UINT32_MAX || gid > UINT32_MAX) throw Error("'" + path + "': owner id out of range");
  k.mode = mode & 07777;
  k.uid = static_cast<uint32_t>(uid);
  k.gid = static_cast<uint32_t>(gid);
  k.mtime = mtime;
  k.capability = capability;
  return k;
}

std::string object_mismatch(const struct stat& st, const ObjectKey& key, uint64_t size, bool owners) {
  if (!S_ISREG(st.st_mode)) return "not a regular file";
  if (static_cast<uint64_t>(st.st_size) != size)
    return "size " + std::to_string(st.st_size) + ", its content has " + std::to_string(size);
  if ((st.st_mode & 07777) != key.mode) return "mode changed";
  if (owners && (st.st_uid != key.uid || st.st_gid != key.gid)) return "owner changed";
  if (st.st_mtim.tv_sec != key.mtime.tv_sec || st.st_mtim.tv_nsec != key.mtime.tv_nsec)
    return "modification time changed (written to?)";
  return "";
}

ObjectStore::ObjectStore(int dest_fd, const std::string& dest, bool create) : path_(dest + "/" + kObjectsDir) {
  for (auto& fd : fanout_fd_) fd.store(-1, std::memory_order_relaxed);
  // 0700: objects carry setuid bits and capabilities; they are reached through the releases, never here.
  if (create && ::mkdirat(dest_fd, kObjectsDir, 0700) != 0 && errno != EEXIST) throw_errno("cannot create " + path_);
  int fd = ::openat(dest_fd, kObjectsDir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT && !create) return;
    if (errno == ELOOP || errno == ENOTDIR)
      throw Error(path_ + " is not a directory (a symlink or a file is there; droot needs a real directory)");
    throw_errno("cannot open " + path_);
  }
  fd_.reset(fd);
}

int ObjectStore::fanout(const std::string& dir, bool create) const {
  uint8_t index = 0;
  if (dir.size() != 2 || !parse_hex(dir, &index)) throw Error("bad object directory name '" + dir + "'");
  return fanout(index, create);
}

int ObjectStore::fanout(uint8_t index, bool create) const {
  // A deploy asks from two threads (tree_writer.cc: small files are stored on a thread of their own), once
  // per file: an open directory is found without the lock.
  if (int fd = fanout_fd_[index].load(std::memory_order_acquire); fd >= 0) return fd;
  std::lock_guard<std::mutex> lock(mutex_);
  UniqueFd& slot = fanout_[index];
  if (slot) return slot.get();
  if (!fd_) return -1;
  const std::string dir = to_hex(&index, 1);
  if (create && ::mkdirat(fd_.get(), dir.c_str(), 0700) != 0 && errno != EEXIST)
    throw_errno("cannot create " + path_ + "/" + dir);
  int fd = ::openat(fd_.get(), dir.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT && !create) return -1;
    throw_errno("cannot open " + path_ + "/" + dir);
  }
  slot.reset(fd);
  fanout_fd_[index].store(fd, std::memory_order_release);
  return fd;
}

ObjectStore::Found ObjectStore::find(const ObjectKey& key, uint64_t size, bool owners, std::string* why) const {
  int dir = fanout(key.fanout_index(), false);
  if (dir < 0) return Found::absent;
  const ObjectName name(key);
  struct stat st {};
  if (::fstatat(dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return Found::absent;
    throw_errno("cannot look at " + path_ + "/" + key.path());
  }
  const std::string problem = object_mismatch(st, key, size, owners);
  if (problem.empty()) return Found::present;
  if (why) *why = path_ + "/" + key.path() + ": " + problem;
  return Found::damaged;
}

void ObjectStore::forget(const ObjectKey& key) const {
  int dir = fanout(key.fanout_index(), false);
  if (dir >= 0 && ::unlinkat(dir, ObjectName(key).c_str(), 0) != 0 && errno != ENOENT)
    throw_errno("cannot remove the damaged object " + path_ + "/" + key.path());
}

namespace {

constexpr size_t kBloomWords = (1 << 20) / sizeof(uint64_t);  // 1 MiB: 8 Mbit
constexpr int kBloomHashes = 4;

uint64_t mix(uint64_t x) {  // splitmix64's finaliser
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Two independent 64-bit hashes of everything in the key (double hashing gives the rest).
std::pair<uint64_t, uint64_t> key_hashes(const ObjectKey& k) {
  uint64_t a = 0, b = 0;
  std::memcpy(&a, k.sha256.data(), 8);
  std::memcpy(&b, k.sha256.data() + 8, 8);
  uint64_t meta = mix(uint64_t{k.mode} << 32 ^ k.uid) ^ mix(uint64_t{k.gid} << 1 ^ static_cast<uint64_t>(k.mtime.tv_sec)) ^
                  mix(static_cast<uint64_t>(k.mtime.tv_nsec) + k.capability.size());
  for (unsigned char c : k.capability) meta = mix(meta ^ c);
  return {mix(a ^ meta), mix(b + meta) | 1};
}

}  // namespace

bool same_object_key(const ObjectKey& a, const ObjectKey& b) {
  return a.sha256 == b.sha256 && a.mode == b.mode && a.uid == b.uid && a.gid == b.gid &&
         a.mtime.tv_sec == b.mtime.tv_sec && a.mtime.tv_nsec == b.mtime.tv_nsec && a.capability == b.capability;
}

uint64_t object_key_hash(const ObjectKey& key) { return key_hashes(key).first; }

void ObjectStore::begin_deploy() {
  added_.reset();
  if (!fd_) return;
  for (const auto& d : dir_names(fd_.get(), path_)) {
    uint8_t index = 0;
    if (d.size() == 2 && parse_hex(d, &index)) return;  // objects are stored: every lookup asks the kernel
  }
  added_.reset(new std::atomic<uint64_t>[kBloomWords]());  // value-initialised: all zero
}

bool ObjectStore::maybe_stored(const ObjectKey& key) const {
  if (!added_) return true;
  auto [h1, h2] = key_hashes(key);
  for (int i = 0; i < kBloomHashes; ++i) {
    uint64_t bit = (h1 + static_cast<uint64_t>(i) * h2) % (kBloomWords * 64);
    if (!(added_[bit / 64].load(std::memory_order_relaxed) & (uint64_t{1} << (bit % 64)))) return false;
  }
  return true;
}

void ObjectStore::remember(const ObjectKey& key) const {
  if (!added_) return;
  auto [h1, h2] = key_hashes(key);
  for (int i = 0; i < kBloomHashes; ++i) {
    uint64_t bit = (h1 + static_cast<uint64_t>(i) * h2) % (kBloomWords * 64);
    added_[bit / 64].fetch_or(uint64_t{1} << (bit % 64), std::memory_order_relaxed);
  }
}

void ObjectStore::adopt(int parent, const std::string& name, const ObjectKey& key, const std::string& shown) const {
  int dir = fanout(key.fanout_index(), true);
  // flags 0: `name` was created by this deploy an instant ago in its private directory; never a symlink.
  if (::linkat(parent, name.c_str(), dir, ObjectName(key).c_str(), 0) != 0)
    throw_errno("cannot store '" + shown + "' as the object " + path_ + "/" + key.path());
  remember(key);
}

bool ObjectStore::try_link(const ObjectKey& key, int parent, const std::string& name) const {
  // A store that was empty when this deploy began holds only what the deploy added: if the filter has not
  // seen the key, the object is not there (a Bloom filter has no false negatives).
  if (!maybe_stored(key)) return false;
  int dir = fanout(key.fanout_index(), false);
  if (dir < 0) return false;
  if (::linkat(dir, ObjectName(key).c_str(), parent, name.c_str(), 0) == 0) return true;
  if (errno == ENOENT) return false;
  if (errno == EEXIST) throw NameExists();
  throw_errno("cannot link the object " + path_ + "/" + key.path());
}

void ObjectStore::link_into(const ObjectKey& key, int parent, const std::string& name, const std::string& shown) const {
  int dir = fanout(key.fanout_index(), false);
  // flags 0: an object is a regular file, and linkat does not follow a symlink at its name anyway.
  if (dir < 0 || ::linkat(dir, ObjectName(key).c_str(), parent, name.c_str(), 0) != 0) {
    if (errno == EEXIST) throw NameExists();
    if (errno == EMLINK)
      throw Error("'" + shown + "': the object " + key.path() + " has as many hard links as the filesystem allows");
    throw_errno("cannot link '" + shown + "' to the object " + path_ + "/" + key.path());
  }
}

void ObjectStore::for_each(const std::function<void(int, const std::string&, const std::string&)>& fn) const {
  if (!fd_) return;
  for (const auto& dir : dir_names(fd_.get(), path_)) {
    uint8_t index = 0;
    if (dir.size() != 2 || !parse_hex(dir, &index)) continue;
    int dfd = fanout(dir, false);
    if (dfd < 0) continue;
    for (const auto& name : dir_names(dfd, path_ + "/" + dir)) fn(dfd, dir, name);
  }
}

StoreTotals ObjectStore::collect_garbage() const {
  StoreTotals removed;
  if (!fd_) return removed;
  for (const auto& dir : dir_names(fd_.get(), path_)) {
    uint8_t index = 0;
    if (dir.size() != 2 || !parse_hex(dir, &index)) continue;
    int dfd = fanout(dir, false);
    if (dfd < 0) continue;
    size_t left = 0;
    for (const auto& name : dir_names(dfd, path_ + "/" + dir)) {
      struct stat st {};
      if (!parse_object_name(dir, name) || ::fstatat(dfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 ||
          !S_ISREG(st.st_mode) || st.st_nlink != 1) {
        ++left;
        continue;
      }
      // The lock is held: no deploy links this object between the stat and the unlink.
      if (::unlinkat(dfd, name.c_str(), 0) != 0)
        throw_errno("cannot remove the unused object " + path_ + "/" + dir + "/" + name);
      ++removed.objects;
      removed.bytes += static_cast<uint64_t>(st.st_size);
    }
    if (left == 0) {
      // An empty fan-out directory goes too: a refused deploy leaves DEST as it found it.
      fanout_fd_[index].store(-1, std::memory_order_relaxed);
      fanout_[index].reset();
      if (::unlinkat(fd_.get(), dir.c_str(), AT_REMOVEDIR) != 0 && errno != ENOTEMPTY && errno != ENOENT)
        throw_errno("cannot remove " + path_ + "/" + dir);
    }
  }
  return removed;
}

StoreTotals ObjectStore::totals() const {
  StoreTotals t;
  for_each([&](int dir, const std::string&, const std::string& name) {
    struct stat st {};
    if (::fstatat(dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode)) return;
    ++t.objects;
    t.bytes += static_cast<uint64_t>(st.st_size);
  });
  return t;
}

}  // namespace droot::exec
