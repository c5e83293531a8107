#include "run_options.h"

#include <doctest/doctest.h>

#include "error.h"

using namespace droot::exec;

namespace {

SplitArgs split(std::vector<std::string> words) {
  std::vector<char*> argv;
  for (auto& w : words) argv.push_back(w.data());
  auto takes = [](const std::string& n) { return n == "e" || n == "env" || n == "u" || n == "bind"; };
  return split_run_args(static_cast<int>(argv.size()), argv.data(), takes);
}

}  // namespace

TEST_CASE("run's argv splits at the target; words after it belong to the command even if they look like options") {
  auto s = split({"run", "-e", "A=1", "--bind=/x:/y", "-uapp", "--read-only", "/srv/app", "sh", "-c", "echo -e"});
  CHECK(s.options == std::vector<std::string>{"run", "-e", "A=1", "--bind=/x:/y", "-uapp", "--read-only"});
  CHECK(s.target == "/srv/app");
  CHECK(s.command == std::vector<std::string>{"sh", "-c", "echo -e"});

  auto t = split({"run", "--env", "X=--not-a-target", "ROOT", "--", "--weird-cmd", "--"});
  CHECK(t.target == "ROOT");
  CHECK(t.command == std::vector<std::string>{"--weird-cmd", "--"});

  CHECK(split({"run", "--", "-dash-dir"}).target == "-dash-dir");
  CHECK(split({"run", "--read-only"}).target.empty());
  CHECK_THROWS_WITH(split({"run", "-e"}), doctest::Contains("-e needs a value"));
}

TEST_CASE("-e takes KEY=VAL or KEY and refuses an empty or blank name") {
  CHECK(parse_env_arg("A=b=c d") == "A=b=c d");
  CHECK(parse_env_arg("HOME") == "HOME");
  CHECK(parse_env_arg("EMPTY=") == "EMPTY=");
  CHECK_THROWS_WITH(parse_env_arg("=x"), doctest::Contains("KEY=VALUE"));
  CHECK_THROWS(parse_env_arg(""));
  CHECK_THROWS(parse_env_arg("A B=1"));
}

TEST_CASE("environment: image Env, then overrides in order; a bare KEY takes the host's value or unsets it") {
  std::vector<std::string> image = {"PATH=/bin", "A=1", "B=2"};
  auto host = [](const std::string& k) -> std::optional<std::string> {
    if (k == "FROM_HOST") return std::string("h v");
    return std::nullopt;
  };
  auto env = merge_env(image, {"A=override", "C=3", "FROM_HOST", "B", "A=again"}, host);
  CHECK(env == std::vector<std::string>{"PATH=/bin", "A=again", "C=3", "FROM_HOST=h v"});
  CHECK(env_value(env, "A") == "again");
  CHECK_FALSE(env_value(env, "B"));
  CHECK_FALSE(env_value(env, "PAT"));
}

TEST_CASE("--env-file: comments and blank lines skipped, values kept byte-exact, bad names refused with the line") {
  auto lines = parse_env_file("# comment\n\nA=1\n  B=x y # not a comment\r\nC\n", "f.env");
  CHECK(lines == std::vector<std::string>{"A=1", "B=x y # not a comment", "C"});
  CHECK_THROWS_WITH(parse_env_file("A=1\n=2\n", "f.env"), doctest::Contains("f.env, line 2"));
}

TEST_CASE("--bind SRC[:DST]: DST defaults to SRC, is absolute and cleaned lexically") {
  auto b = parse_bind("/data", false, "--bind");
  CHECK(b.source == "/data");
  CHECK(b.dest == "/data");
  auto r = parse_bind("/host/x:/srv//./y/../z/", true, "--ro-bind");
  CHECK(r.dest == "/srv/z");
  CHECK(r.read_only);
  CHECK(parse_inside_path("/../../etc", "--tmpfs") == "/etc");
  CHECK_THROWS_WITH(parse_bind("/x:relative", false, "--bind"), doctest::Contains("must be absolute"));
  CHECK_THROWS_WITH(parse_bind("/x:/", false, "--bind"), doctest::Contains("root itself"));
  CHECK_THROWS(parse_bind(":/x", false, "--bind"));
}

TEST_CASE("sizes, counts and CPU quotas") {
  CHECK(parse_bytes("100", "--memory") == 100);
  CHECK(parse_bytes("64m", "--memory") == 64ull << 20);
  CHECK(parse_bytes("2G", "--memory") == 2ull << 30);
  CHECK(parse_bytes("512kb", "--memory") == 512ull << 10);
  CHECK_THROWS_WITH(parse_bytes("12x", "--memory"), doctest::Contains("unknown unit"));
  CHECK_THROWS(parse_bytes("-1", "--memory"));
  CHECK_THROWS(parse_bytes("0", "--memory"));
  CHECK(parse_count("10", "--pids-limit") == 10);
  CHECK_THROWS(parse_count("10k", "--pids-limit"));
  CHECK_THROWS(parse_count("0", "--pids-limit"));
  CHECK(parse_cpus("1.5") == 1500);
  CHECK(parse_cpus("0.25") == 250);
  CHECK_THROWS(parse_cpus("0"));
  CHECK_THROWS(parse_cpus("two"));
}

TEST_CASE("--rlimit NAME=SOFT[:HARD]") {
  auto r = parse_rlimit("nofile=1024:4096");
  CHECK(r.resource == RLIMIT_NOFILE);
  CHECK(r.soft == 1024);
  CHECK(r.hard == 4096);
  auto c = parse_rlimit("RLIMIT_CORE=unlimited");
  CHECK(c.resource == RLIMIT_CORE);
  CHECK(c.soft == RLIM_INFINITY);
  CHECK(c.hard == RLIM_INFINITY);
  CHECK(parse_rlimit("nproc=50").hard == 50);
  CHECK_THROWS_WITH(parse_rlimit("nofiles=1"), doctest::Contains("unknown limit"));
  CHECK_THROWS_WITH(parse_rlimit("nofile=10:5"), doctest::Contains("above the hard"));
  CHECK_THROWS(parse_rlimit("nofile"));
  CHECK_THROWS(parse_rlimit("nofile=1k"));
}

TEST_CASE("--net, --seccomp and --copy") {
  CHECK(parse_net("none") == NetMode::None);
  CHECK_THROWS(parse_net("bridge"));
  CHECK_FALSE(parse_seccomp("none"));
  CHECK_THROWS(parse_seccomp("strict"));
  auto c = parse_copy("/etc/hosts:/etc/hosts.host");
  CHECK(c.dest == "/etc/hosts.host");
  CHECK_THROWS(parse_copy("hosts"));
}
