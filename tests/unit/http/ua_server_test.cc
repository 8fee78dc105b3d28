// UaServer in process (src/http/ua_server.h) with a scripted MessageHandler: the body reaches
// the handler unchanged, its reply comes back as application/mikey, and each transport problem
// gets its documented status: 503 when max_in_flight requests are already being processed or
// the service is unavailable, 500 for an internal failure. A handler that answers later
// (HandleAsync, as the core does while its audit row is committed) does not hold the HTTP
// thread: one thread takes many such requests at once. libcurl is the client.
#include "src/http/ua_server.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace kms::http {
namespace {

std::string Pem(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  std::string s(data, static_cast<size_t>(n));
  BIO_free(bio);
  return s;
}

std::shared_ptr<TlsIdentity> TestIdentity() {
  char curve[] = "P-256";  // EVP_EC_gen casts away const, which -Wcast-qual refuses
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", curve);
  X509* x = X509_new();
  ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
  X509_gmtime_adj(X509_getm_notBefore(x), 0);
  X509_gmtime_adj(X509_getm_notAfter(x), 3600);
  X509_set_pubkey(x, key);
  X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
  X509_set_issuer_name(x, X509_get_subject_name(x));
  X509_sign(x, key, EVP_sha256());
  BIO* cb = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(cb, x);
  BIO* kb = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(kb, key, nullptr, nullptr, 0, nullptr, nullptr);
  const std::string cert = Pem(cb);
  const std::string pem_key = Pem(kb);
  X509_free(x);
  EVP_PKEY_free(key);
  return TlsIdentity::FromPem(cert, pem_key).value();
}

// Handler: echoes the body reversed; can be made to block (to hold a request in flight) or
// to fail with a Status.
class ScriptedHandler : public core::MessageHandler {
 public:
  Result<core::Reply> Handle(std::span<const uint8_t> body, const core::RequestContext&) override {
    {
      std::unique_lock<std::mutex> lock(mu_);
      ++entered_;
      cv_.notify_all();
      cv_.wait(lock, [&] { return !block_; });
    }
    if (!fail_.ok()) {
      return fail_;
    }
    core::Reply r;
    r.body.assign(body.rbegin(), body.rend());
    r.request_data_type = 11;
    r.result = "granted";
    return r;
  }
  bool Ready(std::string*) const override { return true; }

  void Block() { std::lock_guard<std::mutex> l(mu_); block_ = true; }
  void Unblock() { std::lock_guard<std::mutex> l(mu_); block_ = false; cv_.notify_all(); }
  void WaitEntered(int n) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return entered_ >= n; });
  }
  void Fail(Status s) { fail_ = std::move(s); }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool block_ = false;
  int entered_ = 0;
  Status fail_ = Status::Ok();
};

// DeferringHandler: keeps each request's completion and answers only when told to, from the
// test's thread (as the audit writer's thread does after its fsync).
class DeferringHandler : public core::MessageHandler {
 public:
  Result<core::Reply> Handle(std::span<const uint8_t>, const core::RequestContext&) override {
    return InternalError("HandleAsync expected");
  }
  void HandleAsync(std::span<const uint8_t> body, const core::RequestContext&,
                   Done done) override {
    std::lock_guard<std::mutex> l(mu_);
    pending_.push_back({std::string(body.begin(), body.end()), std::move(done)});
    cv_.notify_all();
  }
  bool Ready(std::string*) const override { return true; }

  void WaitPending(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    ASSERT_TRUE(cv_.wait_for(lock, std::chrono::seconds(20), [&] { return pending_.size() >= n; }))
        << pending_.size() << " of " << n << " requests reached the handler";
  }
  // CompleteAll: answers every pending request with its body in upper case, or with `fail`.
  void CompleteAll(const Status& fail = Status::Ok()) {
    std::vector<Pending> now;
    {
      std::lock_guard<std::mutex> l(mu_);
      now.swap(pending_);
    }
    for (Pending& p : now) {
      if (!fail.ok()) {
        p.done(fail);
        continue;
      }
      core::Reply r;
      for (char ch : p.body) {
        r.body.push_back(static_cast<uint8_t>(std::toupper(static_cast<unsigned char>(ch))));
      }
      r.result = "granted";
      p.done(std::move(r));
    }
  }

