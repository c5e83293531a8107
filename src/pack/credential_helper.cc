#include "credential_helper.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "error.h"
#include "fd.h"
#include "io.h"
#include "signals.h"

extern char** environ;

namespace droot::pack {
namespace {

constexpr size_t kMaxAnswer = 1 << 20;
// What docker-credential-helpers print (on stdout, exit status 1) when they hold nothing for the server.
constexpr const char* kNotFound = "credentials not found in native keychain";

std::pair<UniqueFd, UniqueFd> make_pipe(const std::string& what) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw_errno("cannot create a pipe for " + what);
  return {UniqueFd(fds[0]), UniqueFd(fds[1])};
}

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

// Waits for the child, retrying on EINTR; returns its wait status.
int wait_child(pid_t pid, const std::string& what) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) throw_errno("waiting for " + what);
  return status;
}

}  // namespace

std::optional<HelperCredentials> run_credential_helper(const std::string& program, const std::string& server) {
  const std::string what = "the credential helper " + program;
  // The server address is far smaller than a pipe buffer: written before the helper starts, stdin is then
  // complete and closed, and a helper that exits without reading it cannot raise SIGPIPE here.
  auto [in_read, in_write] = make_pipe(what);
  write_all(in_write.get(), server + "\n", "the stdin of " + what);
  in_write.reset();
  auto [out_read, out_write] = make_pipe(what);

  posix_spawn_file_actions_t actions;
  if (int err = posix_spawn_file_actions_init(&actions); err != 0) throw_errno("cannot start " + what, err);
  struct ActionsFree {
    posix_spawn_file_actions_t* a;
    ~ActionsFree() { posix_spawn_file_actions_destroy(a); }
  } actions_free{&actions};
  // dup2 clears O_CLOEXEC on the child's 0 and 1; every other descriptor of ours is O_CLOEXEC.
  if (int err = posix_spawn_file_actions_adddup2(&actions, in_read.get(), STDIN_FILENO); err != 0)
    throw_errno("cannot start " + what, err);
  if (int err = posix_spawn_file_actions_adddup2(&actions, out_write.get(), STDOUT_FILENO); err != 0)
    throw_errno("cannot start " + what, err);

  std::string arg0 = program, arg1 = "get";
  char* argv[] = {arg0.data(), arg1.data(), nullptr};
  pid_t pid = 0;
  int err = program.find('/') == std::string::npos
                ? posix_spawnp(&pid, program.c_str(), &actions, nullptr, argv, environ)
                : posix_spawn(&pid, program.c_str(), &actions, nullptr, argv, environ);
  if (err == ENOENT)
    throw Error(what + " is not installed (" + (program.find('/') == std::string::npos ? "not found in PATH" : "no such file") +
                ")");
  if (err != 0) throw_errno("cannot run " + what, err);
  in_read.reset();
  out_write.reset();

  std::string answer;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(out_read.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int e = errno;
      ::kill(pid, SIGKILL);
      wait_child(pid, what);
      throw_errno("reading the answer of " + what, e);
    }
    if (n == 0) break;
    if (answer.size() + static_cast<size_t>(n) > kMaxAnswer) {
      ::kill(pid, SIGKILL);
      wait_child(pid, what);
      throw Error(what + " wrote more than 1 MiB: not a credentials answer");
    }
    answer.append(buf, static_cast<size_t>(n));
  }
  int status = wait_child(pid, what);
  throw_if_interrupted();
  answer = trimmed(answer);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    if (answer == kNotFound) return std::nullopt;
    std::string how = WIFEXITED(status) ? "exit status " + std::to_string(WEXITSTATUS(status))
                                        : "signal " + std::to_string(WTERMSIG(status));
    throw Error(what + " failed for " + server + " (" + how + (answer.empty() ? "" : ": " + answer.substr(0, 300)) + ")");
  }
  auto j = nlohmann::json::parse(answer, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("Secret") || !j["Secret"].is_string())
    throw Error(what + " answered something other than {\"Username\", \"Secret\"} for " + server);
  HelperCredentials c;
  if (auto u = j.find("Username"); u != j.end() && u->is_string()) c.username = u->get<std::string>();
  c.secret = j["Secret"].get<std::string>();
  return c;
}

}  // namespace droot::pack
