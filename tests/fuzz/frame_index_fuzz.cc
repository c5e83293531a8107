// The frame index at the end of a zstd payload (droot-artifact(5), "Frame index"), read once the payload is
// verified: whatever the bytes, read_frame_index throws droot::Error, says "no index", or returns frames that,
// with the index itself, make up the whole payload exactly, each whole tar blocks, content frames exactly
// those with no entries and a key whose size rounds up to the frame's tar bytes; and the index it read is
// byte for byte what make_frame_index writes for those frames. The other way round: any frames the writer
// describes read back unchanged.
#include <string>
#include <string_view>

#include "error.h"
#include "frame_index.h"
#include "fuzz_check.h"

using namespace droot;

namespace {

void read_any(std::string_view payload) {
  std::optional<FrameIndex> index;
  try {
    index = read_frame_index(payload, "fuzz.tar.zst");
  } catch (const Error&) {
    return;
  }
  if (!index) return;
  FUZZ_CHECK(!index->frames.empty());
  FUZZ_CHECK(index->index_size <= payload.size() && index->index_size <= kMaxFrameIndexSize);
  uint64_t total = index->index_size;
  for (const FrameInfo& f : index->frames) {
    FUZZ_CHECK(f.compressed > 0 && f.tar_bytes > 0 && f.tar_bytes % 512 == 0);
    FUZZ_CHECK((f.entries == 0) == f.content.has_value());
    if (f.content) {
      FUZZ_CHECK(f.content->size > 0 && (f.content->size + 511) / 512 * 512 == f.tar_bytes);
      FUZZ_CHECK(f.content->sha256.size() == 64 && f.content->mode <= 07777 && f.content->nsec <= 999999999);
    }
    total += f.compressed;
  }
  FUZZ_CHECK(total == payload.size());
  FUZZ_CHECK(make_frame_index(index->frames) == payload.substr(payload.size() - index->index_size));
}

// Frames made of the input's bytes (three numbers each, and a key for every other one).
void write_then_read(std::string_view bytes) {
  std::vector<FrameInfo> frames;
  std::string data;
  for (size_t i = 0; i + 4 <= bytes.size() && frames.size() < 64; i += 4) {
    FrameInfo f;
    f.compressed = 1 + static_cast<unsigned char>(bytes[i]);
    f.tar_bytes = 512 * (1 + static_cast<unsigned char>(bytes[i + 1]));
    if (bytes[i + 2] & 1) {
      const uint64_t size = f.tar_bytes - static_cast<unsigned char>(bytes[i + 3]) % 512;
      f.content = ContentKey{size, std::string(64, "0123456789abcdef"[bytes[i + 3] & 15]),
                             static_cast<uint32_t>(static_cast<unsigned char>(bytes[i + 2]) << 4) & 07777,
                             static_cast<unsigned char>(bytes[i + 3]), 0, 1700000000, 999999999};
    } else {
      f.entries = 1 + static_cast<unsigned char>(bytes[i + 2]);
    }
    data.append(f.compressed, 'z');
    frames.push_back(f);
  }
  if (frames.empty()) return;
  const std::string payload = data + make_frame_index(frames);
  std::optional<FrameIndex> index;
  try {
    index = read_frame_index(payload, "written");
  } catch (const Error& e) {
    std::fprintf(stderr, "an index we wrote does not read back: %s\n", e.what());
    std::abort();
  }
  FUZZ_CHECK(index && index->frames == frames);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  read_any(bytes);
  write_then_read(bytes);
  return 0;
}