 private:
  struct Pending {
    std::string body;
    Done done;
  };
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Pending> pending_;
};

struct Response {
  long status = 0;
  std::string content_type;
  std::string body;
};

size_t Collect(char* p, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(p, size * n);
  return size * n;
}

// Post: one request on `reuse` (kept open for the next call) or on a fresh connection.
Response Post(uint16_t port, const std::string& body, CURL* reuse = nullptr) {
  Response r;
  CURL* c = reuse != nullptr ? reuse : curl_easy_init();
  const std::string url = "https://127.0.0.1:" + std::to_string(port) + "/kms";
  curl_slist* h = curl_slist_append(nullptr, "Content-Type: application/mikey");
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);  // self-signed test certificate
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &Collect);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &r.body);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);  // a request left unanswered fails the test
  if (curl_easy_perform(c) == CURLE_OK) {
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    char* ct = nullptr;
    curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
    r.content_type = ct != nullptr ? ct : "";
  }
  curl_slist_free_all(h);
  if (reuse == nullptr) {
    curl_easy_cleanup(c);
  }
  return r;
}

class UaServerTest : public ::testing::Test {
 protected:
  void Start(size_t max_in_flight) {
    UaServerOptions o;
    o.listen_address = "127.0.0.1";
    o.port = 0;
    o.threads = 4;
    o.max_in_flight = max_in_flight;
    o.rate_per_s = 0;
    Result<std::unique_ptr<UaServer>> s = UaServer::Start(o, TestIdentity(), handler_, metrics_);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    server_ = std::move(s).value();
  }
  ScriptedHandler handler_;
  Metrics metrics_;
  std::unique_ptr<UaServer> server_;
};

TEST_F(UaServerTest, BodyReachesTheHandlerAndTheReplyComesBackAsMikey) {
  Start(8);
  const Response r = Post(server_->port(), std::string("\x01\x02\x03", 3));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "application/mikey");
  EXPECT_EQ(r.body, std::string("\x03\x02\x01", 3));
  EXPECT_NE(metrics_.Render().find("kms_requests_total{type=\"11\",result=\"granted\"} 1"),
            std::string::npos);
}

TEST_F(UaServerTest, OverloadIs503WhileMaxInFlightRequestsAreBeingProcessed) {
  Start(1);
  handler_.Block();
  auto first = std::async(std::launch::async, [&] { return Post(server_->port(), "a"); });
  handler_.WaitEntered(1);
  const Response second = Post(server_->port(), "b");
  EXPECT_EQ(second.status, 503);
  EXPECT_EQ(server_->in_flight(), 1u);
  handler_.Unblock();
  EXPECT_EQ(first.get().status, 200);
  EXPECT_EQ(Post(server_->port(), "c").status, 200);  // capacity is back
}

TEST_F(UaServerTest, UnavailableServiceIs503AndInternalFailureIs500) {
  Start(8);
  handler_.Fail(UnavailableError("token unavailable (lost)"));
  const Response r = Post(server_->port(), "x");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body.find("token"), std::string::npos);  // no internal detail to the client
  handler_.Fail(InternalError("bug"));
  EXPECT_EQ(Post(server_->port(), "x").status, 500);
  // A message the core does not answer (a MIKEY Error message, spec §2.9): 400, no body
  // that a client could take for a MIKEY message.
  handler_.Fail(InvalidArgumentError("a MIKEY Error message is not answered"));
  const Response bad = Post(server_->port(), "x");
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("not answered"), std::string::npos);
}

// StartWith: a server on a free loopback port with `threads` HTTP threads and no rate limit.
Result<std::unique_ptr<UaServer>> StartWith(core::MessageHandler& handler, Metrics& metrics,
                                            unsigned threads, unsigned request_timeout_s = 15) {
  UaServerOptions o;
  o.listen_address = "127.0.0.1";
  o.port = 0;
  o.threads = threads;
  o.rate_per_s = 0;
  o.idle_timeout_s = 10;
  o.request_timeout_s = request_timeout_s;
  return UaServer::Start(o, TestIdentity(), handler, metrics);
}

