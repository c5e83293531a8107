// Server-side verification of an artifact (droot-artifact(5), "Verification order on servers"): signature and
// checksum are checked over the raw bytes before anything is handed to a decompressor or the tar parser.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "fd.h"
#include "minisign.h"
#include "trailer.h"

namespace droot {

struct TrustedKey {
  minisign::PublicKey key;
  std::string path;
};

// Every `-p` file, or else every *.pub in $DROOT_KEYS_DIR (default /etc/droot/keys). Throws if none.
std::vector<TrustedKey> load_trusted_keys(const std::vector<std::string>& paths);

struct VerifyOptions {
  std::vector<std::string> public_keys;        // -p
  std::optional<std::string> signature_path;   // --signature (else the trailer, else ARTIFACT.minisig)
  bool insecure_unsigned = false;
  std::string spool_dir = "/tmp";              // where stdin is spooled (an unnamed O_TMPFILE)
};

struct VerifiedArtifact {
  UniqueFd fd;               // the artifact, or its spooled copy for stdin
  std::string name;          // as given ("-" shown as "stdin")
  uint64_t file_size = 0;
  uint64_t payload_size = 0;  // bytes covered by the signature
  Compression compression = Compression::none;
  bool is_signed = false;
  std::string signature_source;  // "embedded trailer", or the .minisig path
  std::string key_id;            // minisign key id (hex) that signed it
  std::string key_path;
  std::string trusted_comment;
  std::map<std::string, std::string> comment_fields;  // image=, id=, payload_sha256=, compression=
  std::string payload_sha256;    // computed
  std::string file_sha256;       // computed over the whole file (what the .sha256 sidecar holds)
};

// Reads the artifact once from `path` ("-" = stdin), checks the signature against the trusted keys, the
// trusted comment's payload_sha256, and ARTIFACT.sha256 if it is there. Throws Error naming what failed.
VerifiedArtifact verify_artifact(const std::string& path, const VerifyOptions& options);

// "droot-artifact 1 image=a id=b ..." → {"image": "a", ...}; words without '=' are ignored.
std::map<std::string, std::string> parse_trusted_comment(const std::string& comment);

}  // namespace droot
