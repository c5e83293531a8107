// Streaming zstd compression on libzstd directly. libarchive 3.6's zstd filter cannot set the job size, and
// zstd's default job (4 windows per worker, tens of MiB) would put droot-pack's memory far above its 32 MiB
// budget; with 1 MiB jobs two workers stay near 26 MiB whatever the image size.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <vector>

struct ZSTD_CCtx_s;

namespace droot::pack {

class ZstdStream {
 public:
  using Sink = std::function<void(const void*, size_t)>;
  // workers >= 1: the bytes depend on level, window and job size only, not on the worker count (reproducible
  // across machines with different core counts). long_window_log > 0: long-distance matching over a window of
  // 2^long_window_log bytes, which packing and every decompression then hold in memory; 0: the level's own.
  ZstdStream(int level, int workers, int long_window_log, Sink sink);
  ~ZstdStream();
  ZstdStream(const ZstdStream&) = delete;
  ZstdStream& operator=(const ZstdStream&) = delete;

  void write(const void* data, size_t size);
  void finish();  // ends the frame (with its content checksum); a later write() starts the next one

 private:
  void pump(const void* data, size_t size, int directive);

  ZSTD_CCtx_s* cctx_;
  std::vector<char> out_;
  Sink sink_;
};

}  // namespace droot::pack
