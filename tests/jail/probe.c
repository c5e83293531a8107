/* Small probes for tests/integration/run_test.sh, built statically so they run in a busybox rootfs.
 *   probe ids        prints real and effective uid/gid (a set-uid copy shows whether the bit worked)
 *   probe syscalls   tries calls on the seccomp deny-list and prints name=ok or name=ERRNO
 *   probe fds        prints the descriptors it was started with */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <unistd.h>

static const char* errname(int err) {
  switch (err) {
    case EPERM: return "EPERM";
    case ENOSYS: return "ENOSYS";
    case EINVAL: return "EINVAL";
    case EFAULT: return "EFAULT";
    case EACCES: return "EACCES";
    case ENOENT: return "ENOENT";
    case E2BIG: return "E2BIG";
    case EBADF: return "EBADF";
    default: return strerror(err);
  }
}

static void show(const char* name, long rc) { printf("%s=%s\n", name, rc >= 0 ? "ok" : errname(errno)); }

int main(int argc, char** argv) {
  if (argc == 2 && strcmp(argv[1], "ids") == 0) {
    printf("uid=%d euid=%d gid=%d egid=%d\n", getuid(), geteuid(), getgid(), getegid());
    return 0;
  }
  if (argc == 2 && strcmp(argv[1], "syscalls") == 0) {
    show("mount", mount("none", "/mnt", "tmpfs", 0, NULL)); /* first: unshare_user below would change the answer */
    show("keyctl", syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -2 /* process keyring */, 1));
    show("unshare_user", unshare(CLONE_NEWUSER));
    show("ptrace", ptrace(PTRACE_TRACEME, 0, 0, 0));
    show("bpf", syscall(SYS_bpf, 0, NULL, 0));
    show("perf_event_open", syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0));
    show("clone3", syscall(SYS_clone3, NULL, 0));
    return 0;
  }
  if (argc == 2 && strcmp(argv[1], "fds") == 0) {
    DIR* d = opendir("/proc/self/fd");
    if (!d) return perror("/proc/self/fd"), 1;
    struct dirent* e;
    while ((e = readdir(d)))
      if (e->d_name[0] != '.' && atoi(e->d_name) != dirfd(d)) printf("%s ", e->d_name);
    printf("\n");
    closedir(d);
    return 0;
  }
  fprintf(stderr, "usage: probe ids|syscalls|fds\n");
  return 2;
}
