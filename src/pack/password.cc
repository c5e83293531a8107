#include "password.h"

#include <fcntl.h>
#include <termios.h>
#include <unistd.h>

#include <cstdlib>

#include "error.h"
#include "fd.h"
#include "io.h"

namespace droot::pack {
namespace {

std::string prompt_once(int tty, const std::string& prompt) {
  write_all(tty, prompt, "/dev/tty");
  termios saved {};
  bool restore = ::tcgetattr(tty, &saved) == 0;
  if (restore) {
    termios quiet = saved;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    ::tcsetattr(tty, TCSAFLUSH, &quiet);
  }
  std::string line;
  char c;
  while (::read(tty, &c, 1) == 1 && c != '\n') line.push_back(c);
  if (restore) ::tcsetattr(tty, TCSAFLUSH, &saved);
  write_all(tty, "\n", "/dev/tty");
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

}  // namespace

std::string read_password(const std::string& purpose, bool confirm) {
  if (const char* env = std::getenv("DROOT_KEY_PASSWORD"); env != nullptr) return env;
  int fd = ::open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
  if (fd < 0)
    throw Error(purpose + " needs a password and there is no terminal to ask on: set DROOT_KEY_PASSWORD" +
                (confirm ? std::string(", or use --no-password") : std::string()));
  UniqueFd tty(fd);
  std::string pw = prompt_once(tty.get(), "Password for " + purpose + ": ");
  if (confirm) {
    if (pw.empty()) throw Error("empty password (use --no-password for a key without one)");
    if (prompt_once(tty.get(), "Password again: ") != pw) throw Error("the two passwords differ");
  }
  return pw;
}

}  // namespace droot::pack
