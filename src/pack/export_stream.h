// The Engine's export as a readable fd: a thread runs the HTTP transfer into a pipe while the caller's
// libarchive reader pulls from the other end. Memory stays at one pipe buffer whatever the image size.
#pragma once

#include <exception>
#include <string>
#include <thread>

#include "engine_client.h"
#include "fd.h"
#include "tree_stream.h"

namespace droot::pack {

class ExportStream : public TreeStream {
 public:
  ExportStream(EngineClient& client, const std::string& container_id);
  ~ExportStream();
  ExportStream(const ExportStream&) = delete;
  ExportStream& operator=(const ExportStream&) = delete;

  int fd() const override { return read_end_.get(); }
  uint64_t bytes_received() const override { return bytes_; }
  // Reads what is left until the transfer ends, then joins the thread; rethrows its error (the root cause
  // when the tar stream looked truncated to the reader).
  void finish() override;
  // Stops reading, joins the thread; returns its error text, if any (for the error path).
  std::string abandon() noexcept override;

 private:
  void join() noexcept;

  UniqueFd read_end_;
  UniqueFd write_end_;
  std::thread thread_;
  std::exception_ptr error_;
  std::atomic<uint64_t> bytes_{0};
  std::atomic<bool> reader_gone_{false};  // the transfer failed only because we stopped reading
};

}  // namespace droot::pack
