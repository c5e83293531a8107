#include "hash.h"

#include <openssl/evp.h>

#include "blake2b.h"
#include "error.h"

namespace droot {

Digest::Digest(const EVP_MD* md) : ctx_(EVP_MD_CTX_new()) {
  if (ctx_ == nullptr || EVP_DigestInit_ex(ctx_, md, nullptr) != 1) {
    EVP_MD_CTX_free(ctx_);
    throw Error("cannot initialise digest " + std::string(EVP_MD_get0_name(md)));
  }
}

Digest::Digest(std::unique_ptr<Blake2b> blake) : blake_(std::move(blake)) {}

Digest::Digest(const Digest& other) {
  if (other.blake_) {
    blake_ = std::make_unique<Blake2b>(*other.blake_);
    return;
  }
  ctx_ = EVP_MD_CTX_new();
  if (ctx_ == nullptr || EVP_MD_CTX_copy_ex(ctx_, other.ctx_) != 1) {
    EVP_MD_CTX_free(ctx_);
    throw Error("cannot copy digest state");
  }
}

Digest::Digest(Digest&& other) noexcept
    : ctx_(std::exchange(other.ctx_, nullptr)), blake_(std::move(other.blake_)) {}

Digest::~Digest() { EVP_MD_CTX_free(ctx_); }

Digest Digest::sha256() { return Digest(EVP_sha256()); }

// Ours where it is faster than OpenSSL's portable C (blake2b.h); the same digest either way.
Digest Digest::blake2b512() {
  if (Blake2b::supported(Blake2b::Impl::avx2)) return Digest(std::make_unique<Blake2b>(64));
  return Digest(EVP_blake2b512());
}

void Digest::update(const void* data, size_t size) {
  if (blake_) {
    blake_->update(data, size);
    return;
  }
  if (EVP_DigestUpdate(ctx_, data, size) != 1) throw Error("digest update failed");
}

std::vector<uint8_t> Digest::finish() {
  if (blake_) return blake_->finish();
  std::vector<uint8_t> out(EVP_MAX_MD_SIZE);
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx_, out.data(), &len) != 1) throw Error("digest finalisation failed");
  out.resize(len);
  return out;
}

char* to_hex(const uint8_t* data, size_t size, char* out) {
  static const char digits[] = "0123456789abcdef";
  for (size_t i = 0; i < size; ++i) {
    *out++ = digits[data[i] >> 4];
    *out++ = digits[data[i] & 15];
  }
  return out;
}

std::string to_hex(const uint8_t* data, size_t size) {
  std::string out(size * 2, '\0');  // sized once: deploy names an object per file with it
  to_hex(data, size, out.data());
  return out;
}

std::string sha256_hex(std::string_view data) {
  Digest d = Digest::sha256();
  d.update(data);
  return to_hex(d.finish());
}

}  // namespace droot
