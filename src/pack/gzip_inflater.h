// Streaming gzip decompression with ISA-L's igzip, for the layers droot-pack flattens itself. Inflating the
// layers was the largest single cost of packing a gzip image (oci-archive:, docker://), on one core before
// any of the tree can be written: igzip inflates about 3x faster than zlib (which libarchive's gzip filter
// uses) on the same data here. Only built with libisal (libisal-dev); without it libarchive inflates, as before.
//
// Like libarchive's reader: gzip members one after another are one stream, and bytes after a member that do
// not start another are ignored; each member's CRC-32 is checked. Memory: igzip's state (~50 KiB) and one input
// buffer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

struct inflate_state;

namespace droot::pack {

// Whether droot-pack was built with ISA-L (else GzipInflater is never used).
bool have_fast_gzip();

// The gzip magic and deflate method: 1f 8b 08.
bool looks_like_gzip(const void* head, size_t size);

class GzipInflater {
 public:
  // Reads up to `n` compressed bytes into `buf`; 0 at their end. May throw.
  using Source = std::function<size_t(char* buf, size_t n)>;
  // `what` names the data in errors ("img: layer sha256:ab…").
  GzipInflater(Source source, std::string what);
  ~GzipInflater();
  GzipInflater(const GzipInflater&) = delete;
  GzipInflater& operator=(const GzipInflater&) = delete;

  // Up to `n` inflated bytes into `buf`; 0 at the end of the last member. Error for data that is not gzip,
  // is corrupt (CRC-32 included) or ends inside a member.
  size_t read(char* buf, size_t n);

 private:
  bool fill();  // more input; false at its end

  Source source_;
  std::string what_;
  std::unique_ptr<inflate_state> state_;
  std::vector<char> in_;
  bool eof_ = false;
  bool member_done_ = false;
  bool done_ = false;
};

}  // namespace droot::pack
