/* For tests/integration/run_test.sh: what a hostile program in the jail does to the terminal it was given
 * (bubblewrap's CVE-2017-5226). Built statically so it runs in a busybox rootfs.
 *   tiocsti TEXT [REPORT]   pushes TEXT and a newline into the input queue of the terminal on stdin with
 *                           ioctl(TIOCSTI), one byte at a time: on the host's terminal, the host's shell would
 *                           read them as a command line once droot-exec exits. Then tries a harmless
 *                           TIOCLINUX (on a virtual console, its paste types the same way). Prints
 *                           "TIOCSTI=ok|ERRNO" and "TIOCLINUX=ok|ERRNO" to REPORT (default: stdout). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

static const char* errname(int err) {
  switch (err) {
    case EPERM: return "EPERM";
    case EIO: return "EIO";
    case ENOTTY: return "ENOTTY";
    case EINVAL: return "EINVAL";
    case EBADF: return "EBADF";
    default: return strerror(err);
  }
}

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3) {
    fprintf(stderr, "usage: tiocsti TEXT [REPORT]\n");
    return 2;
  }
  FILE* report = stdout;
  if (argc == 3 && !(report = fopen(argv[2], "w"))) return perror(argv[2]), 2;
  int err = 0;
  for (const char* p = argv[1];; ++p) {
    char c = *p ? *p : '\n';
    if (ioctl(0, TIOCSTI, &c) < 0) {
      err = errno;
      break;
    }
    if (!*p) break;
  }
  fprintf(report, "TIOCSTI=%s\n", err ? errname(err) : "ok");
  char subcode = 6; /* TIOCL_GETSHIFTSTATE: reads only */
  fprintf(report, "TIOCLINUX=%s\n", ioctl(0, TIOCLINUX, &subcode) < 0 ? errname(errno) : "ok");
  return fclose(report) == 0 ? 0 : 1;
}
