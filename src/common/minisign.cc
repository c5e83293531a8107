#include "minisign.h"

#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>

#include <cstring>
#include <memory>

#include "blake2b.h"
#include "error.h"
#include "io.h"
#include "little_endian.h"

namespace droot::minisign {
namespace {

constexpr std::string_view kUntrustedPrefix = "untrusted comment: ";
constexpr std::string_view kTrustedPrefix = "trusted comment: ";
constexpr uint64_t kOpsLimit = 33554432;     // crypto_pwhash_scryptsalsa208sha256_OPSLIMIT_SENSITIVE
constexpr uint64_t kMemLimit = 1073741824;   // crypto_pwhash_scryptsalsa208sha256_MEMLIMIT_SENSITIVE
constexpr uint64_t kMaxMemLimit = 1ULL << 32;  // refuse key files that would make us allocate more

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;

std::string base64_encode(const uint8_t* data, size_t size) {
  std::string out(4 * ((size + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(size));
  out.resize(static_cast<size_t>(n));
  return out;
}

// Strict: only the base64 alphabet, correct padding, and exactly `expected` bytes.
std::vector<uint8_t> base64_decode(std::string_view text, size_t expected, const std::string& what) {
  if (text.empty() || text.size() % 4 != 0 || text.size() > 4096)
    throw Error(what + ": malformed base64 (length " + std::to_string(text.size()) + ")");
  for (char c : text)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/' || c == '='))
      throw Error(what + ": malformed base64 (unexpected character)");
  std::vector<uint8_t> out(text.size() / 4 * 3);
  int n = EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
  if (n < 0) throw Error(what + ": malformed base64");
  size_t pad = 0;
  if (text.back() == '=') ++pad;
  if (text.size() >= 2 && text[text.size() - 2] == '=') ++pad;
  out.resize(static_cast<size_t>(n) - pad);
  if (out.size() != expected)
    throw Error(what + ": expected " + std::to_string(expected) + " bytes, found " + std::to_string(out.size()));
  return out;
}

// Splits into lines; tolerates one trailing newline and CRLF endings (files edited on Windows). Every CR at
// the end of a line goes, as minisign's trim() does: keeping all but one made a comment ending in CRs read
// back differently once written (tests/fuzz/regressions/minisign_sig_fuzz/).
std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    while (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.push_back(line);
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return lines;
}

void store_le64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

// libsodium's pickparams for scryptsalsa208sha256, so our N, r, p match minisign's for any stored limits.
void pick_scrypt_params(uint64_t opslimit, uint64_t memlimit, uint64_t& n, uint64_t& r, uint64_t& p) {
  if (opslimit < 32768) opslimit = 32768;
  r = 8;
  int n_log2 = 1;
  if (opslimit < memlimit / 32) {
    p = 1;
    uint64_t max_n = opslimit / (r * 4);
    for (n_log2 = 1; n_log2 < 63; ++n_log2)
      if ((uint64_t{1} << n_log2) > max_n / 2) break;
  } else {
    uint64_t max_n = memlimit / (r * 128);
    for (n_log2 = 1; n_log2 < 63; ++n_log2)
      if ((uint64_t{1} << n_log2) > max_n / 2) break;
    uint64_t max_rp = (opslimit / 4) / (uint64_t{1} << n_log2);
    if (max_rp > 0x3fffffff) max_rp = 0x3fffffff;
    p = max_rp / r;
  }
  n = uint64_t{1} << n_log2;
}

std::vector<uint8_t> scrypt_stream(const std::string& password, const uint8_t* salt, uint64_t opslimit,
                                   uint64_t memlimit, size_t size, const std::string& source) {
  if (memlimit > kMaxMemLimit) throw Error(source + ": refusing scrypt memory limit of " + std::to_string(memlimit) + " bytes");
  uint64_t n = 0, r = 0, p = 0;
  pick_scrypt_params(opslimit, memlimit, n, r, p);
  // OpenSSL's default ceiling is 32 MiB; minisign's parameters need 128*r*N = 1 GiB plus the p blocks.
  uint64_t maxmem = 128 * r * (n + 2) + 128 * r * p + (1 << 20);
  std::vector<uint8_t> out(size);
  if (EVP_PBE_scrypt(password.data(), password.size(), salt, 32, n, r, p, maxmem, out.data(), out.size()) != 1)
    throw Error(source + ": scrypt key derivation failed (N=" + std::to_string(n) + ", needs " +
                std::to_string(maxmem >> 20) + " MiB of memory)");
  return out;
}

std::array<uint8_t, 32> public_from_seed(const std::array<uint8_t, 32>& seed) {
  PkeyPtr pkey(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, seed.data(), seed.size()));
  if (!pkey) throw Error("cannot load Ed25519 private key");
  std::array<uint8_t, 32> pub{};
  size_t len = pub.size();
  if (EVP_PKEY_get_raw_public_key(pkey.get(), pub.data(), &len) != 1 || len != 32)
    throw Error("cannot derive Ed25519 public key");
  return pub;
}

std::array<uint8_t, 64> ed25519_sign(const std::array<uint8_t, 32>& seed, const uint8_t* msg, size_t size) {
  PkeyPtr pkey(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, seed.data(), seed.size()));
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!pkey || !ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, pkey.get()) != 1)
    throw Error("cannot initialise Ed25519 signing");
  std::array<uint8_t, 64> sig{};
  size_t len = sig.size();
  if (EVP_DigestSign(ctx.get(), sig.data(), &len, msg, size) != 1 || len != 64) throw Error("Ed25519 signing failed");
  return sig;
}

