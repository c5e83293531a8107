// droot-exec's default build loads libcrypto when it first needs it, not at start-up (meson -Dlazy_libcrypto,
// on by default; systemd does the same with its optional libraries). Mapping and relocating libcrypto costs
// every process that links it a few milliseconds before main(), and `run`, the command whose start-up
// matters, never hashes or verifies anything. verify, deploy and check load it at their first digest or key,
// from the system's shared libcrypto.so.3, so OpenSSL's security updates still reach droot-exec without a
// rebuild (the static build, -Dstatic_exec, links libcrypto.a instead and does not use this file).
//
// Each function droot-exec calls is defined here with OpenSSL 3's own prototype and forwards to the symbol of
// the same name and version in the loaded library; a function pointer is looked up once (thread-safe:
// function-local statics). A missing or wrong libcrypto is an Error naming the library and the symbol, thrown
// to main() like any other error.
#include <dlfcn.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <string>

#include "error.h"

namespace {

constexpr const char* kLibrary = "libcrypto.so.3";
constexpr const char* kVersion = "OPENSSL_3.0.0";  // the version node every symbol below has in OpenSSL 3

void* libcrypto() {
  static void* const handle = [] {
    // RTLD_LOCAL: its symbols stay out of the global scope, so nothing else resolves against them by chance.
    void* h = ::dlopen(kLibrary, RTLD_NOW | RTLD_LOCAL);
    if (h == nullptr)
      throw droot::Error(std::string("cannot load ") + kLibrary + " (OpenSSL 3, needed to check signatures and " +
                         "checksums): " + ::dlerror() + "; install the libssl3 package");
    return h;
  }();
  return handle;
}

template <typename Fn>
Fn* real(Fn* /*only its type*/, const char* name) {
  void* sym = ::dlvsym(libcrypto(), name, kVersion);
  if (sym == nullptr)
    throw droot::Error(std::string(kLibrary) + " has no " + name + "@" + kVersion + " (" + ::dlerror() +
                       "); droot-exec needs OpenSSL 3");
  return reinterpret_cast<Fn*>(sym);
}

}  // namespace

#define DROOT_REAL(name) static auto* const real_fn = real(&name, #name)

extern "C" {

int EVP_DecodeBlock(unsigned char* t, const unsigned char* f, int n) {
  DROOT_REAL(EVP_DecodeBlock);
  return real_fn(t, f, n);
}
int EVP_EncodeBlock(unsigned char* t, const unsigned char* f, int n) {
  DROOT_REAL(EVP_EncodeBlock);
  return real_fn(t, f, n);
}
EVP_MD_CTX* EVP_MD_CTX_new(void) {
  DROOT_REAL(EVP_MD_CTX_new);
  return real_fn();
}
void EVP_MD_CTX_free(EVP_MD_CTX* ctx) {
  if (ctx == nullptr) return;  // never the first call: a context came from EVP_MD_CTX_new, which loaded it
  DROOT_REAL(EVP_MD_CTX_free);
  real_fn(ctx);
}
int EVP_MD_CTX_copy_ex(EVP_MD_CTX* out, const EVP_MD_CTX* in) {
  DROOT_REAL(EVP_MD_CTX_copy_ex);
  return real_fn(out, in);
}
const char* EVP_MD_get0_name(const EVP_MD* md) {
  DROOT_REAL(EVP_MD_get0_name);
  return real_fn(md);
}
const EVP_MD* EVP_sha256(void) {
  DROOT_REAL(EVP_sha256);
  return real_fn();
}
const EVP_MD* EVP_blake2b512(void) {
  DROOT_REAL(EVP_blake2b512);
  return real_fn();
}
int EVP_DigestInit_ex(EVP_MD_CTX* ctx, const EVP_MD* type, ENGINE* impl) {
  DROOT_REAL(EVP_DigestInit_ex);
  return real_fn(ctx, type, impl);
}
int EVP_DigestUpdate(EVP_MD_CTX* ctx, const void* d, size_t cnt) {
  DROOT_REAL(EVP_DigestUpdate);
  return real_fn(ctx, d, cnt);
}
int EVP_DigestFinal_ex(EVP_MD_CTX* ctx, unsigned char* md, unsigned int* s) {
  DROOT_REAL(EVP_DigestFinal_ex);
  return real_fn(ctx, md, s);
}
int EVP_DigestSignInit(EVP_MD_CTX* ctx, EVP_PKEY_CTX** pctx, const EVP_MD* type, ENGINE* e, EVP_PKEY* pkey) {
  DROOT_REAL(EVP_DigestSignInit);
  return real_fn(ctx, pctx, type, e, pkey);
}
int EVP_DigestSign(EVP_MD_CTX* ctx, unsigned char* sigret, size_t* siglen, const unsigned char* tbs, size_t tbslen) {
  DROOT_REAL(EVP_DigestSign);
  return real_fn(ctx, sigret, siglen, tbs, tbslen);
}
int EVP_DigestVerifyInit(EVP_MD_CTX* ctx, EVP_PKEY_CTX** pctx, const EVP_MD* type, ENGINE* e, EVP_PKEY* pkey) {
  DROOT_REAL(EVP_DigestVerifyInit);
  return real_fn(ctx, pctx, type, e, pkey);
}
int EVP_DigestVerify(EVP_MD_CTX* ctx, const unsigned char* sigret, size_t siglen, const unsigned char* tbs,
                     size_t tbslen) {
  DROOT_REAL(EVP_DigestVerify);
  return real_fn(ctx, sigret, siglen, tbs, tbslen);
}
int EVP_PBE_scrypt(const char* pass, size_t passlen, const unsigned char* salt, size_t saltlen, uint64_t N, uint64_t r,
                   uint64_t p, uint64_t maxmem, unsigned char* key, size_t keylen) {
  DROOT_REAL(EVP_PBE_scrypt);
  return real_fn(pass, passlen, salt, saltlen, N, r, p, maxmem, key, keylen);
}
EVP_PKEY* EVP_PKEY_new_raw_public_key(int type, ENGINE* e, const unsigned char* pub, size_t len) {
  DROOT_REAL(EVP_PKEY_new_raw_public_key);
  return real_fn(type, e, pub, len);
}
EVP_PKEY* EVP_PKEY_new_raw_private_key(int type, ENGINE* e, const unsigned char* priv, size_t len) {
  DROOT_REAL(EVP_PKEY_new_raw_private_key);
  return real_fn(type, e, priv, len);
}
int EVP_PKEY_get_raw_public_key(const EVP_PKEY* pkey, unsigned char* pub, size_t* len) {
  DROOT_REAL(EVP_PKEY_get_raw_public_key);
  return real_fn(pkey, pub, len);
}
void EVP_PKEY_free(EVP_PKEY* pkey) {
  if (pkey == nullptr) return;  // as EVP_MD_CTX_free
  DROOT_REAL(EVP_PKEY_free);
  real_fn(pkey);
}
int RAND_bytes(unsigned char* buf, int num) {
  DROOT_REAL(RAND_bytes);
  return real_fn(buf, num);
}

}  // extern "C"
