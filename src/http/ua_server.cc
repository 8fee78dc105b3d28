#include "src/http/ua_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <optional>
#include <thread>

#include "src/http/boundary.h"
#include "src/http/http_util.h"

namespace kms::http {

struct UaServer::Generation {
  UaServer* server = nullptr;
  MHD_Daemon* daemon = nullptr;
  SecretBytes key_pem;  // MHD keeps a pointer to it; scrubbed when the generation ends
  std::string cert_pem;
  std::atomic<int> active{0};  // requests between first callback and completion
  ~Generation() {
    if (daemon != nullptr) {
      MHD_stop_daemon(daemon);
    }
  }
};

struct UaServer::RequestState {
  std::chrono::steady_clock::time_point start;
  std::string client;
  std::string cid;
  std::vector<uint8_t> body;
  unsigned status = 0;        // HTTP status sent (0: none, connection closed)
  std::string type = "none";  // MIKEY data type label
  std::string result = "none";
  std::string reason;         // short transport reason for the log
  size_t bytes_out = 0;
  bool too_large = false;
};

namespace {

constexpr size_t kMaxFileBytes = 1 << 20;
constexpr size_t kConnectionMemoryLimit = 32 * 1024;

MHD_Result ToMhd(int r) { return r == MHD_YES ? MHD_YES : MHD_NO; }

// QueueStatic500: used after an exception; C calls only, no allocation in C++.
MHD_Result QueueStatic500(MHD_Connection* connection) {
  static const char kBody[] = "internal error\n";
  MHD_Response* r = MHD_create_response_from_buffer(sizeof(kBody) - 1,
                                                    const_cast<char*>(kBody),
                                                    MHD_RESPMEM_PERSISTENT);
  if (r == nullptr) {
    return MHD_NO;
  }
  MHD_Result q = MHD_queue_response(connection, 500, r);
  MHD_destroy_response(r);
  return q;
}

MHD_Result AccessTrampoline(void* cls, MHD_Connection* connection, const char* url,
                            const char* method, const char* /*version*/,
                            const char* upload_data, size_t* upload_data_size,
                            void** con_cls) noexcept {
  auto* gen = static_cast<UaServer::Generation*>(cls);
  std::optional<int> r = CallGuarded<std::optional<int>>(std::nullopt, [&] {
    return std::optional<int>(
        gen->server->OnAccess(gen, connection, url, method, upload_data, upload_data_size,
                              con_cls));
  });
  if (r.has_value()) {
    return ToMhd(*r);
  }
  return QueueStatic500(connection);
}

void CompletedTrampoline(void* cls, MHD_Connection* /*connection*/, void** con_cls,
                         MHD_RequestTerminationCode toe) noexcept {
  auto* gen = static_cast<UaServer::Generation*>(cls);
  CallGuardedVoid([&] { gen->server->OnCompleted(gen, con_cls, static_cast<int>(toe)); });
}

void MhdLogTrampoline(void* cls, const char* fmt, va_list ap) noexcept {
  const auto* log = static_cast<const Logger*>(cls);
  char buf[256];
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
  std::vsnprintf(buf, sizeof(buf), fmt, ap);
#pragma GCC diagnostic pop
  CallGuardedVoid([&] { log->Log(LogLevel::kWarning, "mhd", {{"msg", buf}}); });
}

std::string MikeyTypeLabel(uint8_t data_type) {
  // RFC 6043 §6.1 data types (spec mikey-ticket.md §3.1).
  switch (data_type) {
    case 11:
      return "request_init_psk";
    case 12:
      return "request_init_pk";
    case 16:
      return "resolve_init_psk";
    case 17:
      return "resolve_init_pk";
    case 0xff:
      return "unparsed";
    default:
      return "other";
  }
}

}  // namespace

Result<std::string> ReadTextFile(const std::string& path) {
  KMS_ASSIGN_OR_RETURN(SecretBytes bytes, ReadSecretFile(path));
  auto v = bytes.Reveal();
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() - 1);
}

Result<SecretBytes> ReadSecretFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    return UnavailableError("cannot open " + path + ": " + std::strerror(errno));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < 0 ||
      static_cast<size_t>(st.st_size) > kMaxFileBytes) {
    ::close(fd);
    return InvalidArgumentError(path + ": not a regular file of at most 1 MiB");
  }
  SecretBytes out(static_cast<size_t>(st.st_size) + 1);
  size_t got = 0;
  auto buf = out.RevealMutable();
  while (got < buf.size() - 1) {
    ssize_t n = ::read(fd, buf.data() + got, buf.size() - 1 - got);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      break;
    }
    got += static_cast<size_t>(n);
  }
  ::close(fd);
  if (got != buf.size() - 1) {
    return UnavailableError("short read from " + path);
  }
  buf[got] = 0;
  return out;
}

