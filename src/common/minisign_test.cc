#include "minisign.h"

#include <doctest/doctest.h>

#include "error.h"
#include "hash.h"

namespace ms = droot::minisign;

namespace {
// Made by Debian's minisign 0.11: `minisign -G -W`, then `minisign -S -t 'trusted hello'` of "hello droot\n".
const char* kPub =
    "untrusted comment: minisign public key 80577502E972EF2A\n"
    "RWQq73LpAnVXgMq/sCAfbjFkl7kv/72E/BTF5uXSD4922BQqEKsewXUC\n";
const char* kSecPlain =
    "untrusted comment: minisign encrypted secret key\n"
    "RWQAAEIyAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAKu9y6QJ1V4ANt6CbIfvzBNiw7NTtMtktjyCQag5tbVXV"
    "RuhzA3+6Icq/sCAfbjFkl7kv/72E/BTF5uXSD4922BQqEKsewXUCAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
const char* kSig =
    "untrusted comment: signature from minisign secret key\n"
    "RUQq73LpAnVXgIWZfkXg7jL146DB783yq25EfaAvVSi0rW9ecP+xAficBPmAKBMmlFYdKebxBd6LHmF+J+UwdgQtsveUhWw5EAY=\n"
    "trusted comment: trusted hello\n"
    "hNwRec42aDs7DdXoGCfXj4JjfQ/YhWFakxrMul/HgltvfxFM8tKSJ+GCVAbG9C77s5qTaiT0fWQlQxdcoRwRDw==\n";
// `printf 'pw\npw\n' | minisign -G`: scrypt-encrypted with password "pw".
const char* kPubEnc =
    "untrusted comment: minisign public key 89AB6E84DF6D59DC\n"
    "RWTcWW3fhG6riYdkA+paQyg+3WAbiT/ohEb6WO6buk2jkYYFPhTyEB6h\n";
const char* kSecEnc =
    "untrusted comment: minisign encrypted secret key\n"
    "RWRTY0Iy3cny2TS+1f9xv+KVZbS/Fq4cEpQfEoqK/u0vlkJB8m8AAAACAAAAAAAAAEAAAAAAIFZx5OqswsgXQM5iNk01jJSYpa4QVwLAcbKo+Pz1RuOMrXg"
    "rsSY7RojFtnh3yyjXuoMjLh3erpdqA5BfqUyCTbVNigW6XicCH10lV66wMhE505Zkh9/hrmVXko9ig1ac02A+mG02qVM=\n";

std::vector<uint8_t> prehash(const std::string& data) {
  auto d = droot::Digest::blake2b512();
  d.update(data);
  return d.finish();
}
std::string no_password() { throw droot::Error("no password expected"); }
}  // namespace

TEST_CASE("a public key written by minisign parses, with minisign's key id") {
  auto key = ms::parse_public_key(kPub, "k.pub");
  CHECK(ms::key_id_hex(key.key_id) == "80577502E972EF2A");
  CHECK(ms::format_public_key(key) == kPub);
}

TEST_CASE("a signature made by minisign verifies, and any change breaks it") {
  auto key = ms::parse_public_key(kPub, "k.pub");
  auto sig = ms::parse_signature(kSig, "data.minisig");
  CHECK(sig.trusted_comment == "trusted hello");
  CHECK_NOTHROW(ms::verify_prehashed(sig, key, prehash("hello droot\n"), "data"));
  CHECK_THROWS_WITH(ms::verify_prehashed(sig, key, prehash("hello droot!"), "data"),
                    doctest::Contains("signature verification failed"));
  auto altered = sig;
  altered.trusted_comment = "trusted hellO";
  CHECK_THROWS_WITH(ms::verify_prehashed(altered, key, prehash("hello droot\n"), "data"),
                    doctest::Contains("trusted comment"));
  CHECK(ms::format_signature(sig) == kSig);
}

TEST_CASE("an unencrypted minisign secret key signs what minisign signs, byte for byte") {
  auto sk = ms::parse_secret_key(kSecPlain, "k.sec", no_password);
  CHECK(ms::key_id_hex(sk.key_id) == "80577502E972EF2A");
  auto sig = ms::sign_prehashed(sk, prehash("hello droot\n"), "trusted hello", "signature from minisign secret key");
  CHECK(ms::format_signature(sig) == kSig);  // Ed25519 is deterministic
}