bool ed25519_verify(const std::array<uint8_t, 32>& pub, const std::array<uint8_t, 64>& sig, const uint8_t* msg,
                    size_t size) {
  PkeyPtr pkey(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, pub.data(), pub.size()));
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!pkey || !ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, pkey.get()) != 1)
    throw Error("cannot initialise Ed25519 verification");
  return EVP_DigestVerify(ctx.get(), sig.data(), sig.size(), msg, size) == 1;
}

std::string_view key_line(std::string_view text, const std::string& source, const char* kind) {
  auto lines = split_lines(text);
  if (lines.size() == 1) return lines[0];  // bare base64, as `minisign -P` takes it
  if (lines.size() >= 2 && lines[0].substr(0, kUntrustedPrefix.size()) == kUntrustedPrefix) {
    for (size_t i = 2; i < lines.size(); ++i)
      if (!lines[i].empty()) throw Error(source + ": unexpected text after the " + kind);
    return lines[1];
  }
  throw Error(source + ": not a minisign " + kind + " file (expected an 'untrusted comment:' line and a base64 line)");
}

constexpr size_t kSecretKeyBytes = 2 + 2 + 2 + 32 + 8 + 8 + 8 + 64 + 32;

}  // namespace

std::string key_id_hex(const KeyId& id) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llX", static_cast<unsigned long long>(get_le(id.data(), 8)));
  return buf;
}

PublicKey parse_public_key(std::string_view text, const std::string& source) {
  auto raw = base64_decode(key_line(text, source, "public key"), 42, source + ": public key");
  if (raw[0] != 'E' || raw[1] != 'd') throw Error(source + ": unsupported public key algorithm (expected Ed25519)");
  PublicKey key;
  std::memcpy(key.key_id.data(), raw.data() + 2, 8);
  std::memcpy(key.key.data(), raw.data() + 10, 32);
  return key;
}

PublicKey load_public_key(const std::string& path) { return parse_public_key(read_file(path, 4096), path); }

std::string format_public_key(const PublicKey& key) {
  uint8_t raw[42] = {'E', 'd'};
  std::memcpy(raw + 2, key.key_id.data(), 8);
  std::memcpy(raw + 10, key.key.data(), 32);
  return std::string(kUntrustedPrefix) + "minisign public key " + key_id_hex(key.key_id) + "\n" +
         base64_encode(raw, sizeof raw) + "\n";
}

bool secret_key_is_encrypted(std::string_view text, const std::string& source) {
  auto raw = base64_decode(key_line(text, source, "secret key"), kSecretKeyBytes, source + ": secret key");
  return !(raw[2] == 0 && raw[3] == 0);
}

