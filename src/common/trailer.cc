#include "trailer.h"

#include <cstring>
#include <functional>
#include <stdexcept>

#include "error.h"
#include "io.h"
#include "little_endian.h"

namespace droot {
namespace {

constexpr uint32_t kZstdSkippableMagic = 0x184D2A5D;
// An empty deflate stream (one final static block) followed by CRC32 = 0 and ISIZE = 0.
constexpr uint8_t kGzipEmptyTail[10] = {0x03, 0x00, 0, 0, 0, 0, 0, 0, 0, 0};
constexpr size_t kGzipHeaderSize = 10 + 2 + 4;  // fixed header, XLEN, subfield id + length

}  // namespace

Compression parse_compression(const std::string& name) {
  if (name == "zstd") return Compression::zstd;
  if (name == "gzip") return Compression::gzip;
  if (name == "none") return Compression::none;
  throw Error("unknown compression '" + name + "' (use zstd, gzip or none)");
}

std::string compression_name(Compression c) {
  switch (c) {
    case Compression::zstd: return "zstd";
    case Compression::gzip: return "gzip";
    case Compression::none: return "none";
  }
  return "none";
}

std::string compression_extension(Compression c) {
  switch (c) {
    case Compression::zstd: return ".tar.zst";
    case Compression::gzip: return ".tar.gz";
    case Compression::none: return ".tar";
  }
  return ".tar";
}

Compression detect_compression(std::string_view head) {
  if (head.size() >= 4 && std::memcmp(head.data(), "\x28\xb5\x2f\xfd", 4) == 0) return Compression::zstd;
  if (head.size() >= 2 && std::memcmp(head.data(), "\x1f\x8b", 2) == 0) return Compression::gzip;
  return Compression::none;
}

std::string make_trailer(Compression c, std::string_view minisig_text) {
  const size_t body_size = minisig_text.size() + 16;
  std::string out;
  if (c == Compression::zstd) {
    const uint64_t total = 8 + body_size;
    put_le(out, kZstdSkippableMagic, 4);
    put_le(out, body_size, 4);
    out.append(minisig_text);
    put_le(out, total, 8);
    out.append(kTrailerMagic);
  } else if (c == Compression::gzip) {
    const uint64_t total = kGzipHeaderSize + body_size + sizeof kGzipEmptyTail;
    if (body_size + 4 > 0xffff) throw Error("signature too large for a gzip extra field");
    const uint8_t header[10] = {0x1f, 0x8b, 8, 0x04 /* FEXTRA */, 0, 0, 0, 0, 0, 0xff};
    out.append(reinterpret_cast<const char*>(header), sizeof header);
    put_le(out, body_size + 4, 2);  // XLEN
    out.append("DS");
    put_le(out, body_size, 2);
    out.append(minisig_text);
    put_le(out, total, 8);
    out.append(kTrailerMagic);
    out.append(reinterpret_cast<const char*>(kGzipEmptyTail), sizeof kGzipEmptyTail);
  } else {
    throw Error("an uncompressed artifact carries no trailer (use the detached .minisig)");
  }
  if (out.size() > kMaxTrailerSize) throw Error("signature trailer too large");
  return out;
}

namespace {

// Reads `size` bytes at `offset` of the file, or throws.
using ReadAt = std::function<void(void* data, size_t size, uint64_t offset)>;

std::optional<Trailer> find_trailer(const ReadAt& read_at, uint64_t file_size, const std::string& what) {
  // zstd puts the magic at the very end; gzip puts the 10-byte member tail after it.
  for (Compression c : {Compression::zstd, Compression::gzip}) {
    const size_t tail = c == Compression::gzip ? sizeof kGzipEmptyTail : 0;
    if (file_size < 16 + tail) continue;
    uint8_t end[16 + sizeof kGzipEmptyTail];
    read_at(end, 16 + tail, file_size - 16 - tail);
    if (std::memcmp(end + 8, kTrailerMagic.data(), 8) != 0) continue;
    if (tail && std::memcmp(end + 16, kGzipEmptyTail, tail) != 0) continue;
    const uint64_t total = get_le(end, 8);
    const size_t header = c == Compression::zstd ? 8 : kGzipHeaderSize;
    if (total > kMaxTrailerSize || total > file_size || total < header + 16 + tail)
      throw Error(what + ": corrupt signature trailer (impossible length " + std::to_string(total) + ")");
    std::string buf(total, '\0');
    read_at(buf.data(), buf.size(), file_size - total);
    const auto* p = reinterpret_cast<const uint8_t*>(buf.data());
    const uint64_t body_size = total - header - tail;
    if (c == Compression::zstd) {
      if (get_le(p, 4) != kZstdSkippableMagic || get_le(p + 4, 4) != body_size)
        throw Error(what + ": corrupt signature trailer (bad zstd skippable frame header)");
    } else {
      if (p[0] != 0x1f || p[1] != 0x8b || p[2] != 8 || p[3] != 0x04 || get_le(p + 10, 2) != body_size + 4 ||
          p[12] != 'D' || p[13] != 'S' || get_le(p + 14, 2) != body_size)
        throw Error(what + ": corrupt signature trailer (bad gzip extra field)");
    }
    Trailer t;
    t.payload_size = file_size - total;
    t.compression = c;
    t.minisig_text = buf.substr(header, body_size - 16);
    return t;
  }
  return std::nullopt;
}

}  // namespace

std::optional<Trailer> read_trailer(int fd, uint64_t file_size, const std::string& what) {
  return find_trailer([&](void* data, size_t size, uint64_t offset) { droot::pread_exact(fd, data, size, offset, what); },
                      file_size, what);
}

std::optional<Trailer> read_trailer(std::string_view file, const std::string& what) {
  return find_trailer(
      [&](void* data, size_t size, uint64_t offset) {
        // Not an Error: a read outside the file is a bug in find_trailer's arithmetic, which the fuzzer must see.
        if (offset > file.size() || size > file.size() - offset) throw std::logic_error("trailer: read past the end");
        std::memcpy(data, file.data() + offset, size);
      },
      file.size(), what);
}

}  // namespace droot
