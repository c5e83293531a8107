#include "run_options.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <map>
#include <utility>

#include "error.h"

namespace droot::exec {

SplitArgs split_run_args(int argc, char** argv, const std::function<bool(const std::string&)>& takes_value) {
  SplitArgs out;
  out.options.push_back(argc > 0 ? argv[0] : "run");
  int i = 1;
  for (; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--") {
      ++i;
      break;
    }
    if (arg.size() < 2 || arg[0] != '-') break;
    out.options.push_back(arg);
    bool needs_next = false;
    if (arg.compare(0, 2, "--") == 0)
      needs_next = arg.find('=') == std::string::npos && takes_value(arg.substr(2));
    else
      needs_next = arg.size() == 2 && takes_value(arg.substr(1, 1));
    if (needs_next) {
      if (i + 1 >= argc) throw Error("run: option " + arg + " needs a value");
      out.options.push_back(argv[++i]);
    }
  }
  if (i >= argc) return out;  // no target: the caller decides (--help needs none)
  out.target = argv[i++];
  if (i < argc && std::strcmp(argv[i], "--") == 0) ++i;
  for (; i < argc; ++i) out.command.push_back(argv[i]);
  return out;
}

namespace {

bool valid_env_key(const std::string& key) {
  if (key.empty()) return false;
  return std::none_of(key.begin(), key.end(), [](unsigned char c) { return c == '\0' || std::isspace(c); });
}

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return {};
  return s.substr(b, s.find_last_not_of(" \t\r") - b + 1);
}

}  // namespace

std::string parse_env_arg(const std::string& arg) {
  std::string key = arg.substr(0, arg.find('='));
  if (!valid_env_key(key))
    throw Error("run: -e '" + arg + "': expected KEY=VALUE or KEY (a non-empty name without spaces)");
  if (arg.find('\0') != std::string::npos) throw Error("run: -e " + key + ": value contains a NUL byte");
  return arg;
}

std::string parse_inside_path(const std::string& path, const std::string& flag) {
  if (path.empty() || path[0] != '/')
    throw Error("run: " + flag + " '" + path + "': the path inside the rootfs must be absolute");
  // Lexical clean-up only; symlinks are resolved later, inside the rootfs.
  std::vector<std::string> parts;
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t slash = path.find('/', pos);
    if (slash == std::string::npos) slash = path.size();
    std::string part = path.substr(pos, slash - pos);
    pos = slash + 1;
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (!parts.empty()) parts.pop_back();
      continue;
    }
    parts.push_back(part);
  }
  std::string out;
  for (const auto& p : parts) out += "/" + p;
  return out.empty() ? "/" : out;
}

BindSpec parse_bind(const std::string& arg, bool read_only, const std::string& flag) {
  size_t colon = arg.find(':');
  BindSpec b;
  b.source = arg.substr(0, colon);
  b.dest = colon == std::string::npos ? b.source : arg.substr(colon + 1);
  b.read_only = read_only;
  if (b.source.empty()) throw Error("run: " + flag + " '" + arg + "': empty source path");
  b.dest = parse_inside_path(b.dest, flag);
  if (b.dest == "/") throw Error("run: " + flag + " '" + arg + "': cannot bind over the root itself");
  return b;
}

CopySpec parse_copy(const std::string& arg) {
  size_t colon = arg.find(':');
  CopySpec c;
  c.source = arg.substr(0, colon);
  if (c.source.empty() || c.source[0] != '/') throw Error("run: --copy '" + arg + "': the host file must be absolute");
  c.dest = parse_inside_path(colon == std::string::npos ? c.source : arg.substr(colon + 1), "--copy");
  return c;
}

namespace {
// The unsigned decimal number at the start of `arg` and how many characters it took; 0 characters when
// there is none (stoull alone would accept a sign or leading blanks).
std::pair<unsigned long long, size_t> leading_number(const std::string& arg) {
  if (arg.empty() || !std::isdigit(static_cast<unsigned char>(arg[0]))) return {0, 0};
  try {
    size_t used = 0;
    unsigned long long n = std::stoull(arg, &used);
    return {n, used};
  } catch (const std::exception&) {
    return {0, 0};
  }
}
}  // namespace

uint64_t parse_bytes(const std::string& arg, const std::string& flag) {
  auto [n, used] = leading_number(arg);
  if (used == 0) throw Error("run: " + flag + " '" + arg + "': expected a size such as 512k, 64m or 2g");
  std::string suffix = arg.substr(used);
  std::transform(suffix.begin(), suffix.end(), suffix.begin(), [](unsigned char c) { return std::tolower(c); });
  if (!suffix.empty() && suffix.back() == 'b' && suffix.size() == 2) suffix.pop_back();
  static const std::map<std::string, int> shifts = {{"", 0}, {"b", 0}, {"k", 10}, {"m", 20}, {"g", 30}, {"t", 40}};
  auto it = shifts.find(suffix);
  if (it == shifts.end()) throw Error("run: " + flag + " '" + arg + "': unknown unit (use b, k, m, g or t)");
  if (n == 0) throw Error("run: " + flag + " '" + arg + "': must be more than zero");
  if (it->second > 0 && n > (UINT64_MAX >> it->second)) throw Error("run: " + flag + " '" + arg + "': too large");
  return static_cast<uint64_t>(n) << it->second;
}

uint64_t parse_count(const std::string& arg, const std::string& flag) {
  auto [n, used] = leading_number(arg);
  if (used == 0 || used != arg.size() || n == 0)
    throw Error("run: " + flag + " '" + arg + "': expected a whole number greater than zero");
  return n;
}

