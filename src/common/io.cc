#include "io.h"

#include <sys/random.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "error.h"

namespace droot {

void write_all(int fd, const void* data, size_t size, const std::string& what) {
  auto p = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t n = ::write(fd, p, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno("cannot write " + what);
    }
    p += n;
    size -= static_cast<size_t>(n);
  }
}

void write_all(int fd, std::string_view data, const std::string& what) {
  write_all(fd, data.data(), data.size(), what);
}

void pread_exact(int fd, void* data, size_t size, uint64_t offset, const std::string& what) {
  auto p = static_cast<char*>(data);
  while (size > 0) {
    ssize_t n = ::pread(fd, p, size, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno("cannot read " + what);
    }
    if (n == 0) throw Error("cannot read " + what + ": unexpected end of file");
    p += n;
    size -= static_cast<size_t>(n);
    offset += static_cast<uint64_t>(n);
  }
}

UniqueFd open_or_throw(const std::string& path, int flags, mode_t mode) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
  if (fd < 0) throw_errno("cannot open " + path);
  return UniqueFd(fd);
}

std::string read_file(const std::string& path, size_t max_size) {
  UniqueFd fd = open_or_throw(path, O_RDONLY);
  std::string out;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno("cannot read " + path);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > max_size) throw Error(path + ": file is larger than " + std::to_string(max_size) + " bytes");
  }
  return out;
}

uint64_t file_size(int fd, const std::string& what) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw_errno("cannot stat " + what);
  return static_cast<uint64_t>(st.st_size);
}

void fsync_or_throw(int fd, const std::string& what) {
  if (::fsync(fd) != 0) throw_errno("cannot fsync " + what);
}

std::string dirname_of(const std::string& path) {
  auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string basename_of(const std::string& path) {
  auto slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

void fsync_parent_dir(const std::string& path) {
  std::string dir = dirname_of(path);
  UniqueFd fd = open_or_throw(dir, O_RDONLY | O_DIRECTORY);
  fsync_or_throw(fd.get(), "directory " + dir);
}

TempFile::TempFile(const std::string& final_path, mode_t mode) : final_path_(final_path) {
  std::string dir = dirname_of(final_path);
  temp_path_ = dir + "/." + basename_of(final_path) + ".tmp-XXXXXX";
  std::vector<char> name(temp_path_.begin(), temp_path_.end());
  name.push_back('\0');
  int fd = ::mkostemp(name.data(), O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0)
      throw Error("cannot write " + final_path + ": directory " + dir + " does not exist");
    throw_errno("cannot create a temporary file in " + dir + " for " + final_path, err);
  }
  temp_path_.assign(name.data());
  fd_.reset(fd);
  if (::fchmod(fd, mode) != 0) {
    int err = errno;
    discard();
    throw_errno("cannot chmod " + temp_path_, err);
  }
}

TempFile::~TempFile() { discard(); }

void TempFile::discard() {
  if (done_) return;
  done_ = true;
  fd_.reset();
  ::unlink(temp_path_.c_str());
}

void TempFile::commit() {
  fsync_or_throw(fd_.get(), temp_path_);
  if (::close(fd_.release()) != 0) throw_errno("cannot close " + temp_path_);
  if (::rename(temp_path_.c_str(), final_path_.c_str()) != 0) throw_errno("cannot rename " + temp_path_ + " to " + final_path_);
  done_ = true;
  fsync_parent_dir(final_path_);
}

UniqueFd open_unnamed(int dir_fd) {
  int fd = ::openat(dir_fd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd >= 0) return UniqueFd(fd);
  if (errno != EOPNOTSUPP && errno != EISDIR) return UniqueFd();
  for (int attempt = 0; attempt < 10; ++attempt) {
    unsigned char bytes[8];
    if (::getrandom(bytes, sizeof bytes, 0) != static_cast<ssize_t>(sizeof bytes)) return UniqueFd();
    std::string name = ".tmp-unnamed-";
    for (unsigned char b : bytes) name += "0123456789abcdef"[b & 15];
    fd = ::openat(dir_fd, name.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
      if (errno == EEXIST) continue;
      return UniqueFd();
    }
    UniqueFd out(fd);
    if (::unlinkat(dir_fd, name.c_str(), 0) != 0) return UniqueFd();
    return out;
  }
  errno = EEXIST;
  return UniqueFd();
}

}  // namespace droot
