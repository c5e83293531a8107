// Small, checked I/O helpers shared by both programs.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "fd.h"

namespace droot {

// Writes every byte or throws, naming `what` (a file or stream) in the error.
void write_all(int fd, const void* data, size_t size, const std::string& what);
void write_all(int fd, std::string_view data, const std::string& what);
// Reads exactly `size` bytes at `offset` or throws.
void pread_exact(int fd, void* data, size_t size, uint64_t offset, const std::string& what);
// Reads a whole (small) file; refuses files larger than `max_size`.
std::string read_file(const std::string& path, size_t max_size = 1 << 20);
UniqueFd open_or_throw(const std::string& path, int flags, mode_t mode = 0);
uint64_t file_size(int fd, const std::string& what);
void fsync_or_throw(int fd, const std::string& what);
// A read-write file without a name in directory `dir_fd`: O_TMPFILE, or where the filesystem lacks it
// (overlayfs before Linux 6.6, some network filesystems) a file made under a fresh name with O_EXCL and
// unlinked at once — named ".tmp-unnamed-…", which deploy's clean-up of .tmp-* removes should the process die
// in between. Returns an invalid fd with errno set on failure.
UniqueFd open_unnamed(int dir_fd);
// fsyncs the directory holding `path` so a rename into it is durable.
void fsync_parent_dir(const std::string& path);
std::string dirname_of(const std::string& path);
std::string basename_of(const std::string& path);

// A file written under a temporary name next to its destination and renamed into place by commit():
// readers never see a half-written file. Destroyed without commit(), it is unlinked.
class TempFile {
 public:
  explicit TempFile(const std::string& final_path, mode_t mode = 0644);
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  ~TempFile();

  int fd() const { return fd_.get(); }
  const std::string& path() const { return temp_path_; }
  const std::string& final_path() const { return final_path_; }
  // fsync, close, rename over final_path, fsync the directory.
  void commit();
  // Unlink the temporary file now (idempotent).
  void discard();

 private:
  std::string final_path_;
  std::string temp_path_;
  UniqueFd fd_;
  bool done_ = false;
};

}  // namespace droot
