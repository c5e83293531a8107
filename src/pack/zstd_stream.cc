#include "zstd_stream.h"

#include <zstd.h>

#include "error.h"

namespace droot::pack {
namespace {

constexpr size_t kJobSize = 1 << 20;  // measured: 1 MiB keeps RSS ~26 MiB (4 MiB: 45 MiB) at ~5% larger output

void check(size_t rc, const char* what) {
  if (ZSTD_isError(rc)) throw Error(std::string("zstd: ") + what + ": " + ZSTD_getErrorName(rc));
}

}  // namespace

ZstdStream::ZstdStream(int level, int workers, int long_window_log, Sink sink)
    : cctx_(ZSTD_createCCtx()), out_(ZSTD_CStreamOutSize()), sink_(std::move(sink)) {
  if (cctx_ == nullptr) throw Error("zstd: cannot allocate a compression context");
  check(ZSTD_CCtx_setParameter(cctx_, ZSTD_c_compressionLevel, level), "compression level");
  check(ZSTD_CCtx_setParameter(cctx_, ZSTD_c_checksumFlag, 1), "checksum flag");
  check(ZSTD_CCtx_setParameter(cctx_, ZSTD_c_nbWorkers, workers < 1 ? 1 : workers), "worker threads");
  check(ZSTD_CCtx_setParameter(cctx_, ZSTD_c_jobSize, static_cast<int>(kJobSize)), "job size");
  if (long_window_log > 0) {
    check(ZSTD_CCtx_setParameter(cctx_, ZSTD_c_enableLongDistanceMatching, 1), "long-distance matching");
    check(ZSTD_CCtx_setParameter(cctx_, ZSTD_c_windowLog, long_window_log), "window size");
  }
}

ZstdStream::~ZstdStream() { ZSTD_freeCCtx(cctx_); }

void ZstdStream::pump(const void* data, size_t size, int directive) {
  ZSTD_inBuffer in{data, size, 0};
  for (;;) {
    ZSTD_outBuffer out{out_.data(), out_.size(), 0};
    size_t remaining = ZSTD_compressStream2(cctx_, &out, &in, static_cast<ZSTD_EndDirective>(directive));
    check(remaining, "compression failed");
    if (out.pos > 0) sink_(out_.data(), out.pos);
    bool input_done = in.pos == in.size;
    if (directive == ZSTD_e_end ? remaining == 0 : input_done) break;
  }
}

void ZstdStream::write(const void* data, size_t size) { pump(data, size, ZSTD_e_continue); }

void ZstdStream::finish() { pump(nullptr, 0, ZSTD_e_end); }

}  // namespace droot::pack
