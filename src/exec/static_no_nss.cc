// Linked into the static droot-exec only (meson -Dstatic_exec=true), never into a dynamic build, where these
// definitions would interpose on the system's libc.
//
// Every EVP call of OpenSSL 3 reaches, inside libcrypto.a, its socket BIOs and its provider-module loader, and
// with them glibc's getaddrinfo(3), getnameinfo(3), gethostbyname(3) and dlopen(3). In a static binary those would load the
// NSS modules and shared objects of whatever glibc the server has (glibc's link-time warnings say so): the
// class of trap droot-exec must never fall into (it reads users from the rootfs's own files, see user.h).
// droot-exec never resolves a host name and never loads a module, so the link (-Wl,--wrap=NAME for each, see
// src/exec/meson.build) sends every reference to these instead: each fails the way the real one fails when
// nothing is available, and glibc's NSS code stays out of the binary. The static link runs with
// --fatal-warnings, so any new path to NSS fails the build.
//
// No <netdb.h>/<dlfcn.h>: their declarations carry exception specifications that a C++ definition would have
// to repeat exactly; the C symbols are all the linker sees.

namespace {

constexpr int kEaiFail = -4;  // EAI_FAIL: "a non-recoverable failure in name resolution"
char kNoModules[] = "droot-exec is statically linked and loads no shared objects";

}  // namespace

extern "C" {

int __wrap_getaddrinfo(const char*, const char*, const void*, void** result) {
  if (result) *result = nullptr;
  return kEaiFail;
}

void __wrap_freeaddrinfo(void*) {}

int __wrap_getnameinfo(const void*, unsigned, char*, unsigned, char*, unsigned, int) { return kEaiFail; }

void* __wrap_gethostbyname(const char*) { return nullptr; }

void* __wrap_dlopen(const char*, int) { return nullptr; }

void* __wrap_dlsym(void*, const char*) { return nullptr; }

int __wrap_dlclose(void*) { return 0; }

char* __wrap_dlerror() { return kNoModules; }

int __wrap_dladdr(const void*, void*) { return 0; }

}  // extern "C"
