#include "export_stream.h"

#include <fcntl.h>
#include <unistd.h>

#include <vector>

#include "error.h"
#include "io.h"

namespace droot::pack {

ExportStream::ExportStream(EngineClient& client, const std::string& container_id) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw_errno("cannot create a pipe for the export stream");
  read_end_.reset(fds[0]);
  write_end_.reset(fds[1]);
  // A bigger pipe means fewer context switches between the HTTP thread and the tar reader; failure is harmless.
  (void)::fcntl(fds[1], F_SETPIPE_SZ, 1 << 20);
  thread_ = std::thread([this, &client, container_id] {
    try {
      client.export_container(container_id, [this](const char* data, size_t size) {
        while (size > 0) {
          ssize_t n = ::write(write_end_.get(), data, size);
          if (n < 0) {
            if (errno == EINTR) continue;
            reader_gone_ = true;  // EPIPE: the reader stopped and has its own error to report
            return false;
          }
          data += n;
          size -= static_cast<size_t>(n);
          bytes_ += static_cast<uint64_t>(n);
        }
        return true;
      });
    } catch (...) {
      error_ = std::current_exception();
    }
    write_end_.reset();  // EOF for the reader
  });
}

ExportStream::~ExportStream() { abandon(); }

void ExportStream::join() noexcept {
  if (thread_.joinable()) thread_.join();
}

void ExportStream::finish() {
  // The tar's end marker can come before the HTTP body ends (padding blocks); drain so the writer never sees
  // a closed pipe on success.
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

std::string ExportStream::abandon() noexcept {
  read_end_.reset();  // unblocks a writer stuck on a full pipe
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
