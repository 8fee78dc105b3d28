// MessageHandler: what the Ua front end (src/http) hands a request body to. The KMS core's
// ticket service implements it; the front end stays thin (issue 7): parse HTTP, pass the
// body, return the reply.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "src/base/result.h"

namespace kms::core {

// RequestContext: transport facts for audit and rate limiting; no secrets.
struct RequestContext {
  std::string client_address;  // peer IP (text form)
  std::string correlation_id;  // unique per HTTP request; written to log and audit rows
};

// Reply: a MIKEY message to return with HTTP 200 and Content-Type application/mikey:
// REQUEST_RESP, RESOLVE_RESP or a MIKEY Error message (data type 6).
struct Reply {
  std::vector<uint8_t> body;
  uint8_t request_data_type = 0;  // data type of the request (0xff if it did not parse)
  bool is_error = false;          // body is a MIKEY Error message
  std::string result;             // short label for metrics: "granted", "refused", "error"
};

class MessageHandler {
 public:
  virtual ~MessageHandler() = default;
  // Handle: processes one MIKEY request. Protocol-level failures (bad MAC, refused policy,
  // unparseable message) are a Reply carrying a MIKEY Error message, not an error Status.
  // An error Status means the service cannot answer at all: kUnavailable (token or audit
  // down: HTTP 503), kResourceExhausted (overload / rate limit: 429 or 503),
  // kInvalidArgument (a message MIKEY says not to answer, i.e. an Error message: HTTP 400).
  virtual Result<Reply> Handle(std::span<const uint8_t> body, const RequestContext& context) = 0;
  // HandleAsync: Handle without holding the caller's thread while the decision's audit row
  // is made durable (the group commit's fsync). `done` runs exactly once with what Handle
  // would have returned, on this thread or on the audit writer's, possibly before
  // HandleAsync returns; it must not block. The reply is still released only after its
  // audit row is durable. The default calls Handle.
  using Done = std::function<void(Result<Reply>)>;
  virtual void HandleAsync(std::span<const uint8_t> body, const RequestContext& context,
                           Done done) {
    done(Handle(body, context));
  }
  // Ready: true when the token session, the database and the audit writer are usable
  // (for /readyz). Fills `why` with a short reason when not ready.
  virtual bool Ready(std::string* why) const = 0;
};

}  // namespace kms::core
