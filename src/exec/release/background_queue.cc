#include "background_queue.h"

#include <utility>

namespace droot::exec {

BackgroundQueue::BackgroundQueue(size_t max_jobs, size_t max_cost)
    : max_jobs_(max_jobs ? max_jobs : 1), max_cost_(max_cost), thread_([this] { loop(); }) {}

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

void BackgroundQueue::push(size_t cost, std::function<void()> job) {
  std::unique_lock<std::mutex> lock(mutex_);
  // A job larger than max_cost on its own still goes in, alone: it waits for an empty queue.
  settled_.wait(lock, [&] {
    return failure_ || queue_.empty() || (queue_.size() < max_jobs_ && queued_cost_ + cost <= max_cost_);
  });
  rethrow_failure_locked();
  queue_.push_back(Job{cost, std::move(job)});
  queued_cost_ += cost;
  lock.unlock();
  wake_.notify_one();
}

void BackgroundQueue::drain() {
  std::unique_lock<std::mutex> lock(mutex_);
  settled_.wait(lock, [&] { return failure_ || (queue_.empty() && !running_); });
  rethrow_failure_locked();
}

void BackgroundQueue::loop() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (stopping_) return;
    Job job = std::move(queue_.front());
    queue_.pop_front();
    running_ = true;
    lock.unlock();
    std::exception_ptr failure;
    try {
      job.run();
    } catch (...) {
      failure = std::current_exception();
    }
    job.run = nullptr;  // whatever the job holds (its content, a directory handle) goes now, not later
    lock.lock();
    running_ = false;
    queued_cost_ -= job.cost;
    if (failure && !failure_) {
      failure_ = failure;
      queue_.clear();  // nothing after a failure runs: the caller is about to give up the whole tree
      queued_cost_ = 0;
    }
    settled_.notify_all();
  }
}

}  // namespace droot::exec
