// nosys SYSCALL[,SYSCALL...] COMMAND [ARG...]: runs COMMAND with the named system calls answering ENOSYS, as
// on a kernel that predates them (a seccomp filter; the only way to show an old kernel on a new one).
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static const struct {
  const char* name;
  int nr;
} calls[] = {{"openat2", SYS_openat2},       {"fsopen", SYS_fsopen},         {"open_tree", SYS_open_tree},
             {"move_mount", SYS_move_mount}, {"mount_setattr", SYS_mount_setattr}};

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: nosys SYSCALL[,SYSCALL...] COMMAND [ARG...]\n");
    return 2;
  }
  struct sock_filter prog[64];
  int n = 0;
  prog[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
  prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0);
  prog[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
  prog[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
  for (char* name = strtok(argv[1], ","); name; name = strtok(NULL, ",")) {
    int nr = -1;
    for (size_t i = 0; i < sizeof calls / sizeof calls[0]; ++i)
      if (strcmp(calls[i].name, name) == 0) nr = calls[i].nr;
    if (nr < 0) {
      fprintf(stderr, "nosys: unknown system call %s\n", name);
      return 2;
    }
    prog[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)nr, 0, 1);
    prog[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS);
  }
  prog[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
  struct sock_fprog fprog = {(unsigned short)n, prog};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fprog) < 0) {
    perror("nosys: seccomp");
    return 2;
  }
  execv(argv[2], argv + 2);
  perror("nosys: execv");
  return 127;
}
