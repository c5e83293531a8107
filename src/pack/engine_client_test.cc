#include "engine_client.h"

#include <doctest/doctest.h>

using namespace droot::pack;

TEST_CASE("API versions compare numerically") {
  CHECK(compare_api_versions("1.41", "1.45") < 0);
  CHECK(compare_api_versions("1.9", "1.24") < 0);
  CHECK(compare_api_versions("1.45", "1.45") == 0);
  CHECK(compare_api_versions("2.0", "1.45") > 0);
}

TEST_CASE("the Engine's message is shown, whatever shape the error body has") {
  CHECK(engine_message("{\"message\":\"No such image: x\"}") == "No such image: x");
  CHECK(engine_message("page not found\n") == "page not found");
  CHECK(engine_message("") == "(empty answer)");
  CHECK(engine_message(std::string(1000, 'x')).size() == 300);
  CHECK(engine_message("{\"message\": 5}") == "{\"message\": 5}");
}
