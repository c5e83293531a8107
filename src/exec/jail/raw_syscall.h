// Syscalls for a process that runs on droot-exec's memory (clone(CLONE_VM) without a thread pointer of its own:
// overlay_holder.h, user_namespace.h). libc's errno there is droot-exec's, which droot-exec may be reading at that
// moment, so such a process calls the kernel directly and leaves errno alone. Where that is not possible (other
// architectures) or not followed (ASan cannot follow a process on a stack it did not allocate, init.cc), such
// processes are forked instead: kShareMemory says which.
#pragma once

#include <unistd.h>

namespace droot::exec {

#if defined(__SANITIZE_ADDRESS__) || !(defined(__x86_64__) || defined(__aarch64__))
inline constexpr bool kShareMemory = false;
inline long raw_syscall(long n, long a, long b, long c, long d = 0, long e = 0) {
  long r = syscall(n, a, b, c, d, e);
  return r < 0 ? -errno : r;
}
#else
inline constexpr bool kShareMemory = true;
// The kernel's return value (-errno on failure); errno is not touched. Up to five arguments (fsconfig's).
inline long raw_syscall(long n, long a, long b, long c, long d = 0, long e = 0) {
#if defined(__x86_64__)
  long ret;
  register long r10 asm("r10") = d, r8 asm("r8") = e;
  asm volatile("syscall" : "=a"(ret) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8) : "rcx", "r11", "memory");
  return ret;
#else
  register long x8 asm("x8") = n, x0 asm("x0") = a, x1 asm("x1") = b, x2 asm("x2") = c, x3 asm("x3") = d, x4 asm("x4") = e;
  asm volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4) : "memory");
  return x0;
#endif
}
#endif

}  // namespace droot::exec