SecretKey parse_secret_key(std::string_view text, const std::string& source, const PasswordSource& password) {
  auto raw = base64_decode(key_line(text, source, "secret key"), kSecretKeyBytes, source + ": secret key");
  if (raw[0] != 'E' || raw[1] != 'd') throw Error(source + ": unsupported secret key algorithm (expected Ed25519)");
  if (raw[4] != 'B' || raw[5] != '2') throw Error(source + ": unsupported secret key checksum algorithm");
  const uint8_t* salt = raw.data() + 6;
  uint64_t opslimit = get_le(raw.data() + 38, 8);
  uint64_t memlimit = get_le(raw.data() + 46, 8);
  uint8_t* keynum_sk = raw.data() + 54;  // key id (8) || secret key (64) || checksum (32)
  bool encrypted = !(raw[2] == 0 && raw[3] == 0);
  if (encrypted) {
    if (raw[2] != 'S' || raw[3] != 'c') throw Error(source + ": unsupported key derivation (expected scrypt)");
    auto stream = scrypt_stream(password(), salt, opslimit, memlimit, 104, source);
    for (size_t i = 0; i < 104; ++i) keynum_sk[i] ^= stream[i];
  }
  std::string checked(reinterpret_cast<const char*>(raw.data()), 2);
  checked.append(reinterpret_cast<const char*>(keynum_sk), 72);
  auto chk = blake2b(checked, 32);
  // minisign -W leaves the checksum of an unencrypted key zeroed and only checks it after decryption;
  // the public-half consistency check below still catches a corrupted unencrypted key.
  static const uint8_t zero_chk[32] = {};
  const bool checksum_present = encrypted || std::memcmp(keynum_sk + 72, zero_chk, 32) != 0;
  if (checksum_present && std::memcmp(chk.data(), keynum_sk + 72, 32) != 0)
    throw Error(encrypted ? source + ": wrong password for this secret key"
                          : source + ": secret key checksum mismatch (file corrupted)");
  SecretKey key;
  std::memcpy(key.key_id.data(), keynum_sk, 8);
  std::memcpy(key.seed.data(), keynum_sk + 8, 32);
  std::memcpy(key.public_key.data(), keynum_sk + 40, 32);
  if (public_from_seed(key.seed) != key.public_key) throw Error(source + ": secret key is inconsistent with its public half");
  return key;
}

SecretKey load_secret_key(const std::string& path, const PasswordSource& password) {
  return parse_secret_key(read_file(path, 4096), path, password);
}

std::string format_secret_key(const SecretKey& key, const std::optional<std::string>& password) {
  std::vector<uint8_t> raw(kSecretKeyBytes, 0);
  raw[0] = 'E';
  raw[1] = 'd';
  if (password) {
    raw[2] = 'S';
    raw[3] = 'c';
  }
  raw[4] = 'B';
  raw[5] = '2';
  if (RAND_bytes(raw.data() + 6, 32) != 1) throw Error("cannot get random bytes for the key salt");
  store_le64(raw.data() + 38, kOpsLimit);
  store_le64(raw.data() + 46, kMemLimit);
  uint8_t* keynum_sk = raw.data() + 54;
  std::memcpy(keynum_sk, key.key_id.data(), 8);
  std::memcpy(keynum_sk + 8, key.seed.data(), 32);
  std::memcpy(keynum_sk + 40, key.public_key.data(), 32);
  std::string checked(reinterpret_cast<const char*>(raw.data()), 2);
  checked.append(reinterpret_cast<const char*>(keynum_sk), 72);
  auto chk = blake2b(checked, 32);
  std::memcpy(keynum_sk + 72, chk.data(), 32);
  if (password) {
    auto stream = scrypt_stream(*password, raw.data() + 6, kOpsLimit, kMemLimit, 104, "new secret key");
    for (size_t i = 0; i < 104; ++i) keynum_sk[i] ^= stream[i];
  }
  std::string comment = password ? "minisign encrypted secret key" : "minisign secret key";
  return std::string(kUntrustedPrefix) + comment + "\n" + base64_encode(raw.data(), raw.size()) + "\n";
}

