#include "read_ahead.h"

#include <doctest/doctest.h>

#include <stdexcept>
#include <string>

using namespace droot::pack;

TEST_CASE("read ahead: every byte in order, in buffers no larger than asked for") {
  std::string want;
  for (int i = 0; i < 100000; ++i) want += std::to_string(i);
  size_t at = 0;
  ReadAhead ahead([&](char* buf, size_t n) {
    const size_t k = std::min(n, want.size() - at);
    want.copy(buf, k, at);
    at += k;
    return k;
  }, 1000, 3);
  std::string got;
  for (auto [data, n] = ahead.next(); n > 0; std::tie(data, n) = ahead.next()) {
    CHECK(n <= 1000);
    got.append(data, n);
  }
  CHECK(got == want);
  CHECK(ahead.next().second == 0);
}

TEST_CASE("read ahead: the producer's error after what it produced before it; stopping early joins it") {
  int calls = 0;
  ReadAhead failing([&](char* buf, size_t) -> size_t {
    if (++calls > 2) throw std::runtime_error("inflate failed");
    buf[0] = 'x';
    return 1;
  });
  CHECK(failing.next().second == 1);
  CHECK(failing.next().second == 1);
  CHECK_THROWS_WITH(failing.next(), "inflate failed");
  // Endless, abandoned after one buffer: the destructor stops it.
  ReadAhead endless([](char* buf, size_t n) {
    buf[0] = 'y';
    return n;
  }, 64, 2);
  CHECK(endless.next().first[0] == 'y');
}
