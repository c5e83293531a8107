// minisign signature files (.minisig, and the text inside an artifact's trailer): whatever the bytes,
// parse_signature either throws droot::Error or gives a signature that formats back to text that parses to
// the same signature; verifying it against a real key fails with an Error, never a crash.
#include <string>
#include <string_view>

#include "blake2b.h"
#include "error.h"
#include "fuzz_check.h"
#include "minisign.h"

using namespace droot;
using namespace droot::minisign;

namespace {

bool same(const Signature& a, const Signature& b) {
  return a.untrusted_comment == b.untrusted_comment && a.key_id == b.key_id && a.signature == b.signature &&
         a.trusted_comment == b.trusted_comment && a.global_signature == b.global_signature;
}

// The key in tests/fuzz/corpus/minisign_sig_fuzz/ was made with; its key id lets mutated signatures reach
// the Ed25519 checks rather than stopping at "signed by another key".
const PublicKey& corpus_key() {
  static const PublicKey key = parse_public_key(
      "untrusted comment: minisign public key 545AAE1F3B6AA37\n"
      "RWQ3qrbz4apFBRflrGT9AY/LCTMx4VntTggxuvCGg8XRUmRr62oMgfrb\n",
      "corpus key");
  return key;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  Signature sig;
  try {
    sig = parse_signature(text, "fuzz.minisig");
  } catch (const Error&) {
    return 0;
  }
  FUZZ_CHECK(sig.untrusted_comment.find('\n') == std::string::npos);
  FUZZ_CHECK(sig.trusted_comment.find('\n') == std::string::npos);
  FUZZ_CHECK(sig.untrusted_comment.size() < size && sig.trusted_comment.size() < size);

  const std::string formatted = format_signature(sig);
  Signature again;
  try {
    again = parse_signature(formatted, "formatted");
  } catch (const Error& e) {
    std::fprintf(stderr, "a parsed signature does not parse back once formatted: %s\n", e.what());
    std::abort();
  }
  FUZZ_CHECK(same(sig, again));
  FUZZ_CHECK(format_signature(again) == formatted);

  static const std::vector<uint8_t> prehash = blake2b(std::string("droot"), 64);
  for (const PublicKey& key : {corpus_key(), PublicKey{sig.key_id, corpus_key().key}}) {
    try {
      verify_prehashed(sig, key, prehash, "fuzz");
      FUZZ_CHECK(!"a fuzzed signature verified");
    } catch (const Error&) {
    }
  }
  return 0;
}
