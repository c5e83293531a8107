#include "tree_stream.h"

#include <fcntl.h>
#include <unistd.h>

#include <vector>

#include "error.h"

namespace droot::pack {

TreeStream::TreeStream(Producer producer, const std::string& what) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw_errno("cannot create a pipe for " + what);
  read_end_.reset(fds[0]);
  write_end_.reset(fds[1]);
  // A bigger pipe means fewer context switches between the producer and the tar reader; failure is harmless.
  (void)::fcntl(fds[1], F_SETPIPE_SZ, 1 << 20);
  thread_ = std::thread([this, producer = std::move(producer)] {
    try {
      producer(write_end_.get(), bytes_, reader_gone_);
    } catch (...) {
      error_ = std::current_exception();
    }
    write_end_.reset();  // EOF for the reader
  });
}

TreeStream::~TreeStream() { abandon(); }

void TreeStream::join() noexcept {
  if (thread_.joinable()) thread_.join();
}

void TreeStream::finish() {
  // The tar's end marker can come before the producer ends (padding blocks, the rest of an HTTP body): drain,
  // so the producer never sees a closed pipe on success.
  std::vector<char> buf(64 * 1024);
  for (;;) {
    ssize_t n = ::read(read_end_.get(), buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
  }
  join();
  read_end_.reset();
  if (error_) std::rethrow_exception(error_);
}

std::string TreeStream::abandon() noexcept {
  read_end_.reset();  // unblocks a producer stuck on a full pipe (its write fails with EPIPE)
  join();
  if (!error_ || reader_gone_) return "";
  try {
    std::rethrow_exception(error_);
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "unknown error";
  }
}

}  // namespace droot::pack
