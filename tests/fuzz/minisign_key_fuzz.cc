// minisign key files, public (the trusted keys in /etc/droot/keys/) and secret (droot-pack -s): whatever the
// bytes, the parsers throw droot::Error or give a key that formats back to text that parses to the same key.
// scrypt is not run: an encrypted key's password callback stops the parse there, because minisign's
// parameters cost 1 GiB and a second per attempt (the memory limit itself is what the parser bounds first).
#include <optional>
#include <string>
#include <string_view>

#include "error.h"
#include "fuzz_check.h"
#include "minisign.h"

using namespace droot;
using namespace droot::minisign;

namespace {

struct StopBeforeScrypt {};

template <typename F>
auto must_parse(const char* what, F&& f) {
  try {
    return f();
  } catch (const Error& e) {
    std::fprintf(stderr, "%s: a key we formatted does not parse: %s\n", what, e.what());
    std::abort();
  }
}

void public_key(std::string_view text) {
  PublicKey key;
  try {
    key = parse_public_key(text, "fuzz.pub");
  } catch (const Error&) {
    return;
  }
  const std::string formatted = format_public_key(key);
  PublicKey again = must_parse("public key", [&] { return parse_public_key(formatted, "formatted"); });
  FUZZ_CHECK(again.key_id == key.key_id && again.key == key.key);
  FUZZ_CHECK(format_public_key(again) == formatted);
}

void secret_key(std::string_view text) {
  bool encrypted = false;
  try {
    encrypted = secret_key_is_encrypted(text, "fuzz.key");
  } catch (const Error&) {
  }
  SecretKey key;
  bool asked = false;
  try {
    key = parse_secret_key(text, "fuzz.key", [&]() -> std::string {
      asked = true;
      throw StopBeforeScrypt{};
    });
  } catch (const Error&) {
    return;
  } catch (const StopBeforeScrypt&) {
    FUZZ_CHECK(encrypted);  // only an encrypted key asks for a password
    return;
  }
  FUZZ_CHECK(!asked && !encrypted);
  // A key that parsed is consistent (its public half matches the seed), so it signs and verifies.
  const std::string formatted = format_secret_key(key, std::nullopt);
  SecretKey again = must_parse("secret key", [&] {
    return parse_secret_key(formatted, "formatted", []() -> std::string { throw StopBeforeScrypt{}; });
  });
  FUZZ_CHECK(again.key_id == key.key_id && again.seed == key.seed && again.public_key == key.public_key);
  PublicKey pub = must_parse("public half", [&] { return parse_public_key(format_public_key(key.public_part()), "pub"); });
  FUZZ_CHECK(pub.key_id == key.key_id && pub.key == key.public_key);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  public_key(text);
  secret_key(text);
  return 0;
}
