// The frame index of a zstd payload (droot-artifact(5), "Frame index"). droot-pack ends a zstd frame at a
// tar entry boundary every few MiB of tar, before the file lists at the end (`.droot/delta.mtree`,
// `.droot/manifest.mtree`), and around the content of every large regular file: such a file's header ends a
// frame and its content (with the tar padding) is a frame of its own, a *content frame*. Then it appends this
// index as the payload's last zstd frame, a skippable one, which `zstd -dc`, libarchive and older droot-exec
// versions skip like any other. With it a reader knows, before decoding anything, where each frame is, what
// it decodes to, and for a content frame the object key of the file it holds (content sha256, size, mode,
// owner, mtime): a deploy into a DEST whose store already has that object need not decode the frame at all.
//
//   skippable frame = LE32 magic 0x184D2A5B || LE32 body length || body
//   body            = "droot-frames 1\n" || one line per data frame || LE64 length of the whole frame || "DROOTIDX"
//   line            = "<compressed> <tar bytes> <entries>\n"                                  (entries >= 1)
//                   | "<compressed> <tar bytes> 0 <size> <sha256> <mode> <uid> <gid> <sec>.<nsec>\n"  (content)
//
// <compressed>: the zstd frame's bytes in the payload; <tar bytes>: what it decodes to (a multiple of 512; a
// content frame's is <size> rounded up to 512); <entries>: the tar entries whose header starts in it. <mode>
// is 4 octal digits, <sha256> 64 lowercase hex digits, <nsec> 9 digits. The data frames come first, in order,
// and with the index make up the whole payload. The index is inside the signed payload: it is read only
// after the payload was verified, and a malformed one is an error, not a reason to ignore it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace droot {

constexpr uint32_t kFrameIndexMagic = 0x184D2A5B;
constexpr std::string_view kFrameIndexEnd = "DROOTIDX";
constexpr uint64_t kMaxFrameIndexSize = 16 << 20;  // what a reader accepts (droot-pack writes at most ~12 MiB)

// The file whose content a content frame holds: what its tar header says, and its content's sha256.
struct ContentKey {
  uint64_t size = 0;
  std::string sha256;  // hex
  uint32_t mode = 0;   // 07777
  uint64_t uid = 0;
  uint64_t gid = 0;
  int64_t sec = 0;
  uint32_t nsec = 0;
  bool operator==(const ContentKey&) const = default;
};

struct FrameInfo {
  uint64_t compressed = 0;
  uint64_t tar_bytes = 0;
  uint64_t entries = 0;                // 0: a content frame
  std::optional<ContentKey> content;   // set exactly for a content frame
  bool operator==(const FrameInfo&) const = default;
};

struct FrameIndex {
  std::vector<FrameInfo> frames;
  uint64_t index_size = 0;  // the skippable frame's bytes, at the end of the payload
};

// The whole skippable frame for these data frames.
std::string make_frame_index(const std::vector<FrameInfo>& frames);

// Reads the index at the end of bytes [0, payload_size) of `fd` (a verified zstd payload); nullopt if the
// payload does not end with one (one frame, or an older droot-pack). An index that is there but malformed, or
// whose frames do not add up to the payload, is an error naming `what`.
std::optional<FrameIndex> read_frame_index(int fd, uint64_t payload_size, const std::string& what);
// The same over a payload held in memory (tests).
std::optional<FrameIndex> read_frame_index(std::string_view payload, const std::string& what);

}  // namespace droot
