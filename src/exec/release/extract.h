// Safe extraction of a verified payload into a fresh, empty directory (droot-exec(1), "Safe extraction"):
// every entry is checked against the rules before anything is written, written with TreeWriter (never
// through a symlink), hashed as it is written, and the whole tree is compared with the manifest that
// arrives last. Any refusal throws droot::Error naming the entry; the caller removes the directory.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "frame_index.h"

namespace droot::exec {

class EarlyWriteback;
class ObjectStore;

// What verification vouched for: the extractor reads the same fd again and refuses if the bytes differ.
struct VerifiedPayload {
  int fd = -1;
  uint64_t size = 0;       // bytes [0, size) are the payload
  std::string sha256;      // hex, as computed during verification
  std::string name;        // the artifact, for messages
  const FrameIndex* frames = nullptr;  // its zstd frame index, read after verification, if it has one
};

struct ExtractOptions {
  bool allow_devices = false;   // character/block devices and FIFOs
  bool set_owner = true;        // chown to the archive's numeric ids (needs root)
  std::function<void(const std::string&)> note;  // verbose notes: dropped xattrs, an ignored "." entry
  std::function<void()> poll;                     // called often; throws to abort (a signal)
  EarlyWriteback* writeback = nullptr;            // gets each finished regular file, if set
  // Where regular files go (deploy): each is stored once in DEST/objects and hard-linked into the tree. A
  // delta's files not shipped are linked from here. Without a store (tests), files are written in place
  // and deltas are refused.
  const ObjectStore* objects = nullptr;
};

struct ExtractResult {
  uint64_t entries = 0;  // rootfs entries (the manifest's)
  uint64_t files = 0;    // regular files among them, hard links included
  uint64_t bytes = 0;    // regular file bytes (of every file, new or not)
  uint64_t stored_files = 0;  // new objects written (the rest were in the store already)
  uint64_t stored_bytes = 0;
  uint64_t from_base = 0;     // a delta's files not shipped, linked from the store
  uint64_t not_decoded_files = 0;  // large files whose content frame was not decoded: the store had them
  uint64_t not_decoded_bytes = 0;
  bool delta = false;
  std::string config_json;
};

ExtractResult extract_payload(const VerifiedPayload& payload, int root, const ExtractOptions& options);

}  // namespace droot::exec
