// The files of an image on disk, whether a directory (an OCI image layout) or an uncompressed tar of one
// (oci-archive, `docker save`): names map to byte ranges of an open file, so a layer is read in place with
// pread — never extracted to a temporary copy — and memory is one entry per member of the archive.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "fd.h"

namespace droot::pack {

struct BlobRange {
  int fd = -1;
  uint64_t offset = 0;
  uint64_t size = 0;
  std::string name;  // for messages: "app.tar:blobs/sha256/ab…"
};

class BlobStore {
 public:
  // `display` names the source in errors (the PATH the user gave).
  static BlobStore open_directory(const std::string& path);
  static BlobStore open_tar(const std::string& path);
  BlobStore(BlobStore&&) = default;

  // A member by its path inside the layout or archive ("index.json", "blobs/sha256/<hex>"), nullopt if absent.
  std::optional<BlobRange> find(const std::string& name) const;
  // The same, or Error "<source> has no <name> (<what>)".
  BlobRange get(const std::string& name, const std::string& what) const;
  const std::string& display() const { return display_; }

 private:
  BlobStore() = default;
  std::string display_;
  bool is_tar_ = false;
  UniqueFd fd_;  // the tar, or the directory
  std::map<std::string, std::pair<uint64_t, uint64_t>> members_;  // tar: name → (data offset, size)
  mutable std::vector<UniqueFd> open_;                            // directory: files handed out so far
};

// "sha256:<64 lower-case hex>" → the hex; Error naming `what` for anything else (the only digest algorithm
// droot-pack verifies; a path built from it cannot leave blobs/sha256/).
std::string sha256_hex_of_digest(const std::string& digest, const std::string& what);
// Hashes the whole range and compares with `digest`: Error "<what>: blob <name> has sha256 X, not the Y the
// manifest names: the image is corrupt or was tampered with" otherwise. Run before a byte of it is used.
void verify_blob(const BlobRange& blob, const std::string& digest, const std::string& what);
// Reads a small blob (at most `max_size` bytes) and verifies it against `digest` (unchecked if empty).
std::string read_blob(const BlobRange& blob, const std::string& digest, size_t max_size, const std::string& what);

// Parses a tar's headers (ustar, pax 'x' path/size records, GNU 'L' long names) without reading any member's
// data: regular-file members' names (leading "./" removed) → (data offset, size). For tests and open_tar.
std::map<std::string, std::pair<uint64_t, uint64_t>> index_tar(int fd, const std::string& display);

}  // namespace droot::pack
