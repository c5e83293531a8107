#include "gzip_inflater.h"

#include <cstring>

#include "error.h"

#ifdef DROOT_HAVE_ISAL
#include <isa-l/igzip_lib.h>
#else
struct inflate_state {};  // never used: have_fast_gzip() is false
#endif

namespace droot::pack {

bool have_fast_gzip() {
#ifdef DROOT_HAVE_ISAL
  return true;
#else
  return false;
#endif
}

bool looks_like_gzip(const void* head, size_t size) {
  const auto* b = static_cast<const unsigned char*>(head);
  return size >= 3 && b[0] == 0x1f && b[1] == 0x8b && b[2] == 0x08;
}

GzipInflater::GzipInflater(Source source, std::string what)
    : source_(std::move(source)), what_(std::move(what)), state_(std::make_unique<inflate_state>()), in_(256 * 1024) {
#ifdef DROOT_HAVE_ISAL
  isal_inflate_init(state_.get());
  state_->crc_flag = ISAL_GZIP;  // parses each member's header, checks its CRC-32
  state_->avail_in = 0;
#else
  throw Error(what_ + ": internal: droot-pack was built without ISA-L");
#endif
}

GzipInflater::~GzipInflater() = default;

bool GzipInflater::fill() {
#ifdef DROOT_HAVE_ISAL
  if (eof_) return false;
  // What is left of the last buffer moves to its front (a member's first bytes, at most).
  const size_t left = state_->avail_in;
  if (left > 0) std::memmove(in_.data(), state_->next_in, left);
  if (left == in_.size()) return true;  // full already (igzip takes what it is given: not reached)
  const size_t got = source_(in_.data() + left, in_.size() - left);
  if (got == 0) eof_ = true;
  state_->next_in = reinterpret_cast<uint8_t*>(in_.data());
  state_->avail_in = static_cast<uint32_t>(left + got);
  return got > 0;
#else
  return false;
#endif
}

size_t GzipInflater::read(char* buf, size_t n) {
#ifdef DROOT_HAVE_ISAL
  while (!done_) {
    if (member_done_) {
      // Another member follows only if its magic does; anything else ends the stream, as libarchive's reader.
      while (state_->avail_in < 3 && fill()) {
      }
      if (!looks_like_gzip(state_->next_in, state_->avail_in)) {
        done_ = true;
        break;
      }
      const uint8_t* next = state_->next_in;
      const uint32_t avail = state_->avail_in;
      isal_inflate_reset(state_.get());
      state_->crc_flag = ISAL_GZIP;
      state_->next_in = const_cast<uint8_t*>(next);
      state_->avail_in = avail;
      member_done_ = false;
    }
    if (state_->avail_in == 0) fill();
    state_->next_out = reinterpret_cast<uint8_t*>(buf);
    state_->avail_out = static_cast<uint32_t>(n);
    const uint32_t in_before = state_->avail_in;
    const int rc = isal_inflate(state_.get());
    if (rc != ISAL_DECOMP_OK)
      throw Error(what_ + ": the gzip data is corrupt (igzip error " + std::to_string(rc) +
                  (rc == ISAL_INCORRECT_CHECKSUM ? ", CRC-32 mismatch" : "") + ")");
    const size_t produced = n - state_->avail_out;
    if (state_->block_state == ISAL_BLOCK_FINISH) member_done_ = true;
    if (produced > 0) return produced;
    // Neither input taken nor output given: igzip needs more input, and there is none.
    if (!member_done_ && state_->avail_in == in_before && !fill())
      throw Error(what_ + ": the gzip data ends inside a member (truncated)");
  }
  return 0;
#else
  (void)buf;
  (void)n;
  return 0;
#endif
}

}  // namespace droot::pack
