#include "registry_auth.h"

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "base64.h"
#include "error.h"
#include "image_ref.h"

using namespace droot::pack;
using nlohmann::json;

namespace {

// A helper runner that must not be called: the lookup should have been answered from auths.
std::optional<HelperCredentials> no_helper(const std::string& program, const std::string&) {
  FAIL("unexpected credential helper " << program);
  return std::nullopt;
}

json decode_header(const std::string& header) {
  std::string std64 = header;
  for (auto& c : std64) c = c == '-' ? '+' : c == '_' ? '/' : c;
  auto text = base64_decode(std64);
  REQUIRE(text);
  return json::parse(*text);
}

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/droot-auth-test.XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~TempDir() { std::system(("rm -rf '" + path + "'").c_str()); }
  std::string write(const std::string& name, const std::string& text, mode_t mode = 0644) {
    std::string p = path + "/" + name;
    std::ofstream(p) << text;
    ::chmod(p.c_str(), mode);
    return p;
  }
};

}  // namespace

TEST_CASE("base64 round-trips and refuses what Go's StdEncoding refuses") {
  CHECK(base64_encode("user:pass") == "dXNlcjpwYXNz");
  CHECK(base64_encode("") == "");
  CHECK(base64_encode("a") == "YQ==");
  CHECK(base64_decode("YQ==") == std::optional<std::string>("a"));
  CHECK(base64_decode("YWI=") == std::optional<std::string>("ab"));
  CHECK(base64_decode("dXNlcjpwYXNz") == std::optional<std::string>("user:pass"));
  CHECK_FALSE(base64_decode("YQ="));     // length
  CHECK_FALSE(base64_decode("Y===="));   // padding
  CHECK_FALSE(base64_decode("YQ==YQ==")); // data after padding
  CHECK_FALSE(base64_decode("dXNl*jpw"));
  // URL-safe alphabet where standard has + and /
  CHECK(base64_encode("\xfb\xff") == "+/8=");
  CHECK(base64url_encode("\xfb\xff") == "-_8=");
}

TEST_CASE("config.json: the docker CLI's config directory") {
  CHECK(docker_config_path({{"DOCKER_CONFIG", "/ci/docker"}, {"HOME", "/home/u"}}) == "/ci/docker/config.json");
  CHECK(docker_config_path({{"HOME", "/home/u"}}) == "/home/u/.docker/config.json");
  CHECK(docker_config_path({{"DOCKER_CONFIG", ""}, {"HOME", "/home/u"}}) == "/home/u/.docker/config.json");
}

TEST_CASE("config.json: auths entries") {
  json config = {{"auths",
                  {{"127.0.0.1:5000", {{"auth", base64_encode("alice:s3cr:et")}}},
                   {"https://index.docker.io/v1/", {{"auth", base64_encode("hubuser:hubpass")}}},
                   {"https://old.example.com/v1/", {{"auth", base64_encode("old:pw")}}},
                   {"tok.example.com", {{"identitytoken", "refresh-token"}}},
                   {"empty.example.com", json::object()}}}};
  SUBCASE("exact key; the password may contain ':'") {
    auto c = lookup_credentials(config, "cfg", "127.0.0.1:5000", no_helper);
    REQUIRE(c);
    CHECK(c->username == "alice");
    CHECK(c->password == "s3cr:et");
    CHECK(c->server == "127.0.0.1:5000");
    CHECK(c->source == "cfg");
  }
  SUBCASE("Docker Hub is keyed by its v1 URL") {
    auto c = lookup_credentials(config, "cfg", kDockerHubAuthServer, no_helper);
    REQUIRE(c);
    CHECK(c->username == "hubuser");
    CHECK_FALSE(lookup_credentials(config, "cfg", "docker.io", no_helper));
  }
  SUBCASE("a URL key matches its host name, as in old config files") {
    auto c = lookup_credentials(config, "cfg", "old.example.com", no_helper);
    REQUIRE(c);
    CHECK(c->password == "pw");
  }
  SUBCASE("an identity token") {
    auto c = lookup_credentials(config, "cfg", "tok.example.com", no_helper);
    REQUIRE(c);
    CHECK(c->identity_token == "refresh-token");
    CHECK(c->username.empty());
  }
  SUBCASE("unknown registries and empty entries give nothing") {
    CHECK_FALSE(lookup_credentials(config, "cfg", "other.example.com", no_helper));
    CHECK_FALSE(lookup_credentials(config, "cfg", "empty.example.com", no_helper));
    CHECK_FALSE(lookup_credentials(json::object(), "cfg", "127.0.0.1:5000", no_helper));
  }
  SUBCASE("a malformed auth is an error naming the file and the key") {
    json bad = {{"auths", {{"r.example.com", {{"auth", "bm9jb2xvbg=="}}}}}};  // "nocolon"
    CHECK_THROWS_WITH_AS(lookup_credentials(bad, "/x/config.json", "r.example.com", no_helper),
                         doctest::Contains("/x/config.json: auths[\"r.example.com\"].auth"), droot::Error);
    json garbage = {{"auths", {{"r.example.com", {{"auth", "***"}}}}}};
    CHECK_THROWS_AS(lookup_credentials(garbage, "cfg", "r.example.com", no_helper), droot::Error);
  }
}

