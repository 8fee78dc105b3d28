// CSB update (re-keying) after a completed Ticket Transfer (RFC 6043 §5.2; spec §2.8,
// §11 A9, A24): TRANSFER_INIT = HDR, T, IDRi, IDRr, {SP}, KEMAC, V and TRANSFER_RESP =
// HDR, T, IDRr, V when the Initiator starts it; the mirror TRANSFER_INIT = HDR, T, IDRr,
// IDRi, KEMAC, V and TRANSFER_RESP = HDR, T, IDRi, V when the Responder does. Same CSB ID,
// no RANDs and no TICKET, both directions protected with the keys of the last message of
// the initial exchange (CsbState) and the MAC identities in the order Identity_i ||
// Identity_r (A24). Because the keys are the same both ways, the direction-dependent IDR
// order is what makes a party refuse its own update reflected back to it. New TGKs are
// not forked; SRTP keys are re-derived with the RANDs of the initial exchange.
#pragma once

#include <chrono>
#include <span>
#include <vector>

#include "src/base/result.h"
#include "src/client/common.h"
#include "src/client/session_keys.h"

namespace kms::client {

struct PendingCsbUpdate {
  std::vector<uint8_t> wire;
  std::vector<mikey::KeyData> new_keys;
  mikey::Hdr map;  // the map sent (SPIs switched to the new key)
};

// BuildCsbUpdateInit: either side (st.own_role) may start it, its own IDR first;
// `new_keys` (TGK/TEK+SALT/GTGK, KV=SPI) go into the KEMAC (encr/salt from the CsbState
// key set, IV with this message's CSB ID and T). Every CS switches to the SPI of the first
// new key. V flag = 1 (response wanted).
Result<PendingCsbUpdate> BuildCsbUpdateInit(const CsbState& st,
                                            std::vector<mikey::KeyData> new_keys, const Env& env);

struct CsbUpdateAnswer {
  std::vector<uint8_t> wire;  // TRANSFER_RESP
  std::vector<CryptoSessionKeys> sessions;
};

// AnswerCsbUpdate: verifies the update TRANSFER_INIT: same CSB ID; sent by the peer (the
// peer's IDR first, then ours, with this session's identities, else kPermissionDenied, so
// our own update reflected back is refused); MAC in constant time before decrypting. Then
// checks its T (within kCsbUpdateSkew of env.clock for NTP types, and later than the last
// update accepted on `st`: kPermissionDenied, MIKEY error 1 otherwise), decrypts its
// KEMAC, derives the new SRTP keys and answers with our IDR; on success `st` takes over
// the new map and T.
inline constexpr std::chrono::seconds kCsbUpdateSkew{300};  // spec §11 A21
Result<CsbUpdateAnswer> AnswerCsbUpdate(std::span<const uint8_t> update, CsbState& st,
                                        const Env& env);

// ProcessCsbUpdateResp: verifies the answer (the peer's IDR, MAC over resp || update) and
// derives the new SRTP keys; on success `st` takes over the new map.
Result<std::vector<CryptoSessionKeys>> ProcessCsbUpdateResp(std::span<const uint8_t> resp,
                                                            const PendingCsbUpdate& pending,
                                                            CsbState& st);

}  // namespace kms::client
