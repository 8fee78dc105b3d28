#include "src/core/decision_pool.h"

#include <algorithm>
#include <atomic>
#include <memory>
#include <utility>

namespace kms::core {

DecisionPool::DecisionPool(MessageHandler& inner, DecisionPoolOptions options)
    : inner_(inner), options_(options) {
  const unsigned n = std::max(1u, options_.workers);
  workers_.reserve(n);
  for (unsigned i = 0; i < n; ++i) {
    workers_.emplace_back([this] { Run(); });
  }
}

DecisionPool::~DecisionPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  for (std::thread& t : workers_) {
    t.join();
  }
}

size_t DecisionPool::queue_depth() const {
  std::lock_guard<std::mutex> lock(mu_);
  return queue_.size();
}

void DecisionPool::HandleAsync(std::span<const uint8_t> body, const RequestContext& context,
                               Done done) {
  {
    std::unique_lock<std::mutex> lock(mu_);
    if (stop_ || queue_.size() >= options_.queue_limit) {
      const bool stopping = stop_;
      lock.unlock();
      done(stopping ? Result<Reply>(UnavailableError("decision pool stopped"))
                    : Result<Reply>(ResourceExhaustedError("decision queue full")));
      return;
    }
    queue_.push_back(Job{std::vector<uint8_t>(body.begin(), body.end()), context, std::move(done)});
  }
  cv_.notify_one();
}

void DecisionPool::Run() {
  for (;;) {
    Job job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      const bool idle = options_.idle != nullptr && queue_.empty() && !stop_;
      if (idle) {
        options_.idle->count.fetch_add(1);
        if (options_.idle->on_idle) {
          options_.idle->on_idle();
        }
      }
      cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
      if (idle) {
        options_.idle->count.fetch_sub(1);
      }
      if (queue_.empty()) {
        return;  // stopping and drained
      }
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    Decide(job);
  }
}

void DecisionPool::Decide(Job& job) {
  // `done` must run exactly once, also when the decision throws (e.g. std::bad_alloc)
  // before or after handing it on: the caller's connection waits for it, and an exception
  // escaping this worker would end the process.
  auto answered = std::make_shared<std::atomic<bool>>(false);
  Done once = [answered, done = std::move(job.done)](Result<Reply> r) {
    if (!answered->exchange(true)) {
      done(std::move(r));
    }
  };
  try {
    inner_.HandleAsync(job.body, job.context, once);
  } catch (...) {
    once(InternalError("decision failed"));
  }
}

}  // namespace kms::core
