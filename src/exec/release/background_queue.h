// Runs jobs in order on a thread of its own, so that deploy's per-file system calls (create, write, set the
// times, link into the object store: five calls for each file of an image of 200,000 small ones, all kernel
// time) overlap with the tar parsing and hashing of the entries that follow them, on the other core.
//
// Bounded: push() blocks while `max_jobs` jobs or `max_cost` bytes (the content the jobs carry) wait, so
// memory does not grow with the number of entries. The first job that throws stops the queue: the jobs
// behind it are dropped, and push() and drain() rethrow that job's exception in the caller's thread.
//
// The two threads wake each other per batch, not per job. With jobs of a few microseconds each (a small
// file's calls) a thread that sleeps and is woken for every job spends as much in futex calls and context
// switches as in the jobs: the faster side would run one step ahead of the slower and wait on it every time
// (deploy of 20,000 small files made 66,000 futex calls and as many context switches). So the thread, once
// woken, takes up to kBatch jobs at a time and, when fewer wait, lingers up to kLinger for more (drain() and a
// blocked push() cut that short); and a push() that found the queue full sleeps until it has drained to half.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>

namespace droot::exec {

class BackgroundQueue {
 public:
  BackgroundQueue(size_t max_jobs, size_t max_cost);
  // Drops what has not started, waits for the running job, joins. Never throws (a failure nobody drained
  // is lost: the caller is already unwinding from an error of its own).
  ~BackgroundQueue();
  BackgroundQueue(const BackgroundQueue&) = delete;
  BackgroundQueue& operator=(const BackgroundQueue&) = delete;

  // Queues `job`, blocking while the queue is full. Rethrows an earlier job's failure instead of queueing.
  void push(size_t cost, std::function<void()> job);
  // Waits until every queued job has run; rethrows the first failure.
  void drain();

 private:
  static constexpr size_t kBatch = 16;
  static constexpr std::chrono::microseconds kLinger{500};

  struct Job {
    size_t cost;
    std::function<void()> run;
  };
  void loop();
  void rethrow_failure_locked();
  bool half_empty_locked() const;

  const size_t max_jobs_, max_cost_;
  const size_t wake_at_;  // jobs waiting that wake a lingering thread: min(kBatch, max_jobs)
  std::mutex mutex_;
  std::condition_variable wake_;     // the thread: a job arrived, a batch is ready, a drain or a full push, or stop
  std::condition_variable settled_;  // the caller: room in the queue, or all done, or a failure
  std::deque<Job> queue_;
  size_t queued_cost_ = 0;  // of the jobs waiting and of those the thread has taken and not finished
  bool running_ = false;    // the thread is running jobs it took off the queue
  int callers_waiting_ = 0;  // in push() on a full queue, or in drain(): the thread must not linger
  bool stopping_ = false;
  std::exception_ptr failure_;
  std::thread thread_;
};

}  // namespace droot::exec
