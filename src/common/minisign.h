// minisign-compatible keys and signatures (https://jedisct1.github.io/minisign/ format):
// key files as `minisign -G` writes them (scrypt-encrypted or, with -W / --no-password, plain),
// prehashed "ED" signatures (Ed25519 over BLAKE2b-512 of the data) with a signed trusted comment.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace droot::minisign {

using KeyId = std::array<uint8_t, 8>;

// As minisign prints it: the 8 bytes read as a little-endian integer, upper-case hex.
std::string key_id_hex(const KeyId& id);

struct PublicKey {
  KeyId key_id{};
  std::array<uint8_t, 32> key{};
};

struct SecretKey {
  KeyId key_id{};
  std::array<uint8_t, 32> seed{};  // Ed25519 private seed
  std::array<uint8_t, 32> public_key{};
  PublicKey public_part() const { return PublicKey{key_id, public_key}; }
};

struct Signature {
  std::string untrusted_comment;
  KeyId key_id{};
  std::array<uint8_t, 64> signature{};  // over BLAKE2b-512(data)
  std::string trusted_comment;
  std::array<uint8_t, 64> global_signature{};  // over signature || trusted_comment
};

// `source` names the file in error messages.
PublicKey parse_public_key(std::string_view text, const std::string& source);
PublicKey load_public_key(const std::string& path);
std::string format_public_key(const PublicKey& key);

using PasswordSource = std::function<std::string()>;
SecretKey parse_secret_key(std::string_view text, const std::string& source, const PasswordSource& password);
SecretKey load_secret_key(const std::string& path, const PasswordSource& password);
bool secret_key_is_encrypted(std::string_view text, const std::string& source);
// No password: an unencrypted key (minisign -W). With a password: scrypt as minisign does (N=2^20, r=8, p=1).
std::string format_secret_key(const SecretKey& key, const std::optional<std::string>& password);
SecretKey generate_secret_key();

Signature parse_signature(std::string_view text, const std::string& source);
std::string format_signature(const Signature& sig);
Signature sign_prehashed(const SecretKey& key, const std::vector<uint8_t>& blake2b512, const std::string& trusted_comment,
                         const std::string& untrusted_comment);
// Throws Error naming `what` if the key id differs or either signature does not verify.
void verify_prehashed(const Signature& sig, const PublicKey& key, const std::vector<uint8_t>& blake2b512,
                      const std::string& what);

}  // namespace droot::minisign
