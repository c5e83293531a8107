// abstract listen NAME READY-FILE | abstract connect NAME | abstract landlock-abi
// listen: binds and listens on the abstract unix socket "\0NAME", touches READY-FILE, accepts until killed.
// connect: prints "connected" or "refused: <errno name>" (exit 0 either way; 2 on usage errors).
// landlock-abi: prints the kernel's Landlock ABI version (0 without Landlock).
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

static socklen_t address(const char* name, struct sockaddr_un* a) {
  memset(a, 0, sizeof *a);
  a->sun_family = AF_UNIX;
  size_t n = strlen(name);
  if (n + 1 > sizeof a->sun_path) n = sizeof a->sun_path - 1;
  memcpy(a->sun_path + 1, name, n);  // sun_path[0] == 0: the abstract namespace
  return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
}

int main(int argc, char** argv) {
  if (argc == 2 && strcmp(argv[1], "landlock-abi") == 0) {
    long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, 1U);
    printf("%ld\n", abi < 0 ? 0L : abi);
    return 0;
  }
  if (argc < 3) return 2;
  struct sockaddr_un a;
  socklen_t len = address(argv[2], &a);
  int s = socket(AF_UNIX, SOCK_STREAM, 0);
  if (s < 0) return perror("socket"), 2;
  if (strcmp(argv[1], "listen") == 0 && argc == 4) {
    if (bind(s, (struct sockaddr*)&a, len) < 0 || listen(s, 16) < 0) return perror("bind/listen"), 2;
    int f = open(argv[3], O_WRONLY | O_CREAT, 0644);
    if (f < 0) return perror("ready file"), 2;
    close(f);
    for (;;) {
      int c = accept(s, NULL, NULL);
      if (c >= 0) close(c);
    }
  }
  if (strcmp(argv[1], "connect") == 0) {
    if (connect(s, (struct sockaddr*)&a, len) == 0)
      printf("connected\n");
    else
      printf("refused: %s\n", errno == EPERM ? "EPERM" : errno == ECONNREFUSED ? "ECONNREFUSED" : strerror(errno));
    return 0;
  }
  return 2;
}