TEST_CASE("an scrypt-encrypted minisign secret key opens with its password and refuses a wrong one") {
  CHECK(ms::secret_key_is_encrypted(kSecEnc, "e.sec"));
  auto sk = ms::parse_secret_key(kSecEnc, "e.sec", [] { return std::string("pw"); });
  auto pub = ms::parse_public_key(kPubEnc, "e.pub");
  CHECK(sk.public_part().key == pub.key);
  CHECK(sk.key_id == pub.key_id);
  CHECK_THROWS_WITH(ms::parse_secret_key(kSecEnc, "e.sec", [] { return std::string("wrong"); }),
                    doctest::Contains("wrong password"));
}

TEST_CASE("keys we generate round-trip unencrypted") {
  auto sk = ms::generate_secret_key();
  auto text = ms::format_secret_key(sk, std::nullopt);
  CHECK_FALSE(ms::secret_key_is_encrypted(text, "new"));
  auto back = ms::parse_secret_key(text, "new", no_password);
  CHECK(back.seed == sk.seed);
  CHECK(back.key_id == sk.key_id);
  auto pub = ms::parse_public_key(ms::format_public_key(sk.public_part()), "new.pub");
  auto sig = ms::sign_prehashed(back, prehash("x"), "tc", "uc");
  CHECK_NOTHROW(ms::verify_prehashed(sig, pub, prehash("x"), "x"));
}

TEST_CASE("a signature from another key names both key ids") {
  auto other = ms::generate_secret_key();
  auto sig = ms::sign_prehashed(other, prehash("x"), "tc", "uc");
  auto key = ms::parse_public_key(kPub, "k.pub");
  CHECK_THROWS_WITH(ms::verify_prehashed(sig, key, prehash("x"), "art"), doctest::Contains("80577502E972EF2A"));
}

TEST_CASE("malformed key and signature files are refused with the file's name") {
  CHECK_THROWS_WITH(ms::parse_public_key("garbage\nmore\n", "bad.pub"), doctest::Contains("bad.pub"));
  CHECK_THROWS_WITH(ms::parse_public_key("untrusted comment: x\nRWQq73Lp\n", "short.pub"), doctest::Contains("short.pub"));
  CHECK_THROWS_WITH(ms::parse_signature("untrusted comment: x\n", "s.minisig"), doctest::Contains("s.minisig"));
  CHECK_THROWS_WITH(ms::parse_secret_key("untrusted comment: x\n!!!!\n", "s.sec", no_password), doctest::Contains("s.sec"));
  std::string legacy = kSig;
  legacy[legacy.find("RUQ") + 2] = 'W';  // "ED" -> "Ed" (first base64 char group changes the 2nd byte)
  CHECK_THROWS(ms::parse_signature(legacy, "legacy.minisig"));
}

TEST_CASE("every CR at the end of a signature line is dropped, so what is written reads back the same") {
  // From tests/fuzz/minisign_sig_fuzz.cc: an untrusted comment ending in "\r\r" came back with one CR, and
  // once written and read again with none.
  auto sk = ms::generate_secret_key();
  auto sig = ms::sign_prehashed(sk, prehash("x"), "tc", "uc");
  std::string text = ms::format_signature(sig);
  text.replace(text.find("uc\n"), 3, "uc\r\r\r\n");
  text.replace(text.find("tc\n"), 3, "tc\r\r\n");
  auto parsed = ms::parse_signature(text, "crs.minisig");
  CHECK(parsed.untrusted_comment == "uc");
  CHECK(parsed.trusted_comment == "tc");
  CHECK(ms::format_signature(parsed) == ms::format_signature(sig));
  CHECK_NOTHROW(ms::verify_prehashed(parsed, sk.public_part(), prehash("x"), "crs"));
  // A CR inside a comment is read as it is (and then verified as it is); we never sign a comment with a CR.
  std::string inner = ms::format_signature(sig);
  inner.replace(inner.find("tc\n"), 3, "t\rc\n");
  CHECK(ms::parse_signature(inner, "inner.minisig").trusted_comment == "t\rc");
  CHECK_THROWS_AS(ms::verify_prehashed(ms::parse_signature(inner, "inner"), sk.public_part(), prehash("x"), "inner"),
                  droot::Error);
  CHECK_THROWS_AS(ms::sign_prehashed(sk, prehash("x"), "tc\r", "uc"), droot::Error);
}