Status CheckTlsKeyPair(const std::string& cert_pem, const SecretBytes& key_pem) {
  gnutls_certificate_credentials_t cred = nullptr;
  if (gnutls_certificate_allocate_credentials(&cred) != GNUTLS_E_SUCCESS) {
    return InternalError("gnutls_certificate_allocate_credentials failed");
  }
  gnutls_datum_t cert{reinterpret_cast<unsigned char*>(const_cast<char*>(cert_pem.data())),
                      static_cast<unsigned>(cert_pem.size())};
  auto key_view = key_pem.Reveal();
  gnutls_datum_t key{const_cast<unsigned char*>(key_view.data()),
                     static_cast<unsigned>(key_view.empty() ? 0 : key_view.size() - 1)};
  int rc = gnutls_certificate_set_x509_key_mem2(cred, &cert, &key, GNUTLS_X509_FMT_PEM,
                                                nullptr, 0);
  gnutls_certificate_free_credentials(cred);
  if (rc < 0) {
    // gnutls_strerror names the problem (e.g. key does not match); never the key itself.
    return InvalidArgumentError(std::string("TLS certificate/key rejected: ") +
                                gnutls_strerror(rc));
  }
  return Status::Ok();
}

UaServer::UaServer(UaServerOptions options, ListenSocket socket, core::MessageHandler* handler,
                   const Logger* log)
    : options_(std::move(options)),
      socket_(std::move(socket)),
      handler_(handler),
      log_(log),
      limiter_(options_.rate_limit) {}

UaServer::~UaServer() { Stop(); }

Status UaServer::RegisterMetrics(MetricsRegistry* metrics) {
  KMS_ASSIGN_OR_RETURN(requests_total_,
                       metrics->AddCounter("kms_ua_requests_total",
                                           "MIKEY requests answered with 200, by type and result",
                                           {"type", "result"}));
  KMS_ASSIGN_OR_RETURN(responses_total_,
                       metrics->AddCounter("kms_ua_http_responses_total",
                                           "Ua HTTP responses by status code", {"code"}));
  KMS_ASSIGN_OR_RETURN(latency_, metrics->AddHistogram("kms_ua_request_duration_seconds",
                                                       "Ua request latency (handler answered)",
                                                       {"type"}, DefaultLatencyBuckets()));
  KMS_RETURN_IF_ERROR(metrics->AddCallbackGauge(
      "kms_ua_in_flight", "Ua requests inside the message handler",
      [this] { return static_cast<double>(in_flight_.load()); }));
  return metrics->AddCallbackGauge("kms_ua_rate_limit_clients",
                                   "Client addresses tracked by the rate limiter",
                                   [this] { return static_cast<double>(limiter_.tracked_clients()); });
}

Result<std::unique_ptr<UaServer>> UaServer::Start(UaServerOptions options, ListenSocket socket,
                                                  core::MessageHandler* handler,
                                                  MetricsRegistry* metrics, const Logger* log) {
  KMS_CHECK(handler != nullptr && metrics != nullptr && log != nullptr);
  if (options.path.empty() || options.path[0] != '/') {
    return InvalidArgumentError("Ua path must start with '/'");
  }
  if (options.threads == 0 || options.body_limit == 0 || options.max_in_flight == 0) {
    return InvalidArgumentError("threads, body_limit and max_in_flight must be positive");
  }
  KMS_ASSIGN_OR_RETURN(std::string cert_pem, ReadTextFile(options.tls_cert_file));
  KMS_ASSIGN_OR_RETURN(SecretBytes key_pem, ReadSecretFile(options.tls_key_file));
  KMS_RETURN_IF_ERROR(CheckTlsKeyPair(cert_pem, key_pem));

  std::unique_ptr<UaServer> server(
      new UaServer(std::move(options), std::move(socket), handler, log));
  KMS_RETURN_IF_ERROR(server->RegisterMetrics(metrics));
  if (RAND_bytes(reinterpret_cast<unsigned char*>(&server->cid_prefix_),
                 sizeof(server->cid_prefix_)) != 1) {
    return InternalError("RAND_bytes failed");
  }
  KMS_ASSIGN_OR_RETURN(server->current_,
                       server->StartGeneration(std::move(key_pem), std::move(cert_pem)));
  log->Log(LogLevel::kInfo, "ua_listening",
           {{"port", std::to_string(server->port())}, {"path", server->options_.path}});
  return server;
}

