// The protocol steps of kms-client as functions over messages: state between steps is
// kept as the exchanged messages only (never keys); keys are re-derived from them with the
// user's PSK when needed.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "src/base/result.h"
#include "src/client/https_transport.h"
#include "src/client/initiator.h"
#include "src/client/replay_cache.h"
#include "src/client/responder.h"

namespace kms::cli {

struct TicketState {
  std::vector<uint8_t> request_init, request_resp;
};
// RequestTicket: REQUEST_INIT_PSK -> KMS -> REQUEST_RESP (checked by OpenTicket).
Result<TicketState> RequestTicket(client::KmsTransport& kms, const client::Credentials& c,
                                  const client::TicketRequestOptions& o, const client::Env& env);
// OpenTicket: verifies/decrypts the stored REQUEST_RESP against the stored request and
// checks the granted policy against `req` (plus the responders the request named).
Result<std::shared_ptr<const client::InitiatorTicket>> OpenTicket(
    const TicketState& s, const client::Credentials& c, UnixTime now,
    const client::InitiatorRequirements& req = {});

struct ResolveState {
  std::vector<uint8_t> transfer_init, resolve_init, resolve_resp;
};
// ResolveTicket: early checks, RESOLVE_INIT_PSK -> KMS -> RESOLVE_RESP.
Result<ResolveState> ResolveTicket(client::KmsTransport& kms, const client::Credentials& c,
                                   const std::string& kms_id, std::span<const uint8_t> ti,
                                   const client::ResponderPolicy& p, const client::Env& env);
// OpenResolve: re-checks the TRANSFER_INIT, verifies/decrypts RESOLVE_RESP and
// authenticates the TRANSFER_INIT with the resolved keys, recording it in `replay` (the
// device's cache; spec §7.4, §9.1): one seen before within the window is refused with
// kAlreadyExists, detail 1 (MIKEY error Invalid TS).
Result<client::ResponderSession> OpenResolve(const ResolveState& s, const client::Credentials& c,
                                             const client::ResponderPolicy& p, UnixTime now,
                                             client::ReplayCache& replay);
// ReopenResolve: OpenResolve for a state whose TRANSFER_INIT an earlier OpenResolve already
// accepted (`respond` after `resolve`): the same checks, but instead of recording it the
// TRANSFER_INIT must be in `replay` still (kPermissionDenied otherwise), so only a state
// that passed this device's replay check, within its window, is answered.
Result<client::ResponderSession> ReopenResolve(const ResolveState& s, const client::Credentials& c,
                                               const client::ResponderPolicy& p, UnixTime now,
                                               const client::ReplayCache& replay);

// State files: JSON objects of hex strings, written with mode 0600.
Status WriteStateFile(const std::string& path, const nlohmann::json& j);
Result<nlohmann::json> ReadStateFile(const std::string& path);
nlohmann::json ToJson(const TicketState& s);
Result<TicketState> TicketStateFromJson(const nlohmann::json& j);
nlohmann::json ToJson(const ResolveState& s);
Result<ResolveState> ResolveStateFromJson(const nlohmann::json& j);

// PolicySummary: a Ticket Policy's responders, flags (letters of RFC 6043 §6.10) and end
// of validity, for output.
nlohmann::json PolicySummary(const mikey::TicketPolicy& p);

// KeySummary: per crypto session cs_id, SSRC, MKI and (only with show_keys) key/salt hex.
nlohmann::json KeySummary(const client::CallKeys& k, bool show_keys);

}  // namespace kms::cli
