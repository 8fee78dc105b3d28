#include "src/http/ua_server.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_set>
#include <vector>

#include "src/http/boundary.h"
#include "src/http/mhd_util.h"

namespace kms::http {

// Pending: where a dispatched request and the core's callback meet. Shared by the request and
// the callback, so a callback that comes late (after the request was answered without it and
// its connection closed) touches nothing freed. Every field is guarded by ResumeGate::mu.
struct Pending {
  MHD_Connection* connection = nullptr;
  std::optional<Result<core::Reply>> outcome;
  bool suspended = false;  // the connection waits for `outcome`
  bool abandoned = false;  // answered already, or about to be: a later outcome is dropped
};

// Per-request state, owned through libmicrohttpd's con_cls pointer. While the core's answer
// waits for its audit row (HandleAsync), the connection is suspended and `pending->outcome`
// is filled from the audit writer's thread.
struct RequestState {
  std::vector<uint8_t> body;
  bool too_large = false;
  std::chrono::steady_clock::time_point start;
  std::string client;
  std::shared_ptr<Pending> pending;  // set once handed to the core
};

// ResumeGate: the server's suspended connections, and whether the daemon still runs so a
// callback may resume one; shared by the server and every callback it hands to the core.
// While `open`, every suspended connection is in `suspended`; closing the gate resumes them
// all (StopDaemon), so libmicrohttpd is never stopped with one suspended and never resumed
// after it stopped.
struct ResumeGate {
  std::mutex mu;
  bool open = true;
  std::unordered_set<Pending*> suspended;
};

struct UaServer::Impl {
  static MHD_Result Access(void* cls, MHD_Connection* c, const char* url, const char* method,
                           const char* /*version*/, const char* upload, size_t* upload_size,
                           void** con_cls) {
    return Guard(MHD_NO, [&] {
      return static_cast<UaServer*>(cls)->OnAccess(c, url, method, upload, upload_size, con_cls)
                 ? MHD_YES
                 : MHD_NO;
    });
  }
  static void Completed(void* cls, MHD_Connection* c, void** con_cls,
                        MHD_RequestTerminationCode /*toe*/) {
    delete static_cast<RequestState*>(*con_cls);
    *con_cls = nullptr;
    static_cast<UaServer*>(cls)->deadlines_->Rearm(c);  // the next request's clock starts
  }
};

namespace {

bool IsMikeyContentType(const char* ct) {
  if (ct == nullptr) {
    return false;
  }
  std::string v(ct);
  // RFC 3830 §10.1 allows a "version" parameter.
  if (const size_t semi = v.find(';'); semi != std::string::npos) {
    v.resize(semi);
  }
  while (!v.empty() && std::isspace(static_cast<unsigned char>(v.back()))) {
    v.pop_back();
  }
  std::transform(v.begin(), v.end(), v.begin(),
                 [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  return v == "application/mikey";
}

// Deliver: the core's outcome for `p`, from whichever thread decided or committed it.
void Deliver(ResumeGate& gate, Pending& p, Result<core::Reply> r) {
  std::lock_guard<std::mutex> g(gate.mu);
  if (p.abandoned) {
    return;  // answered without it (server stopped, or the hand-over failed)
  }
  p.outcome = std::move(r);
  if (p.suspended) {  // implies the gate is open: closing it takes every suspended request
    p.suspended = false;
    gate.suspended.erase(&p);
    MHD_resume_connection(p.connection);  // MHD calls OnAccess again, which answers
  }
}

}  // namespace

UaServer::UaServer(const UaServerOptions& options, core::MessageHandler& handler, Metrics& metrics)
    : options_(options),
      handler_(handler),
      metrics_(metrics),
      limiter_(options.rate_per_s, options.rate_burst, 100'000),
      gate_(std::make_shared<ResumeGate>()) {}

bool UaServer::OnAccess(MHD_Connection* c, const char* url, const char* method,
                              const char* upload, size_t* upload_size, void** con_cls) {
  auto* st = static_cast<RequestState*>(*con_cls);
  if (st == nullptr) {
    // First call: headers only. Refuse early what can be refused without reading the body.
    auto refuse = [&](unsigned status, const char* why) {
      metrics_.Inc("kms_http_refused_total", {{"status", std::to_string(status)}});
      return QueueText(c, status, why);
    };
    if (std::strcmp(url, options_.path.c_str()) != 0) {
      return refuse(MHD_HTTP_NOT_FOUND, "not found\n");
    }
    if (std::strcmp(method, MHD_HTTP_METHOD_POST) != 0) {
      return QueueText(c, MHD_HTTP_METHOD_NOT_ALLOWED, "only POST\n", {{"Allow", "POST"}});
    }
    if (!IsMikeyContentType(
            MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE))) {
      return refuse(MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, "Content-Type must be application/mikey\n");
    }
    const char* len = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    const char* te =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);
    if (len == nullptr && te == nullptr) {
      return refuse(MHD_HTTP_LENGTH_REQUIRED, "Content-Length required\n");
    }
    if (len != nullptr) {
      char* end = nullptr;
      const unsigned long long n = std::strtoull(len, &end, 10);
      if (end == len || *end != '\0') {
        return refuse(MHD_HTTP_BAD_REQUEST, "bad Content-Length\n");
      }
      if (n > options_.body_limit) {
        return refuse(MHD_HTTP_CONTENT_TOO_LARGE, "body too large\n");
      }
    }
    std::string client = ClientAddress(c);
    if (!limiter_.Allow(client, std::chrono::steady_clock::now())) {
      return refuse(MHD_HTTP_TOO_MANY_REQUESTS, "rate limit\n");
    }
    st = new RequestState();
    st->start = std::chrono::steady_clock::now();
    st->client = std::move(client);
    *con_cls = st;
    return true;
  }
  if (*upload_size != 0) {
    // Slow senders are cut off by deadlines_ (request_timeout_s for the whole request).
    if (st->body.size() + *upload_size > options_.body_limit) {
      st->too_large = true;  // keep reading (and discarding) to answer 413 at the end
    } else {
      st->body.insert(st->body.end(), upload, upload + *upload_size);
    }
    *upload_size = 0;
    return true;
  }
  if (st->too_large) {
    metrics_.Inc("kms_http_refused_total", {{"status", "413"}});
    return QueueText(c, MHD_HTTP_CONTENT_TOO_LARGE, "body too large\n");
  }
  if (st->body.empty()) {
    metrics_.Inc("kms_http_refused_total", {{"status", "400"}});
    return QueueText(c, MHD_HTTP_BAD_REQUEST, "empty body\n");
  }
  if (st->pending == nullptr) {
    auto p = std::make_shared<Pending>();  // before the count: nothing may throw between
    p->connection = c;                     // counting the request and handing it over
    if (in_flight_.fetch_add(1) >= options_.max_in_flight) {
      in_flight_.fetch_sub(1);
      metrics_.Inc("kms_http_refused_total", {{"status", "503"}});
      return QueueText(c, MHD_HTTP_SERVICE_UNAVAILABLE, "overloaded\n", {{"Retry-After", "1"}});
    }
    // Counted first, then the flag: Drain sets the flag, then waits for the count, so either
    // Drain waits for this request or this request sees the flag (both seq_cst).
    if (draining_.load()) {
      in_flight_.fetch_sub(1);
      metrics_.Inc("kms_http_refused_total", {{"status", "503"}});
      return QueueText(c, MHD_HTTP_SERVICE_UNAVAILABLE, "shutting down\n",
                       {{"Retry-After", "1"}, {"Connection", "close"}});
    }
    RequestDeadlines::Hold(c);  // the request is whole; the core's time is bounded elsewhere
    st->pending = p;
    // The core decides on a worker and calls back once the audit row is durable (often
    // from the audit writer's thread, after its fsync). Meanwhile the connection is
    // suspended and this thread serves other connections (architecture.md §5, issue 10).
    std::shared_ptr<ResumeGate> gate = gate_;
    const bool handed = Guard(false, [&] {
      const core::RequestContext ctx{st->client,
                                     "req-" + std::to_string(next_id_.fetch_add(1))};
      handler_.HandleAsync(st->body, ctx, [p, gate](Result<core::Reply> r) {
        Deliver(*gate, *p, std::move(r));
      });
      return true;
    });
    if (!handed) {
      // The hand-over threw (e.g. std::bad_alloc): answer 500 now, so the request leaves
      // in_flight_ (Drain would otherwise wait for it in vain), and drop whatever outcome
      // the handler may still deliver.
      {
        std::lock_guard<std::mutex> g(gate_->mu);
        p->abandoned = true;
      }
      return Answer(c, st->start, InternalError("the request could not be handed to the core"));
    }
    std::lock_guard<std::mutex> g(gate_->mu);
    if (!p->outcome.has_value()) {
      if (gate_->open) {
        MHD_suspend_connection(c);
        p->suspended = true;
        gate_->suspended.insert(p.get());
        return true;
      }
      // The server is stopping and will not wait for this answer: no connection may be
      // suspended once the gate is closed (libmicrohttpd aborts when stopped with one).
      p->outcome = UnavailableError("server stopped before the answer was ready");
    }
  }
  std::optional<Result<core::Reply>> outcome;
  {
    std::lock_guard<std::mutex> g(gate_->mu);
    if (!st->pending->outcome.has_value()) {
      return true;  // not expected: resumed without an outcome; wait for the callback
    }
    outcome = std::move(st->pending->outcome);
    st->pending->outcome.reset();
    st->pending->abandoned = true;  // answered: nothing more to deliver
  }
  return Answer(c, st->start, std::move(*outcome));
}

bool UaServer::Answer(MHD_Connection* c, std::chrono::steady_clock::time_point start,
                      Result<core::Reply> reply) {
  in_flight_.fetch_sub(1);
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  metrics_.Observe("kms_request_duration_seconds", secs);
  if (!reply.ok() && reply.status().code() == StatusCode::kInvalidArgument) {
    // A message MIKEY says not to answer (an Error message, spec §2.9): no MIKEY body.
    metrics_.Inc("kms_requests_total", {{"type", "unknown"}, {"result", "not_answered"}});
    return QueueText(c, MHD_HTTP_BAD_REQUEST, "MIKEY Error messages are not answered\n");
  }
  if (!reply.ok()) {
    const bool unavailable = reply.status().code() == StatusCode::kUnavailable ||
                             reply.status().code() == StatusCode::kResourceExhausted;
    metrics_.Inc("kms_requests_total",
                 {{"type", "unknown"}, {"result", unavailable ? "unavailable" : "internal"}});
    return QueueText(c, unavailable ? MHD_HTTP_SERVICE_UNAVAILABLE : MHD_HTTP_INTERNAL_SERVER_ERROR,
                     unavailable ? "service unavailable\n" : "internal error\n",
                     {{"Retry-After", "1"}});
  }
  metrics_.Inc("kms_requests_total", {{"type", std::to_string(reply->request_data_type)},
                                      {"result", reply->result}});
  return QueueBytes(c, MHD_HTTP_OK, reply->body, "application/mikey");
}

void UaServer::ReloadTls(std::shared_ptr<TlsIdentity> tls) { TlsIdentitySlot::Set(std::move(tls)); }

Result<std::unique_ptr<UaServer>> UaServer::Start(const UaServerOptions& options,
                                                  std::shared_ptr<TlsIdentity> tls,
                                                  core::MessageHandler& handler, Metrics& metrics) {
  if (tls == nullptr) {
    return InvalidArgumentError("the HTTPS listener needs a certificate and key");
  }
  std::unique_ptr<UaServer> s(new UaServer(options, handler, metrics));
  s->deadlines_ = std::make_unique<RequestDeadlines>(
      std::chrono::seconds(options.request_timeout_s), [m = &metrics](size_t cut) {
        m->Inc("kms_http_refused_total", {{"status", "timeout"}}, cut);
      });
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(options.port);
  if (inet_pton(AF_INET, options.listen_address.c_str(), &addr.sin_addr) != 1) {
    return InvalidArgumentError("listen address is not an IPv4 literal: " + options.listen_address);
  }
  const unsigned flags =
      MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_TLS | MHD_USE_ITC | MHD_ALLOW_SUSPEND_RESUME;
  TlsIdentitySlot::Set(std::move(tls));
  s->daemon_ = MHD_start_daemon(
      flags, options.port, nullptr, nullptr, &Impl::Access, s.get(),
      MHD_OPTION_SOCK_ADDR, reinterpret_cast<const sockaddr*>(&addr),
      MHD_OPTION_HTTPS_CERT_CALLBACK, TlsIdentitySlot::Callback(),
      MHD_OPTION_HTTPS_PRIORITIES, kTlsPriorities,
      MHD_OPTION_THREAD_POOL_SIZE, options.threads,
      MHD_OPTION_CONNECTION_LIMIT, options.connection_limit,
      MHD_OPTION_PER_IP_CONNECTION_LIMIT, options.per_ip_connection_limit,
      MHD_OPTION_CONNECTION_TIMEOUT, options.idle_timeout_s,
      MHD_OPTION_CONNECTION_MEMORY_LIMIT, static_cast<size_t>(128 * 1024),
      MHD_OPTION_NOTIFY_COMPLETED, &Impl::Completed, s.get(),
      MHD_OPTION_NOTIFY_CONNECTION, &RequestDeadlines::Notify, s->deadlines_.get(),
      // With a pre-bound socket MHD ignores the address above (MHD_OPTION_END ends the list
      // early otherwise).
      options.listen_fd >= 0 ? MHD_OPTION_LISTEN_SOCKET : MHD_OPTION_END, options.listen_fd,
      MHD_OPTION_END);
  if (s->daemon_ == nullptr) {
    TlsIdentitySlot::Clear();
    return UnavailableError("cannot start the HTTPS listener on " + options.listen_address + ":" +
                            std::to_string(options.port) +
                            " (port in use?)");
  }
  s->port_ = BoundPort(s->daemon_);
  return s;
}

void UaServer::Drain(std::chrono::milliseconds max_wait) {
  if (daemon_ == nullptr) {
    return;
  }
  // No new connections; the listening socket is handed back to us. It is closed only once
  // the daemon has stopped: its polling thread may still be taking the socket out of its
  // epoll set after quiesce returns (ThreadSanitizer saw close race that epoll_ctl).
  quiesced_fd_ = MHD_quiesce_daemon(daemon_);
  draining_.store(true);  // requests still arriving on open connections get 503
  const auto deadline = std::chrono::steady_clock::now() + max_wait;
  while (in_flight_.load() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  StopDaemon();
}

void UaServer::StopDaemon() {
  size_t abandoned = 0;
  {
    std::lock_guard<std::mutex> g(gate_->mu);
    gate_->open = false;  // a callback still to come finds no connection to resume
    // Requests still waiting for their audit row past the drain deadline: answered 503 now
    // (the decision, if it is made, stays audited; the client just does not get it).
    // libmicrohttpd must not be stopped with a suspended connection (microhttpd.h,
    // MHD_suspend_connection), and leaving it running would call into this object after
    // it is freed.
    for (Pending* p : gate_->suspended) {
      p->outcome = UnavailableError("server stopped before the answer was ready");
      p->suspended = false;
      p->abandoned = true;
      MHD_resume_connection(p->connection);
    }
    abandoned = gate_->suspended.size();
    gate_->suspended.clear();
  }
  if (abandoned > 0) {
    metrics_.Inc("kms_http_refused_total", {{"status", "shutdown"}}, abandoned);
  }
  // Give the replies just produced (and the 503s above) a moment to be written.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  while (in_flight_.load() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  MHD_stop_daemon(daemon_);  // closes every connection; no callback into this object after
  daemon_ = nullptr;
  if (quiesced_fd_ != MHD_INVALID_SOCKET) {
    close(quiesced_fd_);
    quiesced_fd_ = -1;
  }
  TlsIdentitySlot::Clear();  // no handshake can be running any more
}

UaServer::~UaServer() {
  if (daemon_ != nullptr) {
    Drain(std::chrono::seconds(2));
  }
}

}  // namespace kms::http
