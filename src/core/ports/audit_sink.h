// AuditSink: the port through which the KMS core records every ticket decision (granted,
// adjusted, denied, error) before it answers (architecture.md §5, style.md "Log vs audit").
// Implemented by policy/ (SQLite, hash-chained, sealed checkpoints, group commit).
// An AuditRecord never holds key material, PINs or whole messages: identities, a credential
// id, a ticket id (a hash of the ticket, not the ticket) and the decision.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "src/base/ntp_time.h"
#include "src/base/result.h"

namespace kms::ports {

enum class AuditOutcome : uint8_t { kOk, kGranted, kAdjusted, kDenied, kError };

// AuditOutcomeName: the stable string stored in the audit row ("ok", "granted", ...).
inline std::string_view AuditOutcomeName(AuditOutcome o) {
  switch (o) {
    case AuditOutcome::kOk: return "ok";
    case AuditOutcome::kGranted: return "granted";
    case AuditOutcome::kAdjusted: return "adjusted";
    case AuditOutcome::kDenied: return "denied";
    case AuditOutcome::kError: return "error";
  }
  return "error";
}

// ReplayMark: a message the replay cache accepted (spec §9.1, RFC 3830 §5.4): the SHA-256 of
// the authenticated message (public: the message travelled in clear) and its timestamp.
// Stored with the audit row, in the same commit, so a restarted kmsd can reload what its
// predecessor answered (evaluator checklist item 18); not part of the audit row's hash.
struct ReplayMark {
  std::array<uint8_t, 32> digest{};
  UnixTime sent{};
};

// kReplayStateLost: the digest of a mark that stands for lost replay state, not for a
// message (no SHA-256 output is known to be all 0xff): every message sent at or before its
// time is to be refused (spec §9.1). `kmsctl backup restore` writes one: the restored marks
// end at the backup, and what was answered after it is unknown.
inline constexpr std::array<uint8_t, 32> kReplayStateLost = {
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

struct AuditRecord {
  UnixTime time{};              // when the decision was taken (the sink does not alter it)
  std::string actor;            // who: "ue:<IDRi>", "kms-peer:<domain>", "admin:<operator>"
  std::string action;           // message type ("REQUEST_INIT_PSK") or admin action
  std::string initiator;        // IDRi (or the admin change's subject)
  std::string responder;        // IDRr list, ';'-separated
  std::string credential_id;    // e.g. the B-TID used (an identifier, not a key)
  std::string ticket_id;        // hex SHA-256 of the ticket, or empty
  AuditOutcome outcome = AuditOutcome::kError;
  std::string rule;             // deciding rule id (policy/decision.h) or error class
  uint64_t policy_version = 0;  // PolicyStore::PolicyVersion() the decision used
  std::string correlation_id;   // request id shared with the operational log
  std::string detail;           // short, non-secret free text (may be empty)
  std::optional<ReplayMark> replay;  // set when this message entered the replay cache
};

class AuditSink {
 public:
  virtual ~AuditSink() = default;

  // Append: stores record and returns its row id once the row is durable (committed with
  // synchronous=FULL). If that cannot be guaranteed within the sink's configured bound it
  // returns kUnavailable (or kResourceExhausted when its queue is full past that bound),
  // and the caller must fail the request: the audit fails closed. Thread-safe.
  virtual Result<int64_t> Append(const AuditRecord& record) = 0;

  // AppendAsync: the same promise without blocking the caller. `done` runs exactly once,
  // with the row id once the row is durable, or with kUnavailable / kResourceExhausted when
  // that cannot be guaranteed within the sink's bound. It may run on another thread (the
  // sink's writer) and may run before AppendAsync returns; it must not block. The default
  // calls Append (for sinks without a writer thread).
  using Done = std::function<void(Result<int64_t>)>;
  virtual void AppendAsync(const AuditRecord& record, Done done) { done(Append(record)); }

  // BeginDecision / EndDecision: bracket the deciding of one message whose row will follow
  // through AppendAsync (EndDecision comes first, then the append). A sink with a
  // group-commit window uses the count of open decisions to commit at once when no other
  // row is on its way, instead of waiting the whole window (policy/audit_writer.h).
  virtual void BeginDecision() {}
  virtual void EndDecision() {}

  // Healthy: false after a write failure or a timed-out Append, true again after the next
  // successful commit. Feeds /readyz.
  virtual bool Healthy() const = 0;
};

}  // namespace kms::ports
