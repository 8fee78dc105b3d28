// DecisionPool (src/core/decision_pool.h): messages are decided on the pool's workers, any
// free worker takes the next one, a full queue is refused at once, and destruction decides
// what is still queued. The inner handler is a fake (unit test of src/core).
#include "src/core/decision_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <new>
#include <thread>

namespace kms::core {
namespace {

using namespace std::chrono_literals;

// Recorder: answers with the body it was given; can hold every call until released.
class Recorder final : public MessageHandler {
 public:
  Result<Reply> Handle(std::span<const uint8_t> body, const RequestContext& ctx) override {
    std::unique_lock<std::mutex> lock(mu_);
    ++inside_;
    max_inside_ = std::max(max_inside_, inside_);
    threads_.push_back(std::this_thread::get_id());
    contexts_.push_back(ctx.correlation_id);
    changed_.notify_all();
    changed_.wait(lock, [&] { return !hold_; });
    --inside_;
    Reply r;
    r.body.assign(body.begin(), body.end());
    r.result = "granted";
    return r;
  }
  bool Ready(std::string* why) const override {
    *why = "fake not ready";
    return false;
  }
  void Hold(bool on) {
    std::lock_guard<std::mutex> lock(mu_);
    hold_ = on;
    changed_.notify_all();
  }
  // WaitInside: true once n calls are inside Handle at the same time (within 5 s).
  bool WaitInside(int n) {
    std::unique_lock<std::mutex> lock(mu_);
    return changed_.wait_for(lock, 5s, [&] { return inside_ >= n; });
  }
  int max_inside() {
    std::lock_guard<std::mutex> lock(mu_);
    return max_inside_;
  }
  std::vector<std::thread::id> threads() {
    std::lock_guard<std::mutex> lock(mu_);
    return threads_;
  }
  std::vector<std::string> contexts() {
    std::lock_guard<std::mutex> lock(mu_);
    return contexts_;
  }

