// Policy checks of the UE: is a granted Ticket Policy acceptable to the Initiator
// (RFC 6043 §4.2.1.6), may a Responder process a received TRANSFER_INIT before contacting
// the KMS (early reject, RFC 6043 §4.2.2.2, spec §7.4), and which SRTP profile an SP
// payload describes (RFC 3830 §6.10.1, spec §3.1).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "src/base/ntp_time.h"
#include "src/base/result.h"
#include "src/mikey/message.h"

namespace kms::client {

// InitiatorRequirements: what the Initiator insists on in a granted policy.
struct InitiatorRequirements {
  std::vector<std::string> responders;  // each must be an IDRr of the granted policy
  bool require_forking = true;          // granted I flag (spec §11 A18, RFC 6043 §12.4)
  std::chrono::seconds min_remaining_validity{60};
  std::chrono::seconds clock_skew{300};
  // The PRF Func of the desired TP; the granted one must equal it (the TP PRF keys the
  // forking and Vr derivations, spec §5.2). Set by BuildRequestInit / PendingRequestFrom
  // Wire from the request; unset = not checked.
  std::optional<mikey::PrfFunc> desired_prf;
};

// CheckGrantedPolicy: Ticket Type 1/1/1, flag rules (RFC 6043 §6.10), F=1 (spec §11 A19),
// N=1 (we are a plain RFC 6043 Initiator), no KEMAC in the granted TP Data, I flag if
// required, validity (TRs <= now + skew, TRe >= now + min_remaining_validity), every
// required responder listed, IDRi (if present) equal to `identity_i`, TP PRF equal to
// req.desired_prf when set. kPermissionDenied naming the first violated rule, with the
// MIKEY error in detail() (15 for TP parameters).
Status CheckGrantedPolicy(const mikey::TicketPolicy& granted, std::string_view identity_i,
                          const InitiatorRequirements& req, UnixTime now);

// ValidityWindowOk: TRs/TRe of a policy against `now` with `skew` either side.
Status CheckValidityWindow(const mikey::TicketPolicy& p, UnixTime now, std::chrono::seconds skew);

// ResponderPolicy: what a Responder accepts before resolving.
struct ResponderPolicy {
  std::vector<std::string> identities;  // own identities and groups we answer for
  std::chrono::seconds clock_skew{300};
};

// EarlyCheckTransferInit: RFC 6043 §4.2.2.2 checks of a decoded (unauthenticated)
// TRANSFER_INIT: data type 14, GENERIC-ID map with at least one CS, TICKET of type 1/1/1
// (else detail 14), flag rules, O=1, L=0 ⇒ no KEMAC, I ⇒ Initiator Data (detail 15), T
// within the skew (detail 1), validity window (detail 15), one of our identities among the
// ticket's responders and TRANSFER_INIT's IDRr (detail 7), SPs / CS blocks describing SRTP
// profiles we support (detail 9 / 10). kPermissionDenied with the MIKEY error in detail().
Status EarlyCheckTransferInit(const mikey::Message& ti, const ResponderPolicy& p, UnixTime now);

// SrtpProfile: the SRTP crypto parameters of a crypto session.
struct SrtpProfile {
  size_t master_key_len = 16;   // SP type 1
  size_t master_salt_len = 14;  // SP type 4
  size_t auth_tag_len = 10;     // SP type 11: 10 (HMAC_SHA1_80) or 4 (HMAC_SHA1_32)
};

// SrtpProfileOf: the profile of an SRTP SP (nullptr = the SRTP defaults). Only AES-CM with
// 128-bit keys, 112-bit salts, HMAC-SHA-1 with a 160-bit key and tag 80 or 32 bits, AES-CM
// SRTP PRF, encryption and authentication on, are supported: kPermissionDenied detail 10
// for other parameters, detail 9 for another protocol type.
Result<SrtpProfile> SrtpProfileOf(const mikey::SecurityPolicy* sp);

// PolicyForCs: the SP referenced by a GENERIC-ID block (its first Policy_no) in `sps`, or
// nullptr when the block has none (defaults); kPermissionDenied (detail 10) if the number
// names no SP.
Result<const mikey::SecurityPolicy*> PolicyForCs(
    const mikey::GenericIdBlock& cs, const std::vector<const mikey::SecurityPolicy*>& sps);

}  // namespace kms::client
