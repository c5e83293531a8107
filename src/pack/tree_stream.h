// The tar stream droot-pack packs from, as a readable fd: the Engine's container export (export_stream.h) or
// the tree flattened from an image's layers (layer_flattener.h). packer.cc reads either the same way, so
// normalisation, special files, the manifest, deltas, compression and signing are one code path.
//
// A producer runs on its own thread and writes into a pipe while the caller's libarchive reader pulls from
// the other end: memory stays at one pipe buffer whatever the tree's size. Each kind of stream only supplies
// its producer.
#pragma once

#include <atomic>
#include <cstdint>
#include <exception>
#include <functional>
#include <string>
#include <thread>

#include "fd.h"

namespace droot::pack {

class TreeStream {
 public:
  // Writes the whole tar to `fd`, adding what it wrote to `bytes`. A write that fails because the reader
  // stopped (EPIPE) must set `reader_gone`: the reader then has its own error to report, and the producer's
  // is not the root cause.
  using Producer = std::function<void(int fd, std::atomic<uint64_t>& bytes, std::atomic<bool>& reader_gone)>;

  // Starts the producer's thread; `what` names the pipe in errors ("the export stream").
  TreeStream(Producer producer, const std::string& what);
  virtual ~TreeStream();
  TreeStream(const TreeStream&) = delete;
  TreeStream& operator=(const TreeStream&) = delete;

  int fd() const { return read_end_.get(); }
  uint64_t bytes_received() const { return bytes_; }
  // Reads what is left until the producer ends, then joins its thread; rethrows its error (the root cause
  // when the tar looked truncated to the reader).
  void finish();
  // Stops reading, joins the thread; returns the producer's error text, if any (for the error path).
  std::string abandon() noexcept;
  // The producer's error itself, once finish() or abandon() joined it (null if it had none): for a caller
  // that acts on its type.
  std::exception_ptr producer_error() const { return error_; }

 private:
  void join() noexcept;

  UniqueFd read_end_;
  UniqueFd write_end_;
  std::thread thread_;
  std::exception_ptr error_;
  std::atomic<uint64_t> bytes_{0};
  std::atomic<bool> reader_gone_{false};
};

}  // namespace droot::pack