 private:
  std::mutex mu_;
  std::condition_variable changed_;
  bool hold_ = false;
  int inside_ = 0;
  int max_inside_ = 0;
  std::vector<std::thread::id> threads_;
  std::vector<std::string> contexts_;
};

// Outcomes: collects what each `done` received, in completion order.
struct Outcomes {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<Result<Reply>> got;
  MessageHandler::Done Sink() {
    return [this](Result<Reply> r) {
      std::lock_guard<std::mutex> lock(mu);
      got.push_back(std::move(r));
      cv.notify_all();
    };
  }
  bool WaitFor(size_t n) {
    std::unique_lock<std::mutex> lock(mu);
    return cv.wait_for(lock, 5s, [&] { return got.size() >= n; });
  }
};

TEST(DecisionPoolTest, DecidesOnAWorkerAndCopiesTheBody) {
  Recorder inner;
  Outcomes out;
  {
    DecisionPool pool(inner, {.workers = 1, .queue_limit = 8});
    std::vector<uint8_t> body = {1, 2, 3};
    inner.Hold(true);
    pool.HandleAsync(body, {"192.0.2.1", "req-1"}, out.Sink());
    body.assign({9, 9, 9});  // the caller's buffer may change once HandleAsync returned
    ASSERT_TRUE(inner.WaitInside(1));
    inner.Hold(false);
    ASSERT_TRUE(out.WaitFor(1));
  }
  ASSERT_TRUE(out.got[0].ok());
  EXPECT_EQ(out.got[0]->body, (std::vector<uint8_t>{1, 2, 3}));
  ASSERT_EQ(inner.threads().size(), 1u);
  EXPECT_NE(inner.threads()[0], std::this_thread::get_id());
  EXPECT_EQ(inner.contexts(), (std::vector<std::string>{"req-1"}));
}

TEST(DecisionPoolTest, MessagesFromOneCallerAreDecidedInParallel) {
  // The point of the pool: one HTTP thread's connections are not decided one after another.
  Recorder inner;
  Outcomes out;
  DecisionPool pool(inner, {.workers = 3, .queue_limit = 8});
  inner.Hold(true);
  for (int i = 0; i < 3; ++i) {
    pool.HandleAsync(std::vector<uint8_t>{static_cast<uint8_t>(i)}, {"", "r"}, out.Sink());
  }
  EXPECT_TRUE(inner.WaitInside(3));  // three decisions at once, all queued by this thread
  inner.Hold(false);
  ASSERT_TRUE(out.WaitFor(3));
  EXPECT_EQ(inner.max_inside(), 3);
}

TEST(DecisionPoolTest, FullQueueIsRefusedAtOnceWithoutDeciding) {
  Recorder inner;
  Outcomes out;
  DecisionPool pool(inner, {.workers = 1, .queue_limit = 2});
  inner.Hold(true);
  pool.HandleAsync(std::vector<uint8_t>{0}, {"", "busy"}, out.Sink());
  ASSERT_TRUE(inner.WaitInside(1));  // the worker holds message 0; the queue is empty
  pool.HandleAsync(std::vector<uint8_t>{1}, {"", "q1"}, out.Sink());
  pool.HandleAsync(std::vector<uint8_t>{2}, {"", "q2"}, out.Sink());
  EXPECT_EQ(pool.queue_depth(), 2u);
  pool.HandleAsync(std::vector<uint8_t>{3}, {"", "refused"}, out.Sink());
  {
    std::lock_guard<std::mutex> lock(out.mu);
    ASSERT_EQ(out.got.size(), 1u);  // answered on this thread, before HandleAsync returned
    EXPECT_EQ(out.got[0].status().code(), StatusCode::kResourceExhausted);
  }
  inner.Hold(false);
  ASSERT_TRUE(out.WaitFor(4));
  for (size_t i = 1; i < 4; ++i) {
    EXPECT_TRUE(out.got[i].ok()) << i;
  }
  EXPECT_EQ(inner.contexts(), (std::vector<std::string>{"busy", "q1", "q2"}));
}

TEST(DecisionPoolTest, DestructionDecidesWhatIsQueued) {
  Recorder inner;
  Outcomes out;
  std::thread release;
  {
    DecisionPool pool(inner, {.workers = 2, .queue_limit = 64});
    inner.Hold(true);
    for (int i = 0; i < 20; ++i) {
      pool.HandleAsync(std::vector<uint8_t>{static_cast<uint8_t>(i)}, {"", "r"}, out.Sink());
    }
    ASSERT_TRUE(inner.WaitInside(2));
    release = std::thread([&] {
      std::this_thread::sleep_for(20ms);
      inner.Hold(false);
    });
  }  // joins only after every queued message was decided
  release.join();
  std::lock_guard<std::mutex> lock(out.mu);
  ASSERT_EQ(out.got.size(), 20u);
  for (const auto& r : out.got) {
    EXPECT_TRUE(r.ok());
  }
}

// The idle count the audit writer's window reads: a worker waiting for a message counts,
// a worker deciding does not, and each time a worker runs out of messages on_idle runs.
TEST(DecisionPoolTest, IdleWorkersCountsWorkersWaitingForAMessage) {
  Recorder inner;
  Outcomes out;
  ports::IdleWorkers idle;
  std::atomic<int> idled{0};
  idle.on_idle = [&] { idled.fetch_add(1); };
  // becomes: true once `a` holds n (within 5 s); the workers run on their own threads.
  auto becomes = [](const std::atomic<int>& a, int n) {
    for (int i = 0; i < 500 && a.load() != n; ++i) {
      std::this_thread::sleep_for(10ms);
    }
    return a.load() == n;
  };
  {
    DecisionPool pool(inner, {.workers = 2, .queue_limit = 8, .idle = &idle});
    ASSERT_TRUE(becomes(idle.count, 2)) << "both workers start with nothing to decide";
    EXPECT_TRUE(becomes(idled, 2));
    inner.Hold(true);
    pool.HandleAsync(std::vector<uint8_t>{1}, {"", "r1"}, out.Sink());
    ASSERT_TRUE(inner.WaitInside(1));
    EXPECT_TRUE(becomes(idle.count, 1)) << "the worker deciding r1 is not idle";
    inner.Hold(false);
    ASSERT_TRUE(out.WaitFor(1));
    EXPECT_TRUE(becomes(idle.count, 2));
    EXPECT_TRUE(becomes(idled, 3)) << "the worker that decided r1 ran out of messages once more";
    std::this_thread::sleep_for(50ms);
    EXPECT_EQ(idled.load(), 3) << "an idle worker is reported once, not while it waits";
  }
  EXPECT_EQ(idle.count.load(), 0) << "stopped workers are not idle workers";
}

// Thrower: a handler whose decision throws, before or after it answered.
class Thrower final : public MessageHandler {
 public:
  explicit Thrower(bool answer_first) : answer_first_(answer_first) {}
  Result<Reply> Handle(std::span<const uint8_t>, const RequestContext&) override {
    throw std::bad_alloc();
  }
  void HandleAsync(std::span<const uint8_t>, const RequestContext&, Done done) override {
    if (answer_first_) {
      Reply r;
      r.result = "granted";
      done(r);
    }
    throw std::bad_alloc();
  }
  bool Ready(std::string*) const override { return true; }

 private:
  bool answer_first_;
};

// An exception in a decision must not end the process (it would on a worker thread) and
// must complete the request exactly once: an internal error, or the answer already given.
TEST(DecisionPoolTest, AThrowingDecisionAnswersExactlyOnceAndTheWorkerLivesOn) {
  for (bool answer_first : {false, true}) {
    Thrower inner(answer_first);
    Outcomes out;
    {
      DecisionPool pool(inner, {.workers = 1, .queue_limit = 8});
      pool.HandleAsync(std::vector<uint8_t>{1}, {"192.0.2.1", "req-1"}, out.Sink());
      pool.HandleAsync(std::vector<uint8_t>{2}, {"192.0.2.1", "req-2"}, out.Sink());
      ASSERT_TRUE(out.WaitFor(2));  // the one worker survived the first throw
    }
    ASSERT_EQ(out.got.size(), 2u) << answer_first;
    for (const Result<Reply>& r : out.got) {
      if (answer_first) {
        ASSERT_TRUE(r.ok());
        EXPECT_EQ(r->result, "granted");
      } else {
        ASSERT_FALSE(r.ok());
        EXPECT_EQ(r.status().code(), StatusCode::kInternal);
      }
    }
  }
}

TEST(DecisionPoolTest, HandleAndReadyGoStraightToTheInnerHandler) {
  Recorder inner;
  DecisionPool pool(inner, {.workers = 1, .queue_limit = 1});
  Result<Reply> r = pool.Handle(std::vector<uint8_t>{7}, {"", "sync"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->body, (std::vector<uint8_t>{7}));
  EXPECT_EQ(inner.threads(), (std::vector<std::thread::id>{std::this_thread::get_id()}));
  std::string why;
  EXPECT_FALSE(pool.Ready(&why));
  EXPECT_EQ(why, "fake not ready");
}

}  // namespace
}  // namespace kms::core