SecretKey generate_secret_key() {
  SecretKey key;
  if (RAND_bytes(key.seed.data(), 32) != 1 || RAND_bytes(key.key_id.data(), 8) != 1)
    throw Error("cannot get random bytes for a new key");
  key.public_key = public_from_seed(key.seed);
  return key;
}

Signature parse_signature(std::string_view text, const std::string& source) {
  auto lines = split_lines(text);
  while (!lines.empty() && lines.back().empty()) lines.pop_back();
  if (lines.size() != 4 || lines[0].substr(0, kUntrustedPrefix.size()) != kUntrustedPrefix ||
      lines[2].substr(0, kTrustedPrefix.size()) != kTrustedPrefix)
    throw Error(source + ": not a minisign signature (expected 4 lines: untrusted comment, signature, trusted comment, "
                         "global signature)");
  auto raw = base64_decode(lines[1], 74, source + ": signature");
  if (raw[0] == 'E' && raw[1] == 'd')
    throw Error(source + ": legacy (non-prehashed) minisign signature; sign with a prehashed signature (minisign -H, "
                         "the default since minisign 0.11)");
  if (raw[0] != 'E' || raw[1] != 'D') throw Error(source + ": unsupported signature algorithm");
  Signature sig;
  sig.untrusted_comment = std::string(lines[0].substr(kUntrustedPrefix.size()));
  std::memcpy(sig.key_id.data(), raw.data() + 2, 8);
  std::memcpy(sig.signature.data(), raw.data() + 10, 64);
  sig.trusted_comment = std::string(lines[2].substr(kTrustedPrefix.size()));
  auto global = base64_decode(lines[3], 64, source + ": global signature");
  std::memcpy(sig.global_signature.data(), global.data(), 64);
  return sig;
}

std::string format_signature(const Signature& sig) {
  uint8_t raw[74] = {'E', 'D'};
  std::memcpy(raw + 2, sig.key_id.data(), 8);
  std::memcpy(raw + 10, sig.signature.data(), 64);
  return std::string(kUntrustedPrefix) + sig.untrusted_comment + "\n" + base64_encode(raw, sizeof raw) + "\n" +
         std::string(kTrustedPrefix) + sig.trusted_comment + "\n" +
         base64_encode(sig.global_signature.data(), sig.global_signature.size()) + "\n";
}

Signature sign_prehashed(const SecretKey& key, const std::vector<uint8_t>& blake2b512, const std::string& trusted_comment,
                         const std::string& untrusted_comment) {
  if (blake2b512.size() != 64) throw Error("internal: prehash must be BLAKE2b-512");
  // No CR either: a comment ending in one would not read back (split_lines drops it) and not verify.
  if (trusted_comment.find_first_of("\r\n") != std::string::npos || untrusted_comment.find_first_of("\r\n") != std::string::npos)
    throw Error("signature comments must be one line");
  Signature sig;
  sig.untrusted_comment = untrusted_comment;
  sig.key_id = key.key_id;
  sig.signature = ed25519_sign(key.seed, blake2b512.data(), blake2b512.size());
  sig.trusted_comment = trusted_comment;
  std::string global(reinterpret_cast<const char*>(sig.signature.data()), 64);
  global += trusted_comment;
  sig.global_signature = ed25519_sign(key.seed, reinterpret_cast<const uint8_t*>(global.data()), global.size());
  return sig;
}

void verify_prehashed(const Signature& sig, const PublicKey& key, const std::vector<uint8_t>& blake2b512,
                      const std::string& what) {
  if (sig.key_id != key.key_id)
    throw Error(what + ": signed by key " + key_id_hex(sig.key_id) + ", not by trusted key " + key_id_hex(key.key_id));
  if (!ed25519_verify(key.key, sig.signature, blake2b512.data(), blake2b512.size()))
    throw Error(what + ": signature verification failed (content does not match the signature of key " +
                key_id_hex(key.key_id) + ")");
  std::string global(reinterpret_cast<const char*>(sig.signature.data()), 64);
  global += sig.trusted_comment;
  if (!ed25519_verify(key.key, sig.global_signature, reinterpret_cast<const uint8_t*>(global.data()), global.size()))
    throw Error(what + ": trusted comment signature verification failed (the trusted comment was altered)");
}

}  // namespace droot::minisign