TEST_CASE("config.json: credential helpers come first and their answer is final") {
  json config = {{"credHelpers", {{"reg.example.com", "ecr-login"}}},
                 {"credsStore", "pass"},
                 {"auths", {{"reg.example.com", {{"auth", base64_encode("file:pw")}}},
                            {"other.example.com", {{"auth", base64_encode("file:pw")}}}}}};
  std::vector<std::pair<std::string, std::string>> calls;
  auto helper = [&](const std::string& program, const std::string& server) -> std::optional<HelperCredentials> {
    calls.emplace_back(program, server);
    if (server == "reg.example.com") return HelperCredentials{"AWS", "ecr-password"};
    if (server == "tok.example.com") return HelperCredentials{"<token>", "oauth-refresh"};
    return std::nullopt;
  };
  auto c = lookup_credentials(config, "cfg", "reg.example.com", helper);
  REQUIRE(c);
  CHECK(c->username == "AWS");
  CHECK(c->password == "ecr-password");
  CHECK(c->source == "docker-credential-ecr-login");
  auto t = lookup_credentials(config, "cfg", "tok.example.com", helper);
  REQUIRE(t);
  CHECK(t->identity_token == "oauth-refresh");
  CHECK(t->username.empty());
  // credsStore covers every other registry, and "not found" there is not overridden by auths
  CHECK_FALSE(lookup_credentials(config, "cfg", "other.example.com", helper));
  REQUIRE(calls.size() == 3);
  CHECK(calls[0] == std::make_pair(std::string("docker-credential-ecr-login"), std::string("reg.example.com")));
  CHECK(calls[2] == std::make_pair(std::string("docker-credential-pass"), std::string("other.example.com")));

  json evil = {{"credsStore", "../../bin/sh"}};
  CHECK_THROWS_WITH_AS(lookup_credentials(evil, "cfg", "x", helper), doctest::Contains("not a credential helper name"),
                       droot::Error);
}

TEST_CASE("X-Registry-Auth is base64url of the JSON the Engine expects") {
  RegistryCredentials c;
  c.server = "127.0.0.1:5000";
  c.username = "alice";
  c.password = "p?>>";  // encodes to characters that differ between the two alphabets
  std::string header = encode_registry_auth(c);
  CHECK(header.find_first_of("+/") == std::string::npos);
  json j = decode_header(header);
  CHECK(j == json{{"username", "alice"}, {"password", "p?>>"}, {"serveraddress", "127.0.0.1:5000"}});

  RegistryCredentials t;
  t.server = kDockerHubAuthServer;
  t.identity_token = "tok";
  t.username = "ignored";
  CHECK(decode_header(encode_registry_auth(t)) ==
        json{{"identitytoken", "tok"}, {"serveraddress", "https://index.docker.io/v1/"}});
}

TEST_CASE("credential helpers run as the docker CLI runs them") {
  TempDir dir;
  // Echoes what it was asked, so the test sees argv[1] and stdin.
  std::string ok = dir.write("docker-credential-ok",
                             "#!/bin/sh\nread -r server\n"
                             "printf '{\"ServerURL\":\"%s\",\"Username\":\"%s\",\"Secret\":\"pw-for-%s\"}\\n' \"$server\" \"$1\" \"$server\"\n",
                             0755);
  auto c = run_credential_helper(ok, "reg.example.com:5000");
  REQUIRE(c);
  CHECK(c->username == "get");
  CHECK(c->secret == "pw-for-reg.example.com:5000");

  std::string none = dir.write("docker-credential-none",
                               "#!/bin/sh\necho 'credentials not found in native keychain'\nexit 1\n", 0755);
  CHECK_FALSE(run_credential_helper(none, "reg.example.com"));

  std::string broken = dir.write("docker-credential-broken", "#!/bin/sh\necho 'gpg: decryption failed'\nexit 3\n", 0755);
  CHECK_THROWS_WITH_AS(run_credential_helper(broken, "reg.example.com"),
                       doctest::Contains("failed for reg.example.com (exit status 3: gpg: decryption failed)"), droot::Error);

  std::string garbage = dir.write("docker-credential-garbage", "#!/bin/sh\necho hello\n", 0755);
  CHECK_THROWS_WITH_AS(run_credential_helper(garbage, "r"), doctest::Contains("answered something other than"),
                       droot::Error);

  // A helper that exits without reading stdin must not take droot-pack down with SIGPIPE.
  std::string deaf = dir.write("docker-credential-deaf", "#!/bin/sh\nexec >&-\nexit 1\n", 0755);
  CHECK_THROWS_AS(run_credential_helper(deaf, "r"), droot::Error);

  CHECK_THROWS_WITH_AS(run_credential_helper(dir.path + "/docker-credential-missing", "r"),
                       doctest::Contains("is not installed"), droot::Error);
  CHECK_THROWS_WITH_AS(run_credential_helper("docker-credential-droot-surely-missing", "r"),
                       doctest::Contains("not found in PATH"), droot::Error);
}

TEST_CASE("load_credentials: no config file is no credentials; a broken one is an error naming it") {
  TempDir dir;
  CHECK_FALSE(load_credentials(dir.path + "/absent/config.json", "r"));
  std::string bad = dir.write("config.json", "{not json");
  std::string expected = bad + " is not valid JSON";
  CHECK_THROWS_WITH_AS(load_credentials(bad, "r"), doctest::Contains(expected.c_str()), droot::Error);
  std::string good = dir.write("good.json", json{{"auths", {{"r", {{"auth", base64_encode("u:p")}}}}}}.dump());
  auto c = load_credentials(good, "r");
  REQUIRE(c);
  CHECK(c->source == good);
  CHECK(c->password == "p");
}