// One HTTP thread, eight requests whose answers wait (for the audit's fsync in kmsd): all
// eight reach the handler before any is answered, so the thread was never held by one.
TEST(UaServerAsyncTest, ADeferredAnswerDoesNotHoldTheHttpThread) {
  DeferringHandler handler;
  Metrics metrics;
  auto server = StartWith(handler, metrics, 1);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  const uint16_t port = (*server)->port();
  std::vector<std::future<Response>> clients;
  for (int i = 0; i < 8; ++i) {
    clients.push_back(std::async(std::launch::async,
                                 [port, i] { return Post(port, "call-" + std::to_string(i)); }));
  }
  handler.WaitPending(8);
  EXPECT_EQ((*server)->in_flight(), 8u);
  handler.CompleteAll();
  for (int i = 0; i < 8; ++i) {
    const Response r = clients[static_cast<size_t>(i)].get();
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "CALL-" + std::to_string(i));  // each answer on its own connection
  }
  EXPECT_EQ((*server)->in_flight(), 0u);
  // A deferred failure (audit not durable) is a 503, as a synchronous one is.
  auto failed = std::async(std::launch::async, [port] { return Post(port, "x"); });
  handler.WaitPending(1);
  handler.CompleteAll(UnavailableError("audit row not durable within the configured time"));
  const Response r = failed.get();
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body.find("audit"), std::string::npos);
}

// Drain waits for a request whose answer is still to come, and the client gets it; a request
// arriving meanwhile on an open connection gets 503 (a parked one would abort libmicrohttpd's
// stop).
TEST(UaServerAsyncTest, DrainWaitsForADeferredAnswer) {
  DeferringHandler handler;
  Metrics metrics;
  auto server = StartWith(handler, metrics, 2);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  const uint16_t port = (*server)->port();
  CURL* kept = curl_easy_init();  // a keep-alive connection opened before the drain
  auto first = std::async(std::launch::async, [&] { return Post(port, "first", kept); });
  handler.WaitPending(1);
  handler.CompleteAll();
  EXPECT_EQ(first.get().status, 200);
  auto client = std::async(std::launch::async, [port] { return Post(port, "late"); });
  handler.WaitPending(1);
  auto drained = std::async(std::launch::async,
                            [&] { (*server)->Drain(std::chrono::seconds(20)); });
  EXPECT_EQ(drained.wait_for(std::chrono::milliseconds(200)), std::future_status::timeout);
  // While draining, a new request on the open connection is refused, not parked.
  const Response refused = Post(port, "after", kept);
  EXPECT_EQ(refused.status, 503);
  EXPECT_EQ(refused.body, "shutting down\n");
  curl_easy_cleanup(kept);
  handler.CompleteAll();
  const Response r = client.get();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "LATE");
  drained.get();
  EXPECT_EQ((*server)->in_flight(), 0u);
}

// A request still waiting for its answer when Drain's time is up is answered 503 and
// libmicrohttpd is stopped all the same, so the server may be freed: a keep-alive connection
// opened before finds nothing serving it (it used to reach the freed server through
// libmicrohttpd threads left running), and the late answer goes nowhere.
TEST(UaServerAsyncTest, DrainPastItsDeadlineStopsTheDaemonSoTheServerCanBeFreed) {
  DeferringHandler handler;
  Metrics metrics;
  auto server = StartWith(handler, metrics, 2);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  const uint16_t port = (*server)->port();
  CURL* kept = curl_easy_init();  // keep-alive connection A
  auto first = std::async(std::launch::async, [&] { return Post(port, "a", kept); });
  handler.WaitPending(1);
  handler.CompleteAll();
  EXPECT_EQ(first.get().status, 200);
  auto stuck = std::async(std::launch::async, [port] { return Post(port, "b"); });
  handler.WaitPending(1);  // request B is suspended, its answer never comes in time
  (*server)->Drain(std::chrono::milliseconds(50));
  const Response b = stuck.get();
  EXPECT_EQ(b.status, 503);
  EXPECT_EQ((*server)->in_flight(), 0u);
  server->reset();
  EXPECT_EQ(Post(port, "after", kept).status, 0);  // connection A is closed, nothing listens
  handler.CompleteAll();  // B's late answer: dropped, the server is gone
  curl_easy_cleanup(kept);
  EXPECT_NE(metrics.Render().find("kms_http_refused_total{status=\"shutdown\"} 1"),
            std::string::npos);
}

