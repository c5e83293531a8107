// `droot-exec run`'s command line as plain data, and the parsers for its small languages (KEY=VAL,
// SRC[:DST], NAME=SOFT[:HARD], byte sizes). Nothing here touches the system, so all of it is unit-tested.
#pragma once

#include <sys/resource.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "userns_range.h"

namespace droot::exec {

struct BindSpec {
  std::string source;  // host path
  std::string dest;    // absolute path inside the rootfs
  bool read_only = false;
};

struct CopySpec {
  std::string source;  // host file
  std::string dest;    // absolute path inside the rootfs
};

struct RlimitSpec {
  int resource = 0;
  std::string name;  // as given, lower case ("nofile")
  rlim_t soft = 0;
  rlim_t hard = 0;
};

enum class NetMode { Host, None };

// -t forces the jail's own pty, --no-tty refuses it; auto gives one to interactive runs (terminal.h).
enum class TtyMode { Auto, Force, Off };

struct RunOptions {
  std::string target;                // DEST (with a `current` link) or a rootfs directory
  std::vector<std::string> command;  // replaces the image's Cmd when not empty
  std::vector<std::string> env;      // -e, validated: "KEY=VAL", or "KEY" to take the host's value
  std::vector<std::string> env_files;
  std::optional<std::string> user;
  std::optional<std::string> workdir;
  std::optional<std::string> entrypoint;  // --entrypoint: replaces the image's (empty: none)
  std::vector<BindSpec> binds;
  std::vector<std::string> tmpfs;
  std::vector<std::string> cap_add;
  std::vector<std::string> cap_drop;
  NetMode net = NetMode::Host;
  std::optional<std::string> hostname;
  bool read_only = false;      // --read-only: the release itself, read-only, no overlay
  bool volatile_root = false;  // --volatile: an overlay whose writes are forgotten at exit (overlay_root.h)
  std::vector<CopySpec> copies;  // default: /etc/resolv.conf and /etc/hosts
  std::optional<uint64_t> memory_bytes;
  std::optional<uint64_t> pids_limit;
  std::optional<uint64_t> cpu_millis;  // --cpus 1.5 → 1500
  std::vector<RlimitSpec> rlimits;
  bool seccomp = true;
  TtyMode tty = TtyMode::Auto;
  UsernsRequest userns;  // --userns, else $DROOT_USERNS, else off (userns_range.h)

  bool wants_cgroup() const { return memory_bytes || pids_limit || cpu_millis; }
};

// argv split at the first positional: options for cxxopts (argv[0] first), the target, and the command.
// A `--` before or right after the target is dropped; everything after the target belongs to the command,
// even words that look like options (`run ROOT sh -c 'echo'`). `target` is empty when there is none.
struct SplitArgs {
  std::vector<std::string> options;
  std::string target;
  std::vector<std::string> command;
};
// `takes_value` says whether a long name ("env") or a one-letter short name ("e") consumes the next word.
SplitArgs split_run_args(int argc, char** argv, const std::function<bool(const std::string&)>& takes_value);

// Each throws Error naming the flag and the bad value.
std::string parse_env_arg(const std::string& arg);  // "KEY=VAL" or "KEY"
BindSpec parse_bind(const std::string& arg, bool read_only, const std::string& flag);
CopySpec parse_copy(const std::string& arg);
std::string parse_inside_path(const std::string& path, const std::string& flag);  // absolute, normalised
uint64_t parse_bytes(const std::string& arg, const std::string& flag);            // 512k, 64m, 1g, 100
uint64_t parse_count(const std::string& arg, const std::string& flag);            // > 0
uint64_t parse_cpus(const std::string& arg);                                      // "1.5" → 1500
RlimitSpec parse_rlimit(const std::string& arg);
NetMode parse_net(const std::string& arg);
bool parse_seccomp(const std::string& arg);

// docker's --env-file: KEY=VAL or KEY lines, '#' comments and blank lines skipped, no quote processing.
std::vector<std::string> parse_env_file(const std::string& text, const std::string& source);

// image Env, then each override in order: KEY=VAL replaces KEY in place or appends; a bare KEY takes
// `host_env(KEY)` or, when the host has none, removes KEY (as `docker run -e KEY` does).
std::vector<std::string> merge_env(std::vector<std::string> env, const std::vector<std::string>& overrides,
                                   const std::function<std::optional<std::string>(const std::string&)>& host_env);
// The value of KEY in a KEY=VAL list, if set.
std::optional<std::string> env_value(const std::vector<std::string>& env, const std::string& key);

}  // namespace droot::exec
