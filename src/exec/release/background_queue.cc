#include "background_queue.h"

#include <algorithm>
#include <utility>
#include <vector>

namespace droot::exec {

BackgroundQueue::BackgroundQueue(size_t max_jobs, size_t max_cost)
    : max_jobs_(max_jobs ? max_jobs : 1),
      max_cost_(max_cost),
      wake_at_(std::min(kBatch, max_jobs_)),
      thread_([this] { loop(); }) {}

BackgroundQueue::~BackgroundQueue() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
    queue_.clear();
    queued_cost_ = 0;
  }
  wake_.notify_one();
  thread_.join();
}

void BackgroundQueue::rethrow_failure_locked() {
  if (failure_) std::rethrow_exception(failure_);
}

bool BackgroundQueue::half_empty_locked() const { return queue_.size() <= max_jobs_ / 2 && queued_cost_ <= max_cost_ / 2; }

void BackgroundQueue::push(size_t cost, std::function<void()> job) {
  std::unique_lock<std::mutex> lock(mutex_);
  // A job larger than max_cost on its own still goes in, alone: it waits for an empty queue.
  auto room = [&] { return failure_ || queue_.empty() || (queue_.size() < max_jobs_ && queued_cost_ + cost <= max_cost_); };
  if (!room()) {
    // Full: the thread must not linger, and this caller sleeps until the queue is half empty (or has room
    // for this job at all), not until the next job is done.
    ++callers_waiting_;
    wake_.notify_one();
    settled_.wait(lock, [&] { return failure_ || queue_.empty() || (half_empty_locked() && room()); });
    --callers_waiting_;
  }
  rethrow_failure_locked();
  queue_.push_back(Job{cost, std::move(job)});
  queued_cost_ += cost;
  // The thread waits for a first job, then lingers for a batch: each wait ends with one of these.
  const bool wake = queue_.size() == 1 || queue_.size() == wake_at_;
  lock.unlock();
  if (wake) wake_.notify_one();
}

void BackgroundQueue::drain() {
  std::unique_lock<std::mutex> lock(mutex_);
  ++callers_waiting_;
  wake_.notify_one();
  settled_.wait(lock, [&] { return failure_ || (queue_.empty() && !running_); });
  --callers_waiting_;
  rethrow_failure_locked();
}

void BackgroundQueue::loop() {
  std::vector<Job> batch;
  batch.reserve(kBatch);
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (stopping_) return;
    if (queue_.size() < wake_at_ && callers_waiting_ == 0)
      wake_.wait_for(lock, kLinger, [this] { return stopping_ || callers_waiting_ > 0 || queue_.size() >= wake_at_; });
    if (stopping_) return;
    while (!queue_.empty() && batch.size() < kBatch) {
      batch.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    running_ = true;
    lock.unlock();
    std::exception_ptr failure;
    size_t cost = 0;
    for (auto& job : batch) {
      cost += job.cost;
      if (failure) continue;  // nothing after a failure runs
      try {
        job.run();
      } catch (...) {
        failure = std::current_exception();
      }
      job.run = nullptr;  // whatever the job holds (its content, a directory handle) goes now, not later
    }
    batch.clear();
    lock.lock();
    running_ = false;
    queued_cost_ -= std::min(cost, queued_cost_);
    if (failure && !failure_) {
      failure_ = failure;
      queue_.clear();  // nothing after a failure runs: the caller is about to give up the whole tree
      queued_cost_ = 0;
    }
    // Only a caller that can go on now is woken.
    if (failure_ || (callers_waiting_ > 0 && (queue_.empty() || half_empty_locked()))) settled_.notify_all();
  }
}

}  // namespace droot::exec