Result<std::unique_ptr<UaServer::Generation>> UaServer::StartGeneration(SecretBytes key_pem,
                                                                        std::string cert_pem) {
  auto gen = std::make_unique<Generation>();
  gen->server = this;
  gen->key_pem = std::move(key_pem);
  gen->cert_pem = std::move(cert_pem);
  const char* key = reinterpret_cast<const char*>(gen->key_pem.Reveal().data());
  unsigned int flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_TLS | MHD_USE_ITC;
  gen->daemon = MHD_start_daemon(
      flags, 0, nullptr, nullptr, &AccessTrampoline, gen.get(),  //
      MHD_OPTION_LISTEN_SOCKET, static_cast<MHD_socket>(socket_.fd()),
      MHD_OPTION_THREAD_POOL_SIZE, static_cast<unsigned int>(options_.threads),
      MHD_OPTION_CONNECTION_LIMIT, static_cast<unsigned int>(options_.connection_limit),
      MHD_OPTION_PER_IP_CONNECTION_LIMIT,
      static_cast<unsigned int>(options_.per_ip_connection_limit),
      MHD_OPTION_CONNECTION_TIMEOUT, static_cast<unsigned int>(options_.connection_timeout_s),
      MHD_OPTION_CONNECTION_MEMORY_LIMIT, kConnectionMemoryLimit,
      MHD_OPTION_STRICT_FOR_CLIENT, 1,
      MHD_OPTION_HTTPS_MEM_KEY, key,
      MHD_OPTION_HTTPS_MEM_CERT, gen->cert_pem.c_str(),
      MHD_OPTION_HTTPS_PRIORITIES, kUaTlsPriorities,
      MHD_OPTION_NOTIFY_COMPLETED, &CompletedTrampoline, gen.get(),
      MHD_OPTION_EXTERNAL_LOGGER, &MhdLogTrampoline, const_cast<Logger*>(log_),
      MHD_OPTION_END);
  if (gen->daemon == nullptr) {
    return UnavailableError("MHD_start_daemon failed for the Ua listener");
  }
  return gen;
}

Status UaServer::ReloadTls() {
  KMS_ASSIGN_OR_RETURN(std::string cert_pem, ReadTextFile(options_.tls_cert_file));
  KMS_ASSIGN_OR_RETURN(SecretBytes key_pem, ReadSecretFile(options_.tls_key_file));
  KMS_RETURN_IF_ERROR(CheckTlsKeyPair(cert_pem, key_pem));
  std::lock_guard lock(gens_mu_);
  if (stopped_.load() || draining_.load() || current_ == nullptr) {
    return FailedPreconditionError("Ua listener is stopping");
  }
  // Quiesce: the old daemon stops polling the listening socket (which we own) but keeps
  // its connections; the new daemon accepts from the same socket with the new credentials.
  if (MHD_quiesce_daemon(current_->daemon) == MHD_INVALID_SOCKET) {
    return InternalError("MHD_quiesce_daemon failed");
  }
  std::unique_ptr<Generation> old = std::move(current_);
  auto next = StartGeneration(std::move(key_pem), std::move(cert_pem));
  if (!next.ok()) {
    // Keep serving with the previous credentials rather than not at all.
    auto again = StartGeneration(old->key_pem.Clone(), old->cert_pem);
    retired_.push_back(std::move(old));
    if (again.ok()) {
      current_ = std::move(again).value();
    }
    return next.status();
  }
  current_ = std::move(next).value();
  retired_.push_back(std::move(old));
  log_->Log(LogLevel::kInfo, "tls_reloaded", {{"retired_daemons", std::to_string(retired_.size())}});
  return Status::Ok();
}

void UaServer::ReapRetired() {
  std::vector<std::unique_ptr<Generation>> done;
  {
    std::lock_guard lock(gens_mu_);
    for (auto it = retired_.begin(); it != retired_.end();) {
      if ((*it)->active.load() == 0) {
        done.push_back(std::move(*it));
        it = retired_.erase(it);
      } else {
        ++it;
      }
    }
  }
  // `done` is destroyed here, outside the lock: MHD_stop_daemon joins its threads.
}

