#include "engine_messages.h"

#include <doctest/doctest.h>

#include "error.h"

using namespace droot;
using namespace droot::pack;

// Regressions from tests/fuzz/engine_fuzz.cc: what a hostile Engine sends ends up in droot-pack's one-line error.
TEST_CASE("the Engine's message is one printable, bounded line however the Engine writes it") {
  CHECK(engine_message("{\"message\":\"line one\\nline two\\u001b[31m\"}") == "line one line two [31m");
  CHECK(engine_message("pfie '5\x01\x7f\xe2\n") == "pfie '5  \xe2");  // DEL too; UTF-8 bytes kept
  const std::string huge = engine_message("{\"message\":\"" + std::string(5000, 'x') + "\"}");
  CHECK(huge.size() == 1003);
  CHECK(huge.substr(1000) == "...");
  CHECK(engine_message("{\"message\":\"\"}") == "{\"message\":\"\"}");  // an empty message shows the body
}

TEST_CASE("header lines: lower-case names, values without the surrounding blanks and line end") {
  std::map<std::string, std::string> h;
  add_header_line("HTTP/1.1 200 OK\r\n", h);
  add_header_line("Api-Version:  1.41 \r\n", h);
  add_header_line("\r\n", h);
  CHECK(h.size() == 1);
  CHECK(h["api-version"] == "1.41");
}

TEST_CASE("the API version: the lower of the daemon's and ours, never below the oldest") {
  CHECK(choose_api_version("1.41", "", "e") == "1.41");
  CHECK(choose_api_version("1.99", "", "e") == kNewestApiVersion);
  CHECK(choose_api_version("", "", "e") == kOldestApiVersion);
  CHECK(choose_api_version("1.12", "1.30", "e") == "1.30");
  CHECK_THROWS_WITH_AS(choose_api_version("1.12", "", "e"), doctest::Contains("speaks API 1.12"), Error);
  CHECK_THROWS_WITH_AS(choose_api_version("1.41", "1.2", "e"), doctest::Contains("DOCKER_API_VERSION=1.2"), Error);
}

TEST_CASE("an inspect answer with fields of the wrong type is the Engine's error, not a JSON library exception") {
  // Before: image_info_from's json::value() threw nlohmann's type_error ("type must be string, but is number").
  for (const char* body : {R"({"Id":"sha256:a","Created":5})", R"({"Id":"sha256:a","Os":[]})",
                           R"({"Id":"sha256:a","Architecture":{}})", R"({"Id":"sha256:a","RepoDigests":"x"})",
                           R"({"Id":"sha256:a","Size":"big"})"})
    CHECK_THROWS_WITH_AS(parse_inspect_answer(body, "inspect image x: the Engine at E"),
                         doctest::Contains("the Engine at E sent malformed JSON ("), Error);
  CHECK_THROWS_WITH_AS(parse_inspect_answer("[1]", "inspect image x: the Engine at E"),
                       "inspect image x: the Engine at E sent malformed JSON", Error);
}

TEST_CASE("an inspect answer whose Config droot-exec would refuse is refused by droot-pack") {
  // Before: packed into config.json as is, and every server then refused the artifact at run time.
  for (const char* body : {R"({"Id":"sha256:a","Config":"none"})", R"({"Id":"sha256:a","Config":{"Env":[1]}})",
                           R"({"Id":"sha256:a","Config":{"Cmd":"sh"}})", R"({"Id":"sha256:a","Config":{"User":0}})"})
    CHECK_THROWS_WITH_AS(parse_inspect_answer(body, "inspect image x: the Engine at E"),
                         doctest::Contains("sent an image Config that droot-exec could not read"), Error);
}

TEST_CASE("a well-formed inspect answer gives the image fields, null fields read as absent") {
  auto j = parse_inspect_answer(
      R"({"Id":"sha256:a","Created":null,"Os":"linux","RepoDigests":["r@sha256:b",5],"Size":1234,)"
      R"("Config":{"Env":["A=1"],"Cmd":null,"Labels":{"k":"v","n":1}}})",
      "inspect");
  ImageInfo info = image_info_from(j, "r:1");
  CHECK(info.id == "sha256:a");
  CHECK(info.ref == "r:1");
  CHECK(info.created.empty());
  CHECK(info.os == "linux");
  CHECK(info.repo_digests == std::vector<std::string>{"r@sha256:b"});
  CHECK(image_size_from(j) == 1234);
  CHECK(image_config_from(j)["Env"][0] == "A=1");
  CHECK(image_config_from(parse_inspect_answer(R"({"Id":"x"})", "inspect")).is_null());
}

TEST_CASE("an image size that is not a plain count is unknown (0), never a float-to-integer overflow") {
  CHECK(image_size_from(parse_inspect_answer(R"({"Id":"x","Size":1e300})", "i")) == 0);
  CHECK(image_size_from(parse_inspect_answer(R"({"Id":"x","Size":-5})", "i")) == 0);
  CHECK(image_size_from(parse_inspect_answer(R"({"Id":"x"})", "i")) == 0);
}

TEST_CASE("the create answer gives the container id") {
  CHECK(parse_create_answer(R"({"Id":"c0ffee","Warnings":[]})", "create") == "c0ffee");
  CHECK_THROWS_AS(parse_create_answer(R"({"Id":5})", "create"), Error);
  CHECK_THROWS_AS(parse_create_answer("", "create"), Error);
}

TEST_CASE("JSON nested deeper than any real answer is refused before nlohmann's recursive copy and dump") {
  // Before: 20000 levels in .Config overflowed the stack when config.json was written (ASan: stack-overflow).
  const std::string deep = std::string(20000, '[') + std::string(20000, ']');
  CHECK_THROWS_WITH_AS(parse_inspect_answer(R"({"Id":"x","Config":{"a":)" + deep + "}}", "inspect image x: the Engine at E"),
                       doctest::Contains("nested more than 64 levels deep"), Error);
  CHECK_THROWS_AS(parse_create_answer(R"({"Id":"x","a":)" + deep + "}", "create"), Error);
  CHECK(engine_message(R"({"message":"m","a":)" + deep + "}").substr(0, 12) == "{\"message\":\"");
  // Brackets inside strings do not count, and ordinary nesting passes.
  CHECK(parse_inspect_answer(R"({"Id":")" + std::string(100, '[') + R"(\"[","Config":{"Labels":{"a":"{{{{"}}})", "i")["Id"] ==
        std::string(100, '[') + "\"[");
}
