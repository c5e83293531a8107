#include "image_pull.h"

#include <doctest/doctest.h>

#include "error.h"

using namespace droot::pack;

namespace {

// What dockerd 20.10 sends for `docker pull 127.0.0.1:5000/app:1` with one new and one existing layer.
const char* kPull =
    "{\"status\":\"Pulling from app\",\"id\":\"1\"}\r\n"
    "{\"status\":\"Pulling fs layer\",\"progressDetail\":{},\"id\":\"aaaa\"}\r\n"
    "{\"status\":\"Already exists\",\"progressDetail\":{},\"id\":\"bbbb\"}\r\n"
    "{\"status\":\"Downloading\",\"progressDetail\":{\"current\":1024,\"total\":4096},\"progress\":\"[==>  ]\",\"id\":\"aaaa\"}\r\n";
const char* kPullEnd =
    "{\"status\":\"Verifying Checksum\",\"progressDetail\":{},\"id\":\"aaaa\"}\r\n"
    "{\"status\":\"Download complete\",\"progressDetail\":{},\"id\":\"aaaa\"}\r\n"
    "{\"status\":\"Extracting\",\"progressDetail\":{\"current\":4096,\"total\":4096},\"id\":\"aaaa\"}\r\n"
    "{\"status\":\"Pull complete\",\"progressDetail\":{},\"id\":\"aaaa\"}\r\n"
    "{\"status\":\"Digest: sha256:0123\"}\r\n"
    "{\"status\":\"Status: Downloaded newer image for 127.0.0.1:5000/app:1\"}\r\n";

void feed_bytewise(PullStream& s, const std::string& text) {
  for (char c : text) s.feed(&c, 1);
}

}  // namespace

TEST_CASE("--pull values") {
  CHECK(parse_pull_policy("missing") == PullPolicy::missing);
  CHECK(parse_pull_policy("always") == PullPolicy::always);
  CHECK_THROWS_WITH_AS(parse_pull_policy("never"), doctest::Contains("--pull=never"), droot::Error);
  CHECK_THROWS_AS(parse_pull_policy(""), droot::Error);
}

TEST_CASE("the pull progress stream becomes layer and byte counts, whatever the chunking") {
  for (bool bytewise : {false, true}) {
    PullStream s;
    CHECK(s.summary() == "asking the registry");
    if (bytewise) feed_bytewise(s, kPull);
    else s.feed(kPull, std::string(kPull).size());
    CHECK(s.layers() == 2);  // the tag's "Pulling from" line is not a layer
    CHECK(s.layers_done() == 1);
    CHECK(s.bytes_downloaded() == 1024);
    CHECK(s.bytes_total() == 4096);
    CHECK(s.summary() == "1/2 layers, 1.0 KiB of 4.0 KiB");
    if (bytewise) feed_bytewise(s, kPullEnd);
    else s.feed(kPullEnd, std::string(kPullEnd).size());
    s.finish();
    CHECK(s.layers_done() == 2);
    CHECK(s.bytes_downloaded() == 4096);
    CHECK(s.digest() == "sha256:0123");
    CHECK(s.status() == "Downloaded newer image for 127.0.0.1:5000/app:1");
    CHECK(s.error().empty());
  }
}

TEST_CASE("an error in the stream is kept, errorDetail first") {
  PullStream s;
  std::string text =
      "{\"status\":\"Pulling from app\",\"id\":\"nope\"}\n"
      "{\"errorDetail\":{\"message\":\"manifest for r/app:nope not found: manifest unknown\"},\"error\":\"short\"}\n"
      "{\"error\":\"a later error\"}\n";
  s.feed(text.data(), text.size());
  CHECK(s.error() == "manifest for r/app:nope not found: manifest unknown");

  PullStream only_error;
  std::string e = "{\"error\":\"unauthorized: authentication required\"}";  // no final newline
  only_error.feed(e.data(), e.size());
  CHECK(only_error.error().empty());
  only_error.finish();
  CHECK(only_error.error() == "unauthorized: authentication required");
}

TEST_CASE("garbage and over-long lines neither crash nor grow memory") {
  PullStream s;
  std::string junk = "not json\n[1,2]\n{\"status\":5,\"id\":\"x\"}\n{\"status\":\"Downloading\",\"id\":\"L\",\"progressDetail\":{\"current\":-1,\"total\":\"x\"}}\n";
  s.feed(junk.data(), junk.size());
  CHECK(s.error().empty());
  CHECK(s.layers() == 1);
  CHECK(s.bytes_total() == 0);
  // A 10 MiB line without a newline: cut, and an error that began it is still reported.
  std::string big = "{\"error\":\"" + std::string(10 << 20, 'x');
  for (size_t off = 0; off < big.size(); off += 1 << 16) s.feed(big.data() + off, std::min<size_t>(1 << 16, big.size() - off));
  s.feed("\"}\n", 3);
  s.finish();
  CHECK(s.error().size() == 300);
  CHECK(s.error().rfind("{\"error\":\"xxx", 0) == 0);
}