bool UaServer::Drain(std::chrono::milliseconds bound) {
  draining_.store(true);
  {
    std::lock_guard lock(gens_mu_);
    if (current_ != nullptr && current_->daemon != nullptr) {
      MHD_quiesce_daemon(current_->daemon);  // the socket stays ours (closed by ~ListenSocket)
    }
  }
  auto deadline = std::chrono::steady_clock::now() + bound;
  while (in_flight_.load() != 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  bool drained = in_flight_.load() == 0;
  log_->Log(drained ? LogLevel::kInfo : LogLevel::kWarning, "ua_drained",
            {{"in_flight", std::to_string(in_flight_.load())}});
  Stop();
  return drained;
}

void UaServer::Stop() {
  if (stopped_.exchange(true)) {
    return;
  }
  std::unique_ptr<Generation> cur;
  std::vector<std::unique_ptr<Generation>> retired;
  {
    std::lock_guard lock(gens_mu_);
    if (current_ != nullptr && current_->daemon != nullptr && !draining_.load()) {
      // Quiesce first so MHD_stop_daemon leaves the socket to ~ListenSocket.
      MHD_quiesce_daemon(current_->daemon);
    }
    cur = std::move(current_);
    retired = std::move(retired_);
  }
}

bool UaServer::Ready(std::string* why) const {
  if (stopped_.load()) {
    *why = "ua listener stopped";
    return false;
  }
  if (draining_.load()) {
    *why = "ua listener draining";
    return false;
  }
  return true;
}

std::string UaServer::NextCorrelationId() {
  char buf[24];
  std::snprintf(buf, sizeof(buf), "%08x%08x", cid_prefix_, cid_counter_.fetch_add(1));
  return buf;
}

int UaServer::Respond(RequestState* state, MHD_Connection* connection, unsigned status,
                      const std::vector<uint8_t>* body) {
  MHD_Response* r = nullptr;
  if (body != nullptr) {
    r = MHD_create_response_from_buffer(body->size(),
                                        const_cast<uint8_t*>(body->data()),
                                        MHD_RESPMEM_MUST_COPY);
  } else {
    std::string text = std::to_string(status) + " " + StatusText(status) + "\n";
    r = MHD_create_response_from_buffer(text.size(), text.data(), MHD_RESPMEM_MUST_COPY);
  }
  if (r == nullptr) {
    return MHD_NO;
  }
  MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                          body != nullptr ? kMikeyContentType : "text/plain; charset=utf-8");
  MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
  MHD_add_response_header(r, "X-Request-Id", state->cid.c_str());
  if (status == 405) {
    MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "POST");
  }
  if (status == 429 || status == 503) {
    MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, "1");
  }
  state->status = status;
  state->bytes_out = body != nullptr ? body->size() : 0;
  int q = MHD_queue_response(connection, status, r);
  MHD_destroy_response(r);
  return q;
}

