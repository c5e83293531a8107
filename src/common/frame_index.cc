#include "frame_index.h"

#include <charconv>
#include <climits>
#include <cstdio>

#include "error.h"
#include "io.h"
#include "little_endian.h"

namespace droot {
namespace {

constexpr std::string_view kHeaderLine = "droot-frames 1\n";
constexpr size_t kFooterSize = 8 + kFrameIndexEnd.size();  // LE64 length || "DROOTIDX"
constexpr size_t kMinSize = 8 + kHeaderLine.size() + kFooterSize;

// A decimal number as the writer prints it: digits only, no sign, no leading zero.
bool parse_number(std::string_view text, uint64_t& out) {
  if (text.empty() || (text.size() > 1 && text[0] == '0')) return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

std::vector<std::string_view> split_words(std::string_view line) {
  std::vector<std::string_view> words;
  size_t start = 0;
  for (;;) {
    const size_t space = line.find(' ', start);
    words.push_back(line.substr(start, space == std::string_view::npos ? space : space - start));
    if (space == std::string_view::npos) return words;
    start = space + 1;
  }
}

bool is_hex(std::string_view s, size_t digits) {
  return s.size() == digits && s.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

template <typename Bad>
ContentKey parse_content(const std::vector<std::string_view>& w, const std::string& where, const Bad& bad) {
  ContentKey k;
  uint64_t mode = 0, sec = 0, nsec = 0;
  const std::string_view time = w[8];
  const size_t dot = time.find('.');
  const bool ok = parse_number(w[3], k.size) && is_hex(w[4], 64) && w[5].size() == 4 &&
                  w[5].find_first_not_of("01234567") == std::string_view::npos && parse_number(w[6], k.uid) &&
                  parse_number(w[7], k.gid) && dot != std::string_view::npos && parse_number(time.substr(0, dot), sec) &&
                  time.size() - dot - 1 == 9 && time.substr(dot + 1).find_first_not_of("0123456789") == std::string_view::npos &&
                  sec <= static_cast<uint64_t>(INT64_MAX);
  if (!ok)
    throw bad(where + " is not a content frame's '<compressed> <tar bytes> 0 <size> <sha256> <mode> <uid> <gid> "
                      "<sec>.<nsec>'");
  std::from_chars(w[5].data(), w[5].data() + 4, mode, 8);
  std::from_chars(time.data() + dot + 1, time.data() + time.size(), nsec);
  k.sha256 = std::string(w[4]);
  k.mode = static_cast<uint32_t>(mode);
  k.sec = static_cast<int64_t>(sec);
  k.nsec = static_cast<uint32_t>(nsec);
  return k;
}

FrameIndex parse(std::string_view frame, uint64_t payload_size, const std::string& what) {
  auto bad = [&](const std::string& why) -> Error {
    return Error(what + ": the payload's frame index is malformed (" + why +
                 "); the artifact was not written by droot-pack, or by a broken one: pack it again");
  };
  if (get_le(frame, 0, 4) != kFrameIndexMagic) throw bad("it is not a skippable frame of magic 0x184D2A5B");
  if (get_le(frame, 4, 4) != frame.size() - 8) throw bad("the frame's length does not match its footer's");
  std::string_view text = frame.substr(8, frame.size() - 8 - kFooterSize);
  if (text.substr(0, kHeaderLine.size()) != kHeaderLine) throw bad("it does not start with 'droot-frames 1'");
  text.remove_prefix(kHeaderLine.size());
  FrameIndex index;
  index.index_size = frame.size();
  uint64_t total = index.index_size;
  size_t line_no = 1;
  while (!text.empty()) {
    ++line_no;
    const size_t nl = text.find('\n');
    if (nl == std::string_view::npos) throw bad("line " + std::to_string(line_no) + " has no newline");
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl + 1);
    const std::string where = "line " + std::to_string(line_no);
    std::vector<std::string_view> words = split_words(line);
    FrameInfo f;
    if ((words.size() != 3 && words.size() != 9) || !parse_number(words[0], f.compressed) ||
        !parse_number(words[1], f.tar_bytes) || !parse_number(words[2], f.entries) ||
        (words.size() == 9) != (f.entries == 0))
      throw bad(where + " is not '<compressed> <tar bytes> <entries>' nor a content frame's line");
    // Every frame holds whole 512-byte tar blocks; every other frame starts with an entry's header.
    if (f.compressed == 0 || f.tar_bytes == 0 || f.tar_bytes % 512 != 0)
      throw bad(where + " describes an empty frame or one that is not whole tar blocks");
    if (words.size() == 9) {
      f.content = parse_content(words, where, bad);
      if (f.content->size == 0 || (f.content->size + 511) / 512 * 512 != f.tar_bytes)
        throw bad(where + ": a content frame's tar bytes are its file's size rounded up to 512");
    }
    if (f.compressed > payload_size - total) throw bad("its frames are larger than the payload");
    total += f.compressed;
    index.frames.push_back(f);
  }
  if (index.frames.empty()) throw bad("it lists no frame");
  if (total != payload_size) throw bad("its frames and itself do not make up the whole payload");
  return index;
}

// The index's size from the payload's last 16 bytes; nullopt if they are not an index's footer.
std::optional<uint64_t> index_size(std::string_view footer, uint64_t payload_size, const std::string& what) {
  if (footer.substr(8) != kFrameIndexEnd) return std::nullopt;
  const uint64_t size = get_le(footer, 0, 8);
  if (size < kMinSize || size > kMaxFrameIndexSize || size > payload_size)
    throw Error(what + ": the payload ends like a frame index of " + std::to_string(size) +
                " bytes, which cannot be (a broken droot-pack?): pack it again");
  return size;
}

}  // namespace

std::string make_frame_index(const std::vector<FrameInfo>& frames) {
  std::string body(kHeaderLine);
  for (const FrameInfo& f : frames) {
    body += std::to_string(f.compressed) + ' ' + std::to_string(f.tar_bytes) + ' ' + std::to_string(f.entries);
    if (const auto& k = f.content) {
      char mode[8], nsec[16];
      std::snprintf(mode, sizeof mode, "%04o", k->mode & 07777);
      std::snprintf(nsec, sizeof nsec, "%09u", k->nsec);
      body += ' ' + std::to_string(k->size) + ' ' + k->sha256 + ' ' + mode + ' ' + std::to_string(k->uid) + ' ' +
              std::to_string(k->gid) + ' ' + std::to_string(k->sec) + '.' + nsec;
    }
    body += '\n';
  }
  const uint64_t total = 8 + body.size() + kFooterSize;
  std::string out;
  put_le(out, kFrameIndexMagic, 4);
  put_le(out, total - 8, 4);
  out += body;
  put_le(out, total, 8);
  out += kFrameIndexEnd;
  return out;
}

std::optional<FrameIndex> read_frame_index(std::string_view payload, const std::string& what) {
  if (payload.size() < kFooterSize) return std::nullopt;
  const auto size = index_size(payload.substr(payload.size() - kFooterSize), payload.size(), what);
  if (!size) return std::nullopt;
  return parse(payload.substr(payload.size() - *size), payload.size(), what);
}

std::optional<FrameIndex> read_frame_index(int fd, uint64_t payload_size, const std::string& what) {
  if (payload_size < kFooterSize) return std::nullopt;
  std::string footer(kFooterSize, '\0');
  pread_exact(fd, footer.data(), footer.size(), payload_size - kFooterSize, what);
  const auto size = index_size(footer, payload_size, what);
  if (!size) return std::nullopt;
  std::string frame(*size, '\0');
  pread_exact(fd, frame.data(), frame.size(), payload_size - *size, what);
  return parse(frame, payload_size, what);
}

}  // namespace droot