// ThrowingHandler: the hand-over throws, as a std::bad_alloc while queueing the message would.
class ThrowingHandler : public core::MessageHandler {
 public:
  Result<core::Reply> Handle(std::span<const uint8_t>, const core::RequestContext&) override {
    return InternalError("HandleAsync expected");
  }
  void HandleAsync(std::span<const uint8_t>, const core::RequestContext&, Done) override {
    throw std::runtime_error("cannot queue the message");
  }
  bool Ready(std::string*) const override { return true; }
};

// The request is answered 500 and leaves the in-flight count (it used to stay counted, the
// connection was dropped with no answer, and every later Drain waited its whole time).
TEST(UaServerAsyncTest, AHandOverThatThrowsIs500AndLeavesNothingInFlight) {
  ThrowingHandler handler;
  Metrics metrics;
  auto server = StartWith(handler, metrics, 1);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  const Response r = Post((*server)->port(), "x");
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(r.body, "internal error\n");
  EXPECT_EQ((*server)->in_flight(), 0u);
  const auto t0 = std::chrono::steady_clock::now();
  (*server)->Drain(std::chrono::seconds(10));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(3));
  EXPECT_NE(metrics.Render().find("kms_requests_total{type=\"unknown\",result=\"internal\"} 1"),
            std::string::npos);
}

// SecondsUntilClosed: a plain TCP client that sends `lead`, then one byte every 200 ms; how
// long until the server closed the connection (give_up + 1 if it never did).
double SecondsUntilClosed(uint16_t port, const std::string& lead, double give_up) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  const auto start = std::chrono::steady_clock::now();
  auto took = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  bool closed = connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0 ||
                send(fd, lead.data(), lead.size(), MSG_NOSIGNAL) < 0;
  while (!closed && took() < give_up) {
    pollfd p{fd, POLLIN, 0};
    char buf[512];
    closed = (poll(&p, 1, 200) > 0 && recv(fd, buf, sizeof buf, 0) <= 0) ||
             send(fd, "\0", 1, MSG_NOSIGNAL) < 0;
  }
  close(fd);
  return closed ? took() : give_up + 1;
}

// Slow-loris below HTTP: a TLS handshake record announcing 512 bytes, dripped at 5 bytes/s,
// never goes idle (idle_timeout_s 10) but is cut once request_timeout_s (1 s) is up.
TEST(UaServerDeadlineTest, AHandshakeDripIsCutOffByTheRequestTimeout) {
  ScriptedHandler handler;
  Metrics metrics;
  auto server = StartWith(handler, metrics, 1, /*request_timeout_s=*/1);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  const double took =
      SecondsUntilClosed((*server)->port(), std::string("\x16\x03\x01\x02\x00", 5), 8);
  EXPECT_GE(took, 0.9);
  EXPECT_LE(took, 2.5);
  EXPECT_NE(metrics.Render().find("kms_http_refused_total{status=\"timeout\"} 1"),
            std::string::npos);
  EXPECT_EQ(Post((*server)->port(), "ok").status, 200);  // a prompt client is served
}

TEST_F(UaServerTest, StartRefusesAMissingIdentity) {
  UaServerOptions o;
  o.listen_address = "127.0.0.1";
  o.port = 0;
  EXPECT_EQ(UaServer::Start(o, nullptr, handler_, metrics_).status().code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace kms::http
