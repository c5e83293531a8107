// A fresh directory under /tmp for one unit test, removed with everything in it afterwards.
#pragma once

#include <fcntl.h>
#include <stdlib.h>

#include <filesystem>
#include <string>

#include "error.h"
#include "fd.h"

namespace droot::testing {

class ScratchDir {
 public:
  ScratchDir() {
    char tmpl[] = "/tmp/droot-unit.XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) throw_errno("mkdtemp");
    path_ = tmpl;
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& rel) const { return path_ + "/" + rel; }

 private:
  std::string path_;
};

// A scratch directory and a descriptor of it, for code that works beneath a directory fd (the unnamed spools
// a deploy keeps in the release being built, io.h open_unnamed).
struct OpenScratchDir {
  ScratchDir dir;
  UniqueFd fd{::open(dir.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
};

}  // namespace droot::testing
