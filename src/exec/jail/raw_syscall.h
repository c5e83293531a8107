// Syscalls for a process that runs on droot-exec's memory (clone(CLONE_VM) without a thread pointer of its own:
// teardown.h, user_namespace.h). libc's errno there is droot-exec's, which droot-exec may be reading at that
// moment, so such a process calls the kernel directly and leaves errno alone. Where that is not possible (other
// architectures) or not followed (ASan cannot follow a process on a stack it did not allocate, init.cc), such
// processes are forked instead: kShareMemory says which.
#pragma once

#include <unistd.h>

namespace droot::exec {

#if defined(__SANITIZE_ADDRESS__) || !(defined(__x86_64__) || defined(__aarch64__))
inline constexpr bool kShareMemory = false;
inline long raw_syscall(long n, long a, long b, long c) { return syscall(n, a, b, c); }
#else
inline constexpr bool kShareMemory = true;
// The kernel's return value (-errno on failure); errno is not touched.
inline long raw_syscall(long n, long a, long b, long c) {
#if defined(__x86_64__)
  long ret;
  asm volatile("syscall" : "=a"(ret) : "a"(n), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
  return ret;
#else
  register long x8 asm("x8") = n, x0 asm("x0") = a, x1 asm("x1") = b, x2 asm("x2") = c;
  asm volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2) : "memory");
  return x0;
#endif
}
#endif

}  // namespace droot::exec
