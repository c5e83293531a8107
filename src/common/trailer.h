// The embedded-signature trailer that follows PAYLOAD (see droot-artifact(5)):
//   zstd: a skippable frame (magic 0x184D2A5D, LE32 length, body);
//   gzip: an empty gzip member whose FEXTRA subfield "DS" holds the body;
//   body = minisig text || LE64 length of the whole trailer || "DROOTSIG".
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace droot {

enum class Compression { zstd, gzip, none };

Compression parse_compression(const std::string& name);  // throws naming the accepted values
std::string compression_name(Compression c);
std::string compression_extension(Compression c);  // ".tar.zst", ".tar.gz", ".tar"
// Sniffs the first bytes of a payload.
Compression detect_compression(std::string_view head);

constexpr std::string_view kTrailerMagic = "DROOTSIG";
constexpr size_t kMaxTrailerSize = 64 * 1024;

// Throws for Compression::none (that form carries a detached signature only).
std::string make_trailer(Compression c, std::string_view minisig_text);

struct Trailer {
  uint64_t payload_size = 0;  // bytes before the trailer
  Compression compression = Compression::none;
  std::string minisig_text;
};

// Looks for a trailer at the end of the file open on `fd`; nullopt if there is none. A trailer that is
// present but malformed is an error (naming `what`), not "unsigned".
std::optional<Trailer> read_trailer(int fd, uint64_t file_size, const std::string& what);
// The same over a whole file held in memory (tests/fuzz/trailer_fuzz.cc).
std::optional<Trailer> read_trailer(std::string_view file, const std::string& what);

}  // namespace droot
