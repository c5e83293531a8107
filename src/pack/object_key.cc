#include "object_key.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "error.h"
#include "hash.h"

namespace droot::pack {

KeyDigest object_key(const ManifestEntry& e) {
  if (e.type != "file" || e.sha256.size() != 64 || !e.time)
    throw Error("internal error: the object key of " + e.path + " needs a regular file's sha256 and time");
  // Fixed fields, space-separated, as text: "SHA256 SIZE MODE UID GID SEC.NSEC".
  char text[160];
  int n = std::snprintf(text, sizeof text, "%s %llu %04o %llu %llu %lld.%09u", e.sha256.c_str(),
                        static_cast<unsigned long long>(e.size), static_cast<unsigned>(e.mode & 07777),
                        static_cast<unsigned long long>(e.uid), static_cast<unsigned long long>(e.gid),
                        static_cast<long long>(e.time->sec), static_cast<unsigned>(e.time->nsec));
  Digest d = Digest::sha256();
  d.update(text, static_cast<size_t>(n));
  std::vector<uint8_t> v = d.finish();
  KeyDigest k;
  std::memcpy(k.data(), v.data(), k.size());
  return k;
}

void ObjectKeySet::add(const KeyDigest& k) {
  keys_.push_back(k);
  sealed_ = false;
}

void ObjectKeySet::seal() {
  std::sort(keys_.begin(), keys_.end());
  keys_.erase(std::unique(keys_.begin(), keys_.end()), keys_.end());
  keys_.shrink_to_fit();
  sealed_ = true;
}

bool ObjectKeySet::contains(const KeyDigest& k) const {
  if (!sealed_) throw Error("internal error: ObjectKeySet::contains() before seal()");
  return std::binary_search(keys_.begin(), keys_.end(), k);
}

}  // namespace droot::pack
