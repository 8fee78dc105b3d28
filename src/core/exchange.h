// TicketService::Exchange: the state of one REQUEST_INIT or RESOLVE_INIT while it is
// processed. Lives on the stack of one Handle() call; never stored.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <vector>

#include "src/core/suite.h"
#include "src/core/ticket_service.h"
#include "src/crypto/prf.h"

namespace kms::core {

struct TicketService::Exchange {
  Exchange(std::span<const uint8_t> w, const RequestContext& c) : wire(w), ctx(c) {}

  std::span<const uint8_t> wire;  // the request exactly as received
  const RequestContext& ctx;
  mikey::Message msg;
  bool decoded = false;           // the whole message decoded (msg is valid)
  std::optional<mikey::Hdr> hdr;  // set once the HDR parsed (copied into Error replies)
  std::string action = "UNPARSEABLE";
  UnixTime received{};
  UnixTime sent{};
  SuiteParams suite;

  // Filled by Authenticate().
  std::string credential_id;
  std::optional<ports::CredentialInfo> credential;
  std::optional<ports::UserInfo> user;
  std::string identity;  // IDRi (request) or IDRr (resolve), bound to the credential
  // Set once the MAC verified under the credential and `identity` is one of its user's own;
  // until then `identity` is only what the client claims (audit rows say so).
  bool authenticated = false;
  mikey::IdType identity_type = mikey::IdType::kUri;
  ports::KeyRef psk{};
  size_t psk_size = 0;
  std::vector<uint8_t> rand;  // RANDRi (request) or RANDRr (resolve)
  // Set once the replay cache accepted the message; goes with its audit row (persisted, so
  // a restarted kmsd remembers it: ports::ReplayMark).
  std::optional<ports::ReplayMark> replay_mark;

  // The audit row: appended by AuditDecision, or (defer_audit, HandleAsync) kept here and
  // appended by HandleAsync once the reply is built.
  bool defer_audit = false;
  bool decided = false;          // the policy allowed the message (set by the flows)
  bool audit_attempted = false;  // AuditDecision ran for this message
  std::optional<ports::AuditRecord> deferred_audit;
  // For the audit row. `initiator` is set once it is authenticated (the request's own
  // identity, or the IDRi of a ticket whose MAC verified); before that a resolve knows only
  // the IDRi the ticket claims.
  std::string claimed_initiator;
  std::string initiator;
  std::string responders;
  std::string ticket_id;
  uint64_t policy_version = 0;
};

// NtpNow: a Clock reading as NTP-UTC (T payloads are 64-bit NTP-UTC, spec §11 A20).
Result<uint64_t> NtpNow(const Clock& clock);
// TimeOf: a received T/TR value as an instant; COUNTER timestamps have none (kInvalidArgument).
Result<UnixTime> TimeOf(mikey::TsType type, uint64_t value);
// Text: identity bytes as a string (for policy lookups and audit rows).
std::string Text(std::span<const uint8_t> bytes);
// MpkEntry: an MPK key-data entry (MPKi, MPKr, MPKr') with a zero SPI (spec §11 A8).
mikey::KeyData MpkEntry(SecretBytes key);
// JoinIdentities: IDRr values ';'-separated (audit rows).
std::string JoinIdentities(const std::vector<std::string>& ids);

}  // namespace kms::core
