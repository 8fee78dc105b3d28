// DecisionPool: a MessageHandler in front of another that decides each message on one of a
// fixed set of worker threads, whichever is free, instead of on the caller's thread.
//
// Why: libmicrohttpd binds a connection to one of its threads when it accepts it. Deciding
// on that thread meant one busy thread queued the messages of all its connections while
// another core idled (measured with 4 connections on 2 threads: stalls of 10-20 ms in which
// one thread ran and the other core was idle; docs/performance-2.80ghz.md, finding 2). With the
// pool, the HTTP threads only move bytes and any free worker takes the next message.
//
// The caller's `done` contract is the inner handler's: it runs exactly once, here on a
// worker (or the audit writer's thread), or on the caller's thread when the queue is full.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "src/core/message_handler.h"
#include "src/core/ports/idle_workers.h"

namespace kms::core {

struct DecisionPoolOptions {
  unsigned workers = 4;      // threads deciding messages (kmsd: [server] workers)
  size_t queue_limit = 256;  // waiting messages; more are refused with kResourceExhausted
  // idle: if set, the count of workers waiting for a message is kept there (kmsd hands it
  // to the audit writer's group-commit window); must outlive the pool.
  ports::IdleWorkers* idle = nullptr;
};

class DecisionPool final : public MessageHandler {
 public:
  DecisionPool(MessageHandler& inner, DecisionPoolOptions options);
  // Decides every message still queued (each `done` runs), then joins the workers.
  ~DecisionPool() override;
  DecisionPool(const DecisionPool&) = delete;
  DecisionPool& operator=(const DecisionPool&) = delete;

  // Handle: on the caller's thread (the synchronous path has no thread to free).
  Result<Reply> Handle(std::span<const uint8_t> body, const RequestContext& context) override {
    return inner_.Handle(body, context);
  }
  // HandleAsync: copies the body and context, queues the message and returns at once.
  void HandleAsync(std::span<const uint8_t> body, const RequestContext& context,
                   Done done) override;
  bool Ready(std::string* why) const override { return inner_.Ready(why); }
  size_t queue_depth() const;

 private:
  struct Job {
    std::vector<uint8_t> body;  // a MIKEY message as received: no key material in clear
    RequestContext context;
    Done done;
  };
  void Run();
  // Decide: one job on the calling worker; `done` runs exactly once even if it throws.
  void Decide(Job& job);

  MessageHandler& inner_;
  const DecisionPoolOptions options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> queue_;
  bool stop_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace kms::core
