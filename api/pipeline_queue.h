// PipelineQueue: runs work on the pipeline thread for other threads. The Engine is not
// thread-safe, so an HTTP handler that needs it (GET /v1/report) submits a task and waits;
// the pipeline loop calls Drain() between batches (and while idle). A caller that times out
// abandons its task; the result is then dropped.
// Thread-safety: Run from any thread; Drain from the pipeline thread only.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace x402 {

class PipelineQueue {
 public:
  using Task = std::function<std::string()>;

  std::optional<std::string> Run(Task task, std::chrono::milliseconds timeout) {
    auto item = std::make_shared<Item>();
    item->task = std::move(task);
    std::future<std::string> f = item->result.get_future();
    {
      std::lock_guard<std::mutex> l(mu_);
      if (closed_) return std::nullopt;
      q_.push_back(item);
    }
    if (f.wait_for(timeout) != std::future_status::ready) return std::nullopt;
    try {
      return f.get();
    } catch (...) {  // the task threw, or the queue was closed (broken promise)
      return std::nullopt;
    }
  }

  // Runs every queued task; returns how many.
  size_t Drain() {
    std::deque<std::shared_ptr<Item>> q;
    {
      std::lock_guard<std::mutex> l(mu_);
      q.swap(q_);
    }
    for (auto& item : q) {
      try {
        item->result.set_value(item->task());
      } catch (...) {
        item->result.set_exception(std::current_exception());
      }
    }
    return q.size();
  }

  // No further tasks are accepted; queued ones are dropped (their callers get nullopt).
  void Close() {
    std::lock_guard<std::mutex> l(mu_);
    closed_ = true;
    q_.clear();
  }

 private:
  struct Item {
    Task task;
    std::promise<std::string> result;
  };
  std::mutex mu_;
  std::deque<std::shared_ptr<Item>> q_;
  bool closed_ = false;
};

}  // namespace x402
