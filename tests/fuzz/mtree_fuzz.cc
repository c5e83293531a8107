// The signed manifest `.droot/manifest.mtree` that deploy and check compare the tree against: whatever the
// bytes, parse_manifest throws droot::Error or gives entries that format (format_manifest_line) back to a
// manifest that parses to the same entries, for every field the format carries; and mtree path quoting
// round-trips any byte string.
#include <map>
#include <string>
#include <string_view>

#include "error.h"
#include "fuzz_check.h"
#include "mtree.h"

using namespace droot;

namespace {

// What format_manifest_line writes of an entry: size and digest only for files, the target only for links.
ManifestEntry carried(ManifestEntry e) {
  if (e.type != "file") {
    e.size = 0;
    e.sha256.clear();
  }
  if (e.type != "link") e.link.clear();
  return e;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  const std::string escaped = mtree_escape(text);
  FUZZ_CHECK(escaped.find_first_of(" \t\n#=") == std::string::npos);
  FUZZ_CHECK(mtree_unescape(escaped) == text);

  std::map<std::string, ManifestEntry> entries;
  try {
    entries = parse_manifest(text, "manifest.mtree");
  } catch (const Error&) {
    return 0;
  }
  std::string written = manifest_header();
  for (const auto& [path, e] : entries) {
    FUZZ_CHECK(path == e.path && !path.empty());
    FUZZ_CHECK(e.mode <= 07777);
    FUZZ_CHECK(e.type != "file" || e.sha256.size() == 64);
    written += format_manifest_line(e);
  }
  std::map<std::string, ManifestEntry> again;
  try {
    again = parse_manifest(written, "written");
  } catch (const Error& e) {
    std::fprintf(stderr, "a manifest we wrote does not parse: %s\n", e.what());
    std::abort();
  }
  FUZZ_CHECK(again.size() == entries.size());
  for (const auto& [path, e] : entries) {
    auto it = again.find(path);
    FUZZ_CHECK(it != again.end());
    FUZZ_CHECK(it->second == carried(e));
  }
  return 0;
}
