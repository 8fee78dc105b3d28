// toml++ is used header-only with exceptions off, so parse errors come back as values
// (no exception crosses our code).
#define TOML_HEADER_ONLY 1
#define TOML_EXCEPTIONS 0
#include "src/daemon/config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <toml++/toml.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>

namespace kms::daemon {
namespace {

std::string Where(const std::string& src, const toml::source_region& r) {
  return src + ":" + std::to_string(r.begin.line);
}

class Reader {
 public:
  Reader(const std::string& src, const toml::table& t, std::string name)
      : src_(src), t_(t), name_(std::move(name)) {}

  template <typename T>
  Status Int(const char* key, T* out, int64_t min, int64_t max) {
    seen_.insert(key);
    const toml::node* n = t_.get(key);
    if (n == nullptr) {
      return Status::Ok();
    }
    auto v = n->value_exact<int64_t>();
    if (!v) {
      return Err(*n, std::string("'") + key + "' must be an integer");
    }
    if (*v < min || *v > max) {
      return Err(*n, std::string("'") + key + "' must be between " + std::to_string(min) +
                         " and " + std::to_string(max));
    }
    *out = static_cast<T>(*v);
    return Status::Ok();
  }
  Status Double(const char* key, double* out, double min, double max) {
    seen_.insert(key);
    const toml::node* n = t_.get(key);
    if (n == nullptr) {
      return Status::Ok();
    }
    auto v = n->value<double>();
    // TOML allows nan and inf (TOML 1.0 "Float"); a NaN compares false with both bounds, so
    // it is refused by name: rate_per_s = nan would otherwise switch the rate limit off.
    if (!v || !std::isfinite(*v) || *v < min || *v > max) {
      return Err(*n, std::string("'") + key + "' must be a number between " + std::to_string(min) +
                         " and " + std::to_string(max));
    }
    *out = *v;
    return Status::Ok();
  }
  Status Str(const char* key, std::string* out) {
    seen_.insert(key);
    const toml::node* n = t_.get(key);
    if (n == nullptr) {
      return Status::Ok();
    }
    auto v = n->value_exact<std::string>();
    if (!v) {
      return Err(*n, std::string("'") + key + "' must be a string");
    }
    *out = *v;
    return Status::Ok();
  }
  // Ipv4: a string holding an IPv4 literal (what the listeners bind; no name lookup), so
  // --check-config refuses what start-up would (exit 2, not 1 at bind time).
  Status Ipv4(const char* key, std::string* out) {
    KMS_RETURN_IF_ERROR(Str(key, out));
    in_addr addr{};
    if (inet_pton(AF_INET, out->c_str(), &addr) != 1) {
      return Err(*t_.get(key),
                 std::string("'") + key + "' must be an IPv4 address literal, not '" + *out + "'");
    }
    return Status::Ok();
  }
  Status Bool(const char* key, bool* out) {
    seen_.insert(key);
    const toml::node* n = t_.get(key);
    if (n == nullptr) {
      return Status::Ok();
    }
    auto v = n->value_exact<bool>();
    if (!v) {
      return Err(*n, std::string("'") + key + "' must be true or false");
    }
    *out = *v;
    return Status::Ok();
  }
  // Done: every key of the table must have been asked for.
  Status Done() {
    for (const auto& [k, v] : t_) {
      if (seen_.count(std::string(k.str())) == 0) {
        return InvalidArgumentError(Where(src_, k.source()) + ": unknown key '" +
                                    std::string(k.str()) + "' in [" + name_ + "]");
      }
    }
    return Status::Ok();
  }

