// Errors carry their context up to one place in main(), which prints "droot-…: error: <what>".
#pragma once

#include <cerrno>
#include <stdexcept>
#include <string>

namespace droot {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

// Thrown when SIGINT/SIGTERM asked us to stop; main() turns it into exit status 128+signal.
class Interrupted : public Error {
 public:
  explicit Interrupted(int signal) : Error("interrupted by signal " + std::to_string(signal)), signal_(signal) {}
  int signal() const { return signal_; }

 private:
  int signal_;
};

std::string errno_text(int err);

// Throws Error("<what>: <strerror(errno)>").
[[noreturn]] void throw_errno(const std::string& what);
[[noreturn]] void throw_errno(const std::string& what, int err);

}  // namespace droot
