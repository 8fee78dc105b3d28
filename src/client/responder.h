// UE as Responder (spec §7.4): early checks of a received TRANSFER_INIT (RFC 6043
// §4.2.2.2), Ticket Resolve with the KMS (RESOLVE_INIT_PSK / RESOLVE_RESP, RFC 6043
// §4.2.3), authentication of the TRANSFER_INIT with the resolved keys (§4.2.3.6) and the
// TRANSFER_RESP (§4.2.2.3).
//
// REPLAY PROTECTION: a recorded TRANSFER_INIT stays authentic for the whole clock-skew
// window, so the Responder must remember the TRANSFER_INITs it accepted (spec §7.4, §9.1;
// RFC 3830 §5.4). Authenticate with the AuthenticateTransferInit overload that takes a
// ReplayCache, one cache per device shared by all its calls and kept for the process
// lifetime. The overload without it exists only for callers that run the cache themselves.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "src/base/result.h"
#include "src/base/secret_bytes.h"
#include "src/client/common.h"
#include "src/client/policy_check.h"
#include "src/client/replay_cache.h"
#include "src/client/session_keys.h"
#include "src/mikey/message.h"

namespace kms::client {

// ReceivedTransferInit: a TRANSFER_INIT that passed the early checks (not authenticated).
struct ReceivedTransferInit {
  std::vector<uint8_t> wire;  // exactly as received
  mikey::Message msg;         // decoded from `wire`
};

// ReceiveTransferInit: decodes and early-checks (EarlyCheckTransferInit) a TRANSFER_INIT
// before any contact with the KMS. Decode errors keep their MIKEY error detail (e.g. 14
// for an unsupported ticket type).
Result<ReceivedTransferInit> ReceiveTransferInit(std::span<const uint8_t> wire,
                                                 const ResponderPolicy& policy, UnixTime now);

// PendingResolve: a RESOLVE_INIT_PSK as sent.
struct PendingResolve {
  std::vector<uint8_t> wire;
  uint32_t csb_id = 0;
  mikey::PrfFunc prf = mikey::PrfFunc::kMikey1;
  mikey::Timestamp t;
  std::vector<uint8_t> rand_rr;
  bool forking = false;
};

// BuildResolveInit: HDR (V=1, #CS=0, Empty map), T, RANDRr, IDRr (own identity), IDRkms
// (the ticket's IDRkms, else `kms_identity`), TICKET exactly as received, IDRpsk, V with
// the PSK (label 0x01 with RANDRr only). Random draws: CSB ID (4), RANDRr (rand_len).
Result<PendingResolve> BuildResolveInit(const ReceivedTransferInit& ti, const Credentials& creds,
                                        std::string_view kms_identity, const Suite& suite,
                                        const Env& env, size_t rand_len = 32);

// PendingResolveFromWire: the PendingResolve of a RESOLVE_INIT_PSK we sent, from its bytes.
Result<PendingResolve> PendingResolveFromWire(std::span<const uint8_t> sent);

// ResolvedTicket: the keys of RESOLVE_RESP and the forking modifier.
struct ResolvedTicket {
  SecretBytes mpki;
  std::optional<SecretBytes> mpkr_prime;     // iff forking
  std::vector<mikey::KeyData> session_keys;  // TGK' / TEK / GTGK
  std::vector<uint8_t> idrr;                 // IDRr ID Data (forking modifier), may be empty
  std::vector<uint8_t> rand_kms;             // RANDRkms, may be empty
};

// ProcessResolveResp: HDR equal to the request's, MAC over resp || RESOLVE_INIT verified
// in constant time before decrypting, KEMAC (IV with the response's T, RESOLVE_INIT's T as
// fallback, spec §11 A3), key chain MPKi, [MPKr'], keys; IDRr and RANDRkms required with
// forking (RANDRkms at least as long as MPKr' and every TGK', RFC 6043 §12.1), every key
// at least kMinKeyBytes. A MIKEY Error answer: kFailedPrecondition with the error number in
// detail().
Result<ResolvedTicket> ProcessResolveResp(std::span<const uint8_t> resp, const PendingResolve& pr,
                                          const Credentials& creds);

// ResponderSession: an authenticated TRANSFER_INIT with its resolved keys.
struct ResponderSession {
  ReceivedTransferInit ti;
  ResolvedTicket resolved;
  std::string identity_i;
  std::vector<mikey::KeyData> initiator_keys;  // L=1: TRANSFER_INIT's KEMAC, decrypted
};

// AuthenticateTransferInit: verifies TRANSFER_INIT's MAC with MPKi (constant time), with
// forking that its V MAC equals Vi's MAC (RFC 6043 §4.2.3.6), and that its IDRi equals
// the ticket policy's IDRi (spec §7.4). kAuthFailed / kPermissionDenied otherwise. Only
// then, if TRANSFER_INIT carries a KEMAC (initiator-supplied keys, L=1 required), decrypts
// it with the MPKi key set (label 0x01 with RANDRi, IV with its CSB ID and T; RFC 6043
// §4.2.2, spec §2.4, §11 A23) into `initiator_keys`; a KEMAC key whose SPI equals a
// resolved ticket key's (or another KEMAC key's) is refused (kPermissionDenied): the two
// sides could otherwise derive SRTP keys from different keys.
// This overload does NOT protect against replays: the caller must check TRANSFER_INIT's V
// MAC against a ReplayCache itself (spec §7.4). Prefer the overload below.
Result<ResponderSession> AuthenticateTransferInit(ReceivedTransferInit ti, ResolvedTicket resolved);

// AuthenticateTransferInit with replay protection (spec §7.4 "replay cache", §9.1; RFC
// 3830 §5.4): all of the above, then the authenticated TRANSFER_INIT's V MAC goes into
// `replay` (kept until its T + the cache's skew; `now` stands in for a COUNTER T). The
// same TRANSFER_INIT seen again within the window is refused with kAlreadyExists, detail
// 1 (MIKEY error Invalid TS); a cache full of live entries refuses with kResourceExhausted.
Result<ResponderSession> AuthenticateTransferInit(ReceivedTransferInit ti, ResolvedTicket resolved,
                                                  ReplayCache& replay, UnixTime now);

// TransferRespOptions: the responder's choices.
struct TransferRespOptions {
  std::string identity;                        // own identity if RESOLVE_RESP had no IDRr
  // RANDRr length (when G=1); 0 = the shortest RFC 6043 §12.1 allows: at least
  // kMinRandBytes and, with RANDRi, as long as MPKr'/MPKi and every TGK. Shorter: refused.
  size_t rand_len = 0;
  std::vector<mikey::KeyData> responder_keys;  // M=1: KEMAC (pre-encrypted content keys)
};

struct TransferRespResult {
  std::vector<uint8_t> wire;
  CallKeys keys;
};

// BuildTransferResp: HDR (CSB ID of TRANSFER_INIT, V=0, map completed: #P=1 per CS, SSRC
// and SPI filled where empty), T, [RANDRr iff G], IDRr and RANDRkms (from RESOLVE_RESP),
// [KEMAC iff responder keys, M=1 required], V keyed from MPKr' (forking) else MPKi, label
// 0x02 with RANDRi and [RANDRr], MAC over resp || TRANSFER_INIT; then the SRTP keys.
// Refused (kPermissionDenied) when RANDRi and RANDRr together are shorter than the keys
// they derive from (RFC 6043 §12.1). Random draws: RANDRr (if G), then one SSRC (4) per CS
// without session data.
Result<TransferRespResult> BuildTransferResp(const ResponderSession& s,
                                             const TransferRespOptions& opt, const Env& env);

}  // namespace kms::client