uint64_t parse_cpus(const std::string& arg) {
  size_t used = 0;
  double x = 0;
  try {
    x = std::stod(arg, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != arg.size() || !std::isfinite(x) || x < 0.01 || x > 100000)
    throw Error("run: --cpus '" + arg + "': expected a number of CPUs such as 0.5 or 2 (at least 0.01)");
  // Rounded by hand, not with llround(3): that is the only libm function droot-exec would call, and every
  // start-up would load libm for it.
  return static_cast<uint64_t>(x * 1000 + 0.5);
}

namespace {

const std::map<std::string, int>& rlimit_names() {
  static const std::map<std::string, int> names = {
      {"as", RLIMIT_AS},         {"core", RLIMIT_CORE},       {"cpu", RLIMIT_CPU},
      {"data", RLIMIT_DATA},     {"fsize", RLIMIT_FSIZE},     {"locks", RLIMIT_LOCKS},
      {"memlock", RLIMIT_MEMLOCK}, {"msgqueue", RLIMIT_MSGQUEUE}, {"nice", RLIMIT_NICE},
      {"nofile", RLIMIT_NOFILE}, {"nproc", RLIMIT_NPROC},     {"rss", RLIMIT_RSS},
      {"rtprio", RLIMIT_RTPRIO}, {"rttime", RLIMIT_RTTIME},   {"sigpending", RLIMIT_SIGPENDING},
      {"stack", RLIMIT_STACK}};
  return names;
}

rlim_t parse_rlimit_value(const std::string& text, const std::string& arg) {
  if (text == "unlimited" || text == "-1") return RLIM_INFINITY;
  size_t used = 0;
  unsigned long long n = 0;
  try {
    if (text.empty() || !std::isdigit(static_cast<unsigned char>(text[0]))) throw std::invalid_argument(text);
    n = std::stoull(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text.size())
    throw Error("run: --rlimit '" + arg + "': '" + text + "' is not a number or 'unlimited'");
  return static_cast<rlim_t>(n);
}

}  // namespace

RlimitSpec parse_rlimit(const std::string& arg) {
  size_t eq = arg.find('=');
  if (eq == std::string::npos) throw Error("run: --rlimit '" + arg + "': expected NAME=SOFT[:HARD], e.g. nofile=1024:4096");
  RlimitSpec r;
  r.name = arg.substr(0, eq);
  std::transform(r.name.begin(), r.name.end(), r.name.begin(), [](unsigned char c) { return std::tolower(c); });
  if (r.name.rfind("rlimit_", 0) == 0) r.name = r.name.substr(7);
  auto it = rlimit_names().find(r.name);
  if (it == rlimit_names().end()) {
    std::string known;
    for (const auto& [name, _] : rlimit_names()) known += (known.empty() ? "" : ", ") + name;
    throw Error("run: --rlimit '" + arg + "': unknown limit '" + r.name + "' (known: " + known + ")");
  }
  r.resource = it->second;
  std::string values = arg.substr(eq + 1);
  size_t colon = values.find(':');
  r.soft = parse_rlimit_value(values.substr(0, colon), arg);
  r.hard = colon == std::string::npos ? r.soft : parse_rlimit_value(values.substr(colon + 1), arg);
  if (r.soft > r.hard) throw Error("run: --rlimit '" + arg + "': the soft limit is above the hard limit");
  return r;
}

NetMode parse_net(const std::string& arg) {
  if (arg == "host") return NetMode::Host;
  if (arg == "none") return NetMode::None;
  throw Error("run: --net '" + arg + "': expected host or none");
}

bool parse_seccomp(const std::string& arg) {
  if (arg == "default") return true;
  if (arg == "none") return false;
  throw Error("run: --seccomp '" + arg + "': expected default or none");
}

std::vector<std::string> parse_env_file(const std::string& text, const std::string& source) {
  std::vector<std::string> out;
  size_t pos = 0;
  int line_no = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    std::string line = text.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
    pos = nl == std::string::npos ? text.size() : nl + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    std::string stripped = trim(line);
    if (stripped.empty() || stripped[0] == '#') continue;
    // Leading blanks before the name are dropped (docker does the same); the value is kept byte-exact.
    std::string entry = line.substr(line.find_first_not_of(" \t"));
    std::string key = entry.substr(0, entry.find('='));
    if (!valid_env_key(key))
      throw Error("run: --env-file " + source + ", line " + std::to_string(line_no) +
                  ": expected KEY=VALUE or KEY (a non-empty name without spaces)");
    out.push_back(entry);
  }
  return out;
}

std::vector<std::string> merge_env(std::vector<std::string> env, const std::vector<std::string>& overrides,
                                   const std::function<std::optional<std::string>(const std::string&)>& host_env) {
  auto find = [&](const std::string& key) {
    return std::find_if(env.begin(), env.end(),
                        [&](const std::string& kv) { return kv.compare(0, key.size() + 1, key + "=") == 0; });
  };
  for (const std::string& item : overrides) {
    size_t eq = item.find('=');
    std::string key = item.substr(0, eq);
    std::optional<std::string> kv;
    if (eq != std::string::npos)
      kv = item;
    else if (auto v = host_env(key))
      kv = key + "=" + *v;
    auto it = find(key);
    if (kv && it != env.end())
      *it = *kv;
    else if (kv)
      env.push_back(*kv);
    else if (it != env.end())
      env.erase(it);
  }
  return env;
}

std::optional<std::string> env_value(const std::vector<std::string>& env, const std::string& key) {
  for (const auto& kv : env)
    if (kv.compare(0, key.size() + 1, key + "=") == 0) return kv.substr(key.size() + 1);
  return std::nullopt;
}

}  // namespace droot::exec