 private:
  Status Err(const toml::node& n, const std::string& what) {
    return InvalidArgumentError(Where(src_, n.source()) + ": [" + name_ + "] " + what);
  }
  const std::string& src_;
  const toml::table& t_;
  std::string name_;
  std::set<std::string> seen_;
};

Status ReadKms(Reader& r, core::KmsOptions* k) {
  KMS_RETURN_IF_ERROR(r.Str("identity", &k->kms_identity));
  int64_t window = k->replay_window.count();
  KMS_RETURN_IF_ERROR(r.Int("replay_window_s", &window, 1, 3600));
  k->replay_window = std::chrono::seconds(window);
  KMS_RETURN_IF_ERROR(r.Int("default_validity_s", &k->default_validity_s, 60, 7 * 86400));
  KMS_RETURN_IF_ERROR(r.Int("max_message_size", &k->decode_limits.max_message_size, 512, 1 << 20));
  return r.Done();
}

Status ReadServer(Reader& r, http::UaServerOptions* s, uint32_t* workers, TlsSettings* tls) {
  KMS_RETURN_IF_ERROR(r.Ipv4("listen", &s->listen_address));
  KMS_RETURN_IF_ERROR(r.Int("port", &s->port, 0, 65535));
  KMS_RETURN_IF_ERROR(r.Str("path", &s->path));
  KMS_RETURN_IF_ERROR(r.Int("threads", &s->threads, 1, 256));
  KMS_RETURN_IF_ERROR(r.Int("workers", workers, 0, 1024));
  KMS_RETURN_IF_ERROR(r.Str("tls_cert", &tls->cert_file));
  KMS_RETURN_IF_ERROR(r.Str("tls_key", &tls->key));
  KMS_RETURN_IF_ERROR(r.Int("body_limit", &s->body_limit, 512, 1 << 20));
  KMS_RETURN_IF_ERROR(r.Int("connection_limit", &s->connection_limit, 1, 100'000));
  KMS_RETURN_IF_ERROR(r.Int("per_ip_connection_limit", &s->per_ip_connection_limit, 1, 100'000));
  KMS_RETURN_IF_ERROR(r.Int("idle_timeout_s", &s->idle_timeout_s, 1, 3600));
  KMS_RETURN_IF_ERROR(r.Int("request_timeout_s", &s->request_timeout_s, 1, 3600));
  KMS_RETURN_IF_ERROR(r.Double("rate_per_s", &s->rate_per_s, 0, 1e6));
  KMS_RETURN_IF_ERROR(r.Double("rate_burst", &s->rate_burst, 1, 1e6));
  KMS_RETURN_IF_ERROR(r.Int("max_in_flight", &s->max_in_flight, 1, 100'000));
  return r.Done();
}

Status ReadOps(Reader& r, http::OpsServerOptions* o) {
  KMS_RETURN_IF_ERROR(r.Ipv4("listen", &o->listen_address));
  KMS_RETURN_IF_ERROR(r.Int("port", &o->port, 0, 65535));
  return r.Done();
}

Status ReadToken(Reader& r, TokenSettings* t) {
  KMS_RETURN_IF_ERROR(r.Str("module", &t->module));
  KMS_RETURN_IF_ERROR(r.Str("uri", &t->uri));
  KMS_RETURN_IF_ERROR(r.Str("pin_file", &t->pin_file));
  KMS_RETURN_IF_ERROR(r.Str("pin_credential", &t->pin_credential));
  KMS_RETURN_IF_ERROR(r.Int("pool_size", &t->pool_size, 1, 1024));
  KMS_RETURN_IF_ERROR(r.Str("credential_storage", &t->credential_storage));
  KMS_RETURN_IF_ERROR(r.Int("credential_cache", &t->credential_cache, 1, 1'000'000));
  return r.Done();
}

Status ReadAudit(Reader& r, AuditSettings* a) {
  KMS_RETURN_IF_ERROR(r.Int("batch_interval_ms", &a->batch_interval_ms, 0, 1000));
  KMS_RETURN_IF_ERROR(r.Int("max_wait_ms", &a->max_wait_ms, 10, 60'000));
  KMS_RETURN_IF_ERROR(r.Int("queue_limit", &a->queue_limit, 1, 10'000'000));
  KMS_RETURN_IF_ERROR(r.Int("checkpoint_rows", &a->checkpoint_rows, 1, 10'000'000));
  KMS_RETURN_IF_ERROR(r.Int("checkpoint_interval_s", &a->checkpoint_interval_s, 1, 86400));
  return r.Done();
}

Status ReadProcess(Reader& r, ProcessSettings* p) {
  KMS_RETURN_IF_ERROR(r.Str("user", &p->user));
  KMS_RETURN_IF_ERROR(r.Bool("mlockall", &p->mlockall));
  KMS_RETURN_IF_ERROR(r.Bool("seccomp", &p->seccomp));
  KMS_RETURN_IF_ERROR(r.Bool("require_integrity_digest", &p->require_integrity_digest));
  return r.Done();
}

}  // namespace

uint32_t Config::workers(unsigned usable_cpus) const {
  if (decision_workers != 0) return decision_workers;
  return std::max<uint32_t>(1, std::min<uint32_t>(token.pool_size, usable_cpus));
}

Result<Config> ParseConfig(std::string_view text, const std::string& source_name) {
  toml::parse_result parsed = toml::parse(text, source_name);
  if (!parsed) {
    const toml::parse_error& e = parsed.error();
    return InvalidArgumentError(Where(source_name, e.source()) + ": " +
                                std::string(e.description()));
  }
  const toml::table& root = parsed.table();
  Config c;
  c.path = source_name;
  std::string database_path = c.database;
  const std::map<std::string, std::function<Status(Reader&)>> sections = {
      {"kms", [&](Reader& r) { return ReadKms(r, &c.kms); }},
      {"server", [&](Reader& r) { return ReadServer(r, &c.server, &c.decision_workers, &c.tls); }},
      {"ops", [&](Reader& r) { return ReadOps(r, &c.ops); }},
      {"token", [&](Reader& r) { return ReadToken(r, &c.token); }},
      {"database",
       [&](Reader& r) {
         KMS_RETURN_IF_ERROR(r.Str("path", &c.database));
         KMS_RETURN_IF_ERROR(r.Int("cache_entries", &c.database_cache_entries, 0, 10'000'000));
         return r.Done();
       }},
      {"audit", [&](Reader& r) { return ReadAudit(r, &c.audit); }},
      {"keys",
       [&](Reader& r) {
         KMS_RETURN_IF_ERROR(
             r.Int("tpk_max_tickets", &c.keys.tpk_max_tickets, 0, int64_t{1} << 62));
         return r.Done();
       }},
      {"process", [&](Reader& r) { return ReadProcess(r, &c.process); }},
  };
  for (const auto& [key, node] : root) {
    const std::string name(key.str());
    auto it = sections.find(name);
    if (it == sections.end()) {
      return InvalidArgumentError(Where(source_name, key.source()) + ": unknown section or key '" +
                                  name + "'");
    }
    const toml::table* t = node.as_table();
    if (t == nullptr) {
      return InvalidArgumentError(Where(source_name, key.source()) + ": '" + name +
                                  "' must be a table");
    }
    Reader r(source_name, *t, name);
    KMS_RETURN_IF_ERROR(it->second(r));
  }
  // Cross-field rules.
  if (c.token.pin_file.empty() == c.token.pin_credential.empty()) {
    return InvalidArgumentError(source_name +
                                ": [token] needs exactly one of pin_file or pin_credential");
  }
  if (c.token.credential_storage != "wrapped" && c.token.credential_storage != "token-objects") {
    return InvalidArgumentError(source_name +
                                ": [token] credential_storage must be \"wrapped\" or \"token-objects\"");
  }
  if (c.tls.cert_file.empty() || c.tls.key.empty()) {
    return InvalidArgumentError(source_name + ": [server] tls_cert and tls_key are required");
  }
  if (c.server.path.empty() || c.server.path[0] != '/') {
    return InvalidArgumentError(source_name + ": [server] path must start with '/'");
  }
  if (c.server.rate_burst < 1) {
    return InvalidArgumentError(source_name + ": [server] rate_burst must be at least 1");
  }
  return c;
}

Result<Config> LoadConfig(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return InvalidArgumentError(path + ": cannot read the configuration file");
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return ParseConfig(ss.str(), path);
}

}  // namespace kms::daemon
