// A fresh directory under /tmp for one unit test, removed with everything in it afterwards.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <string>

#include "error.h"

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

}  // namespace droot::testing
