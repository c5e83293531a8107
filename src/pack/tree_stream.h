// The tar stream droot-pack packs from, as a readable fd: the Engine's container export (export_stream.h) or
// the tree flattened from an image's layers (layer_flattener.h). packer.cc reads either the same way, so
// normalisation, special files, the manifest, deltas, compression and signing are one code path.
#pragma once

#include <cstdint>
#include <string>

namespace droot::pack {

class TreeStream {
 public:
  virtual ~TreeStream() = default;
  virtual int fd() const = 0;
  virtual uint64_t bytes_received() const = 0;
  // Reads what is left until the producer ends; rethrows its error (the root cause of a truncated tar).
  virtual void finish() = 0;
  // Stops reading; returns the producer's error text, if any (for the error path).
  virtual std::string abandon() noexcept = 0;
};

}  // namespace droot::pack