int UaServer::OnAccess(Generation* gen, MHD_Connection* connection, const char* url,
                       const char* method, const char* upload_data, size_t* upload_data_size,
                       void** con_cls) {
  auto* state = static_cast<RequestState*>(*con_cls);
  if (state == nullptr) {
    // First call: headers only. Everything that can be decided now is decided now, so an
    // unwanted body is never read (413 on Content-Length, 415, 411, 429, ...).
    auto owned = std::make_unique<RequestState>();
    state = owned.get();
    state->start = std::chrono::steady_clock::now();
    state->cid = NextCorrelationId();
    const MHD_ConnectionInfo* ci =
        MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    state->client = ci != nullptr ? SockaddrToString(ci->client_addr) : "unknown";
    *con_cls = owned.release();
    gen->active.fetch_add(1);

    if (!limiter_.Allow(state->client, state->start)) {
      state->reason = "rate_limited";
      return Respond(state, connection, 429, nullptr);
    }
    if (std::strcmp(url, options_.path.c_str()) != 0) {
      state->reason = "path";
      return Respond(state, connection, 404, nullptr);
    }
    if (std::strcmp(method, MHD_HTTP_METHOD_POST) != 0) {
      state->reason = "method";
      return Respond(state, connection, 405, nullptr);
    }
    const char* ctype =
        MHD_lookup_connection_value(connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    if (!IsMikeyContentType(ctype)) {
      state->reason = "content_type";
      return Respond(state, connection, 415, nullptr);
    }
    const char* clen = MHD_lookup_connection_value(connection, MHD_HEADER_KIND,
                                                   MHD_HTTP_HEADER_CONTENT_LENGTH);
    const char* te = MHD_lookup_connection_value(connection, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_TRANSFER_ENCODING);
    if (clen != nullptr) {
      std::optional<uint64_t> n = ParseContentLength(clen);
      if (!n.has_value()) {
        state->reason = "content_length";
        return Respond(state, connection, 400, nullptr);
      }
      if (*n > options_.body_limit) {
        state->reason = "body_limit";
        return Respond(state, connection, 413, nullptr);
      }
      if (*n == 0) {
        state->reason = "empty_body";
        return Respond(state, connection, 400, nullptr);
      }
      state->body.reserve(static_cast<size_t>(*n));
    } else if (te == nullptr || !EqualsIgnoreCase(te, "chunked")) {
      state->reason = "length_required";
      return Respond(state, connection, 411, nullptr);
    }
    return MHD_YES;
  }

  if (state->status != 0) {
    *upload_data_size = 0;  // a response is queued; discard whatever else arrives
    return MHD_YES;
  }
  // Slow-sender protection: a total budget from the first header callback to the last
  // body byte, on top of MHD's idle timeout.
  auto elapsed = std::chrono::steady_clock::now() - state->start;
  if (elapsed > std::chrono::milliseconds(options_.request_budget_ms)) {
    state->reason = "request_budget";
    return MHD_NO;  // close the connection; no more reading
  }
  if (*upload_data_size != 0) {
    if (state->body.size() + *upload_data_size > options_.body_limit) {
      // Chunked body over the limit: answer 413 and stop reading; if MHD does not accept
      // a response at this point, close the connection instead.
      state->too_large = true;
      state->reason = "body_limit";
      *upload_data_size = 0;
      if (Respond(state, connection, 413, nullptr) != MHD_YES) {
        return MHD_NO;
      }
      return MHD_YES;
    }
    const auto* p = reinterpret_cast<const uint8_t*>(upload_data);
    state->body.insert(state->body.end(), p, p + *upload_data_size);
    *upload_data_size = 0;
    return MHD_YES;
  }
  return Finish(state, connection);
}

int UaServer::Finish(RequestState* state, MHD_Connection* connection) {
  if (state->body.empty()) {
    state->reason = "empty_body";
    return Respond(state, connection, 400, nullptr);
  }
  if (in_flight_.fetch_add(1) >= options_.max_in_flight) {
    in_flight_.fetch_sub(1);
    state->reason = "overload";
    return Respond(state, connection, 503, nullptr);
  }
  core::RequestContext context{state->client, state->cid};
  Result<core::Reply> reply = handler_->Handle(state->body, context);
  in_flight_.fetch_sub(1);
  if (!reply.ok()) {
    StatusCode code = reply.status().code();
    state->result = "unavailable";
    state->reason = std::string(StatusCodeName(code));
    unsigned status =
        (code == StatusCode::kUnavailable || code == StatusCode::kResourceExhausted) ? 503 : 500;
    return Respond(state, connection, status, nullptr);
  }
  state->type = MikeyTypeLabel(reply->request_data_type);
  state->result = SanitizeLabel(reply->result);
  return Respond(state, connection, 200, &reply->body);
}

void UaServer::OnCompleted(Generation* gen, void** con_cls, int termination_code) {
  std::unique_ptr<RequestState> state(static_cast<RequestState*>(*con_cls));
  *con_cls = nullptr;
  if (state == nullptr) {
    return;
  }
  gen->active.fetch_sub(1);
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - state->start).count();
  std::string code = state->status != 0 ? std::to_string(state->status) : "closed";
  responses_total_->Inc({code});
  if (state->status == 200) {
    requests_total_->Inc({state->type, state->result});
    latency_->Observe({state->type}, seconds);
  }
  LogLevel level = state->status >= 500 || state->status == 0 ? LogLevel::kWarning
                                                              : LogLevel::kInfo;
  log_->Log(level, "ua_request",
            {{"cid", state->cid},
             {"client", state->client},
             {"status", code},
             {"type", state->type},
             {"result", state->result},
             {"reason", state->reason.empty() ? "-" : state->reason},
             {"bytes_in", std::to_string(state->body.size())},
             {"bytes_out", std::to_string(state->bytes_out)},
             {"ms", std::to_string(static_cast<int64_t>(seconds * 1000))},
             {"termination", std::to_string(termination_code)}});
}

}  // namespace kms::http
