#include "background_queue.h"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

#include "error.h"

namespace droot::exec {

TEST_CASE("BackgroundQueue runs every job, in order, on another thread; drain waits for the last one") {
  std::vector<int> order;
  std::thread::id ran_on;
  {
    BackgroundQueue queue(4, 1 << 20);
    for (int i = 0; i < 100; ++i)
      queue.push(10, [&, i] {
        order.push_back(i);
        ran_on = std::this_thread::get_id();
      });
    queue.drain();
    REQUIRE(order.size() == 100);
    for (int i = 0; i < 100; ++i) CHECK(order[static_cast<size_t>(i)] == i);
    CHECK(ran_on != std::this_thread::get_id());
  }
}

TEST_CASE("BackgroundQueue bounds what waits: by count and by cost, a job larger than the bound goes alone") {
  std::atomic<int> pushed{0}, done{0};
  std::atomic<bool> started{false}, release{false};
  BackgroundQueue queue(1000, 300);
  queue.push(100, [&] {  // taken by the thread, which then blocks until release
    started = true;
    while (!release) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  });
  while (!started) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  std::thread producer([&] {
    for (int i = 0; i < 10; ++i) {
      queue.push(100, [&] { ++done; });
      ++pushed;
    }
    queue.push(5000, [&] { ++done; });  // larger than max_cost on its own
    ++pushed;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  // The running job's 100 counts until it is done: two more of 100 fit in 300, the third waits.
  CHECK(pushed.load() == 2);
  CHECK(done.load() == 0);
  release = true;
  producer.join();
  queue.drain();
  CHECK(pushed.load() == 11);
  CHECK(done.load() == 11);
}

TEST_CASE("BackgroundQueue bounds the number of jobs too") {
  std::atomic<int> pushed{0};
  std::atomic<bool> started{false}, release{false};
  BackgroundQueue queue(3, 1 << 20);
  queue.push(1, [&] {
    started = true;
    while (!release) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  });
  while (!started) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  std::thread producer([&] {
    for (int i = 0; i < 10; ++i) {
      queue.push(1, [] {});
      ++pushed;
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  CHECK(pushed.load() == 3);
  release = true;
  producer.join();
  queue.drain();
  CHECK(pushed.load() == 10);
}

TEST_CASE("BackgroundQueue: the first failure stops it, drops the jobs behind it, and is rethrown once asked") {
  BackgroundQueue queue(100, 1 << 20);
  std::atomic<int> ran{0};
  std::atomic<bool> release{false};
  queue.push(1, [&] {
    while (!release) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    throw Error("'a/b': cannot create file: No space left on device");
  });
  for (int i = 0; i < 10; ++i) queue.push(1, [&] { ++ran; });
  release = true;
  CHECK_THROWS_WITH_AS(queue.drain(), "'a/b': cannot create file: No space left on device", Error);
  CHECK(ran.load() == 0);
  CHECK_THROWS_AS(queue.push(1, [&] { ++ran; }), Error);
  CHECK_THROWS_AS(queue.drain(), Error);
  CHECK(ran.load() == 0);
}

TEST_CASE("BackgroundQueue's destructor drops what has not started and returns") {
  std::atomic<int> ran{0};
  std::atomic<bool> release{false};
  std::thread later;
  {
    BackgroundQueue queue(100, 1 << 20);
    std::atomic<bool> started{false};
    queue.push(1, [&] {
      started = true;
      while (!release) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      ++ran;
    });
    while (!started) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    for (int i = 0; i < 10; ++i) queue.push(1, [&] { ++ran; });
    later = std::thread([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      release = true;
    });
  }
  later.join();
  CHECK(ran.load() == 1);
}

TEST_CASE("BackgroundQueue runs a lone job without a drain: the thread lingers for a batch, not for ever") {
  std::atomic<bool> ran{false};
  BackgroundQueue queue(1024, 1 << 20);
  queue.push(1, [&] { ran = true; });
  for (int i = 0; i < 1000 && !ran; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  CHECK(ran.load());
  // Fewer jobs than a batch, pushed one by one with pauses longer than the linger: each still runs.
  std::atomic<int> count{0};
  for (int i = 0; i < 3; ++i) {
    queue.push(1, [&] { ++count; });
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  for (int i = 0; i < 1000 && count < 3; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  CHECK(count.load() == 3);
  queue.drain();
}

TEST_CASE("BackgroundQueue: a producer faster than the thread is woken when half the queue is free, and loses nothing") {
  std::atomic<int> done{0};
  BackgroundQueue queue(64, 1 << 20);
  for (int i = 0; i < 20000; ++i) queue.push(10, [&] { ++done; });
  queue.drain();
  CHECK(done.load() == 20000);
  // A cost bound reached by a few jobs (fewer than a batch) does not wait out the linger for more.
  BackgroundQueue by_cost(1024, 100);
  for (int i = 0; i < 50; ++i) by_cost.push(60, [&] { ++done; });
  by_cost.drain();
  CHECK(done.load() == 20050);
}

}  // namespace droot::exec
