// The signature trailer at the end of an artifact (droot-artifact(5)), read before anything is verified:
// whatever the bytes, read_trailer throws droot::Error, says "no trailer", or finds one that lies inside the
// file, is at most kMaxTrailerSize, and is exactly what make_trailer writes for the text it returned. And the
// other way round: any text wrapped by make_trailer after any payload is found again, unchanged.
#include <string>
#include <string_view>

#include "error.h"
#include "fuzz_check.h"
#include "trailer.h"

using namespace droot;

namespace {

void read_any(std::string_view file) {
  std::optional<Trailer> t;
  try {
    t = read_trailer(file, "fuzz.tar.zst");
  } catch (const Error&) {
    return;
  }
  if (!t) return;
  FUZZ_CHECK(t->compression == Compression::zstd || t->compression == Compression::gzip);
  FUZZ_CHECK(t->payload_size <= file.size());
  const std::string_view trailer = file.substr(t->payload_size);
  FUZZ_CHECK(trailer.size() <= kMaxTrailerSize);
  FUZZ_CHECK(t->minisig_text.size() < trailer.size());
  std::string rebuilt;
  try {
    rebuilt = make_trailer(t->compression, t->minisig_text);
  } catch (const Error& e) {
    std::fprintf(stderr, "a trailer we read cannot be written back: %s\n", e.what());
    std::abort();
  }
  FUZZ_CHECK(rebuilt.size() == trailer.size());
  // gzip: MTIME, XFL and OS (bytes 4..9 of the member header) are free; make_trailer writes fixed values.
  for (size_t i = 0; i < rebuilt.size(); ++i)
    if (!(t->compression == Compression::gzip && i >= 4 && i < 10)) FUZZ_CHECK(rebuilt[i] == trailer[i]);
}

void write_then_read(std::string_view payload, std::string_view text, Compression c) {
  std::string trailer;
  try {
    trailer = make_trailer(c, text);
  } catch (const Error&) {
    return;  // too large for the format: refused when writing, which is the point
  }
  const std::string file = std::string(payload) + trailer;
  std::optional<Trailer> t;
  try {
    t = read_trailer(file, "written");
  } catch (const Error& e) {
    std::fprintf(stderr, "a trailer we wrote does not read back: %s\n", e.what());
    std::abort();
  }
  FUZZ_CHECK(t.has_value());
  FUZZ_CHECK(t->compression == c && t->payload_size == payload.size() && t->minisig_text == text);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view file(reinterpret_cast<const char*>(data), size);
  read_any(file);
  // The same bytes as payload || text, split at a point the input chooses.
  if (size > 0) {
    const size_t split = data[0] % size;
    const Compression c = (data[0] & 0x80) ? Compression::gzip : Compression::zstd;
    write_then_read(file.substr(1, split), file.substr(1 + split > size ? size : 1 + split), c);
  }
  return 0;
}
