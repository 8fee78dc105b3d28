// Transport of Ticket Request / Ticket Resolve messages to the KMS (spec §8.2 item 1):
// HTTP/1.1 POST over TLS (>= 1.2) with Content-Type application/mikey; the reply body is
// returned only for "200 OK" with Content-Type application/mikey.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "src/base/result.h"

namespace kms::client {

// KmsTransport: one request/response exchange with a KMS (an interface so flows can be
// run against an in-process KMS in tests).
class KmsTransport {
 public:
  virtual ~KmsTransport() = default;
  virtual Result<std::vector<uint8_t>> Exchange(std::span<const uint8_t> mikey_request) = 0;
};

struct HttpsOptions {
  std::string url;            // https://host[:port]/path; other schemes are refused
  std::string ca_file;        // PEM trust anchors; empty = the system store
  std::string pinned_pubkey;  // optional "sha256//<base64>[;sha256//...]" (SPKI pinning)
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds total_timeout{15000};
  size_t max_response_size = 64 * 1024;  // the codec's message size cap
};

// HttpsTransport: libcurl easy handle per exchange (thread-compatible, not thread-safe).
class HttpsTransport final : public KmsTransport {
 public:
  // Create: validates the options (https:// URL, pin syntax) and initializes libcurl once.
  static Result<std::unique_ptr<HttpsTransport>> Create(HttpsOptions opt);

  // Exchange: POSTs the message. kUnavailable for connection / TLS / timeout failures
  // (libcurl's reason, without body bytes), kFailedPrecondition "HTTP status N" for a
  // non-200 status, kDecodeError for a wrong Content-Type or an oversized body.
  Result<std::vector<uint8_t>> Exchange(std::span<const uint8_t> mikey_request) override;

 private:
  explicit HttpsTransport(HttpsOptions opt) : opt_(std::move(opt)) {}
  HttpsOptions opt_;
};

// kMikeyContentType: RFC 3830 §10.1.
inline constexpr std::string_view kMikeyContentType = "application/mikey";

}  // namespace kms::client
