// Safe extraction of a verified payload into a fresh, empty directory (droot-exec(1), "Safe extraction"):
// every entry is checked against the rules before anything is written, written with TreeWriter (never
// through a symlink), hashed as it is written, and the whole tree is compared with the manifest that
// arrives last. Any refusal throws droot::Error naming the entry; the caller removes the directory.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace droot::exec {

class EarlyWriteback;

// What verification vouched for: the extractor reads the same fd again and refuses if the bytes differ.
struct VerifiedPayload {
  int fd = -1;
  uint64_t size = 0;       // bytes [0, size) are the payload
  std::string sha256;      // hex, as computed during verification
  std::string name;        // the artifact, for messages
};

struct ExtractOptions {
  bool allow_devices = false;   // character/block devices and FIFOs
  bool set_owner = true;        // chown to the archive's numeric ids (needs root)
  std::function<void(const std::string&)> note;  // verbose notes: dropped xattrs, an ignored "." entry
  std::function<void()> poll;                     // called often; throws to abort (a signal)
  EarlyWriteback* writeback = nullptr;            // gets each finished regular file, if set
};

struct ExtractResult {
  uint64_t entries = 0;  // rootfs entries (the manifest's)
  uint64_t files = 0;    // regular files among them, hard links included
  uint64_t bytes = 0;    // regular file bytes written
  std::string config_json;
};

ExtractResult extract_payload(const VerifiedPayload& payload, int root, const ExtractOptions& options);

}  // namespace droot::exec
