// `droot-exec run`'s small languages: -e/--env-file, --bind/--ro-bind/--copy, paths inside the rootfs,
// --memory sizes, --pids-limit, --cpus, --rlimit, --net, --seccomp and the argv split. The first byte picks the
// parser (a letter in the corpus files, any other byte by its value), the rest is the argument. Whatever the
// bytes, each parser throws droot::Error or gives a value with the properties `run` relies on.
#include <sys/resource.h>

#include <optional>
#include <string>
#include <vector>

#include "error.h"
#include "fuzz_check.h"
#include "run_options.h"

using namespace droot;
using namespace droot::exec;

namespace {

// Absolute, no empty, "." or ".." component, no trailing slash (but "/"), and a fixed point.
void check_inside_path(const std::string& p) {
  FUZZ_CHECK(!p.empty() && p[0] == '/');
  FUZZ_CHECK(p == "/" || p.back() != '/');
  FUZZ_CHECK(p.find("//") == std::string::npos);
  FUZZ_CHECK(p.find("/./") == std::string::npos && p.find("/../") == std::string::npos);
  FUZZ_CHECK(p.size() < 2 || (p.compare(p.size() - 2, 2, "/.") != 0 && (p.size() < 3 || p.compare(p.size() - 3, 3, "/..") != 0)));
  FUZZ_CHECK(parse_inside_path(p, "--check") == p);
}

bool valid_key(const std::string& key) {
  return !key.empty() && key.find_first_of(std::string(" \t\n\v\f\r\0", 7)) == std::string::npos;
}

void one(char which, const std::string& arg) {
  switch (which) {
    case 'e': {
      std::string e = parse_env_arg(arg);
      FUZZ_CHECK(e == arg && valid_key(e.substr(0, e.find('='))));
      break;
    }
    case 'b': {
      BindSpec b = parse_bind(arg, arg.size() % 2 == 0, "--bind");
      FUZZ_CHECK(!b.source.empty() && b.dest != "/");
      check_inside_path(b.dest);
      break;
    }
    case 'c': {
      CopySpec c = parse_copy(arg);
      FUZZ_CHECK(!c.source.empty() && c.source[0] == '/');
      check_inside_path(c.dest);
      break;
    }
    case 'p':
      check_inside_path(parse_inside_path(arg, "--workdir"));
      break;
    case 's': {
      uint64_t n = parse_bytes(arg, "--memory");
      FUZZ_CHECK(n > 0);
      break;
    }
    case 'n': {
      uint64_t n = parse_count(arg, "--pids-limit");
      FUZZ_CHECK(n > 0 && arg.find_first_not_of("0123456789") == std::string::npos);
      break;
    }
    case 'u': {
      uint64_t m = parse_cpus(arg);
      FUZZ_CHECK(m >= 10 && m <= 100000000);
      break;
    }
    case 'r': {
      RlimitSpec r = parse_rlimit(arg);
      FUZZ_CHECK(r.soft <= r.hard && r.resource >= 0 && r.resource < RLIM_NLIMITS);
      break;
    }
    case 'f': {
      auto env = parse_env_file(arg, "fuzz.env");
      for (const auto& kv : env) {
        FUZZ_CHECK(kv.find('\n') == std::string::npos && valid_key(kv.substr(0, kv.find('='))));
        FUZZ_CHECK(parse_env_arg(kv) == kv);
      }
      // Overriding an empty image Env with valid entries: each key appears once, its last value wins.
      auto merged = merge_env({}, env, [](const std::string&) { return std::optional<std::string>(); });
      for (size_t i = 0; i < merged.size(); ++i) {
        const std::string key = merged[i].substr(0, merged[i].find('='));
        for (size_t j = i + 1; j < merged.size(); ++j) FUZZ_CHECK(merged[j].substr(0, merged[j].find('=')) != key);
        FUZZ_CHECK(env_value(merged, key).has_value());
      }
      FUZZ_CHECK(merged.size() <= env.size());
      break;
    }
    case 'a': {
      // argv words separated by NUL; options that take a value: the long names and -e/-u/-w/-v.
      std::vector<std::string> words{"run"};
      size_t pos = 0;
      while (pos <= arg.size()) {
        size_t nul = arg.find('\0', pos);
        words.push_back(arg.substr(pos, nul == std::string::npos ? std::string::npos : nul - pos));
        if (nul == std::string::npos) break;
        pos = nul + 1;
      }
      std::vector<char*> argv;
      for (auto& w : words) argv.push_back(w.data());
      argv.push_back(nullptr);
      SplitArgs s = split_run_args(static_cast<int>(words.size()), argv.data(), [](const std::string& name) {
        return name == "env" || name == "user" || name == "workdir" || name == "bind" || name == "e" || name == "u" ||
               name == "w" || name == "v";
      });
      FUZZ_CHECK(!s.options.empty() && s.options[0] == "run");
      FUZZ_CHECK(s.options.size() + s.command.size() + (s.target.empty() ? 0 : 1) <= words.size());
      break;
    }
    case 'x':
      (void)parse_net(arg);
      (void)parse_seccomp(arg);
      break;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  droot::fuzz::Input in(data, size);
  static const char kParsers[] = "ebcpsnurfax";
  uint8_t b = in.byte();
  char which = static_cast<char>(b);
  if (std::string_view(kParsers).find(which) == std::string_view::npos) which = kParsers[b % (sizeof kParsers - 1)];
  try {
    one(which, in.rest());
  } catch (const Error&) {
  }
  return 0;
}
