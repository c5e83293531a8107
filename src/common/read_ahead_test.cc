#include "read_ahead.h"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>

namespace droot {
namespace {

// Waits (up to a few seconds) for the producer to have been called `n` times, then a little longer: long enough
// for one that was going to run ahead further to have done so.
bool settles_at(const std::atomic<int>& calls, int n) {
  for (int i = 0; i < 5000 && calls.load() < n; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  return calls.load() == n;
}

}  // namespace

TEST_CASE("ReadAhead: every byte in order, in buffers no larger than asked for, then the end for good") {
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
  std::set<const char*> buffers;
  for (std::span<const char> chunk = ahead.next(); !chunk.empty(); chunk = ahead.next()) {
    CHECK(chunk.size() <= 1000);
    buffers.insert(chunk.data());
    got.append(chunk.data(), chunk.size());
  }
  CHECK(got == want);
  CHECK(buffers.size() <= 3);  // the same buffers, refilled
  CHECK(ahead.next().empty());
  CHECK(ahead.next().empty());
}

TEST_CASE("ReadAhead: the producer runs at most `depth` buffers ahead, and refills one once the reader is done with it") {
  std::atomic<int> calls{0};
  ReadAhead ahead([&](char* buf, size_t) -> size_t {
    buf[0] = static_cast<char>('a' + calls++ % 26);
    return 1;
  }, 16, 3);
  CHECK(settles_at(calls, 3));  // every buffer filled, none read
  CHECK(ahead.next()[0] == 'a');
  CHECK(settles_at(calls, 3));  // the reader holds the first: still no free one
  CHECK(ahead.next()[0] == 'b');
  CHECK(settles_at(calls, 4));  // the first came back
  CHECK(ahead.next()[0] == 'c');
  CHECK(ahead.next()[0] == 'd');
}

TEST_CASE("ReadAhead: the producer's error comes after what it produced before it, at every later next()") {
  int calls = 0;
  ReadAhead failing([&](char* buf, size_t) -> size_t {
    if (++calls > 2) throw std::runtime_error("inflate failed");
    buf[0] = 'x';
    return 1;
  }, 64, 4);
  CHECK(failing.next().size() == 1);
  CHECK(failing.next().size() == 1);
  CHECK_THROWS_WITH_AS(failing.next(), "inflate failed", std::runtime_error);
  CHECK_THROWS_WITH(failing.next(), "inflate failed");
  CHECK(calls == 3);  // not called again after it threw
}

TEST_CASE("ReadAhead: the destructor stops a producer that is blocked on full buffers") {
  SUBCASE("after the reader took one") {
    ReadAhead endless([](char* buf, size_t n) {
      buf[0] = 'y';
      return n;
    }, 64, 2);
    CHECK(endless.next()[0] == 'y');
  }
  SUBCASE("before the reader took any") {
    std::atomic<int> calls{0};
    ReadAhead endless([&](char*, size_t n) {
      ++calls;
      return n;
    }, 64, 2);
    CHECK(settles_at(calls, 2));
  }
  SUBCASE("with nothing produced yet") {
    ReadAhead endless([](char*, size_t n) { return n; }, 64, 2);
  }
}

TEST_CASE("ReadAhead: an empty stream is the end at once") {
  ReadAhead empty([](char*, size_t) -> size_t { return 0; }, 64, 2);
  CHECK(empty.next().empty());
  CHECK(empty.next().empty());
}

}  // namespace droot
