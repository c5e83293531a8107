#include "export_stream.h"

#include <unistd.h>

#include <cerrno>

namespace droot::pack {

ExportStream::ExportStream(EngineClient& client, const std::string& container_id)
    : TreeStream(
          [&client, container_id](int fd, std::atomic<uint64_t>& bytes, std::atomic<bool>& reader_gone) {
            client.export_container(container_id, [&](const char* data, size_t size) {
              while (size > 0) {
                ssize_t n = ::write(fd, data, size);
                if (n < 0) {
                  if (errno == EINTR) continue;
                  reader_gone = true;  // EPIPE: the reader stopped and has its own error to report
                  return false;        // ends the transfer
                }
                data += n;
                size -= static_cast<size_t>(n);
                bytes += static_cast<uint64_t>(n);
              }
              return true;
            });
          },
          "the export stream") {}

}  // namespace droot::pack
