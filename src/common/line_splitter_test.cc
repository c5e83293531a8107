#include "line_splitter.h"

#include <doctest/doctest.h>

#include <vector>

using namespace droot;

TEST_CASE("lines come out whole, numbered, wherever the pieces are cut") {
  const std::string text = "first\nsecond line\n\nfourth";
  for (size_t cut = 1; cut <= text.size(); ++cut) {
    LineSplitter s("m");
    std::vector<std::string> got;
    std::vector<size_t> numbers;
    auto take = [&](std::string_view line, size_t n) {
      got.emplace_back(line);
      numbers.push_back(n);
    };
    for (size_t i = 0; i < text.size(); i += cut) s.feed(std::string_view(text).substr(i, cut), take);
    s.finish(take);
    CHECK(got == std::vector<std::string>{"first", "second line", "", "fourth"});
    CHECK(numbers == std::vector<size_t>{1, 2, 3, 4});
  }
}

TEST_CASE("an unfinished line longer than the limit is an error naming the text and the line") {
  LineSplitter s("x/manifest.mtree", 8);
  auto ignore = [](std::string_view, size_t) {};
  s.feed("ok\n12345678", ignore);
  CHECK_THROWS_WITH(s.feed("9", ignore), "x/manifest.mtree: line 2 is longer than 8 bytes");
}
