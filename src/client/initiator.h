// UE as Initiator (spec §7.3): Ticket Request exchange with the KMS (REQUEST_INIT_PSK /
// REQUEST_RESP, RFC 6043 §4.2.1) and Ticket Transfer to the Responder (TRANSFER_INIT /
// TRANSFER_RESP, RFC 6043 §4.2.2). Messages are bytes in, bytes out: transport is the
// caller's (HttpsTransport for the KMS, SDP for the peer).
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "src/base/result.h"
#include "src/base/secret_bytes.h"
#include "src/client/common.h"
#include "src/client/policy_check.h"
#include "src/client/session_keys.h"
#include "src/mikey/message.h"

namespace kms::client {

// DefaultMode1Flags: D E F G H I N O (mode 1 with key forking, spec §11 A18/A19).
mikey::TpFlags DefaultMode1Flags();

// TicketRequestOptions: the desired Ticket Policy and message parameters.
struct TicketRequestOptions {
  std::string kms_identity;             // IDRkms (ID type URI)
  std::vector<std::string> responders;  // IDRr in the desired TP Data (at least one)
  std::chrono::seconds validity{3600};  // TRe = now + validity (NTP-UTC-32)
  mikey::TpFlags flags = DefaultMode1Flags();
  Suite suite;           // HDR PRF and V MAC; TP PRF = suite.prf
  size_t rand_len = 32;  // RANDRi; >= PSK length (spec §4.4)
  size_t tgk_count = 1;  // desired KEMAC: TGKs with zeroed bytes, KV=SPI
  size_t tgk_len = 16;
  InitiatorRequirements requirements;  // checks of the granted policy (responders, PRF added)
};

// PendingRequest: a REQUEST_INIT_PSK as sent, with what is needed to check the response.
struct PendingRequest {
  std::vector<uint8_t> wire;
  uint32_t csb_id = 0;
  mikey::PrfFunc prf = mikey::PrfFunc::kMikey1;
  mikey::Timestamp t;
  std::vector<uint8_t> rand_ri;
  std::string kms_identity;
  InitiatorRequirements requirements;
};

// BuildRequestInit: HDR (V=1, #CS=0, Empty map), T, RANDRi, IDRi, IDRkms, TP, IDRpsk, V
// (RFC 6043 §4.2.1.1; MAC per §5.5 with the PSK, label 0x01). Random draws, in order:
// CSB ID (4 bytes), RANDRi (rand_len). T from env.clock.
Result<PendingRequest> BuildRequestInit(const Credentials& creds, const TicketRequestOptions& opt,
                                        const Env& env);

// PendingRequestFromWire: the PendingRequest of a REQUEST_INIT_PSK we sent earlier,
// rebuilt from its bytes (lets a tool keep only messages, never keys, between steps).
Result<PendingRequest> PendingRequestFromWire(std::span<const uint8_t> sent,
                                              const InitiatorRequirements& req);

// InitiatorTicket: a ticket with the keys the Initiator got for it.
struct InitiatorTicket {
  mikey::Ticket ticket;  // granted policy + Ticket Data (no Initiator Data)
  SecretBytes mpki;
  std::optional<SecretBytes> mpkr;           // iff the I flag (key forking)
  std::vector<mikey::KeyData> session_keys;  // TGK / TEK / GTGK in KEMAC order
  std::string kms_identity;
};

// ProcessRequestResp: verifies a REQUEST_RESP (HDR fields equal to the request's, MAC
// over resp || request in constant time, all BEFORE decrypting), checks its T against
// `now` (requirements.clock_skew, detail 1), decrypts the KEMAC (IV
// with the response's T; the request's T as fallback, spec §11 A3), checks the key chain
// (MPKi, MPKr iff I, session keys) and the granted policy (CheckGrantedPolicy). A MIKEY
// Error answer gives kFailedPrecondition with the error number in detail().
Result<InitiatorTicket> ProcessRequestResp(std::span<const uint8_t> resp, const PendingRequest& req,
                                           const Credentials& creds, UnixTime now);

// TransferInitOptions: one Ticket Transfer.
struct TransferInitOptions {
  std::string responder;   // IDRr of TRANSFER_INIT (the targeted identity)
  size_t media_lines = 1;  // two CS per m-line (RFC 4567 §7.1): odd = ours, even = peer's
  Suite suite;
  // RANDRi length; 0 = the shortest RFC 6043 §12.1 allows (MinTransferRandLen). A length
  // below that minimum is refused (kInvalidArgument): with the 256-bit suite and a 32-byte
  // MPKi, 16 bytes are too short.
  size_t rand_len = 0;
  std::optional<std::string> sdp_ids;          // SDP IDs GenExt before V (spec §11 A11)
  // L=1: keys for the KEMAC of TRANSFER_INIT (encrypted with the MPKi key set, spec §11
  // A23); our crypto sessions use the first one's SPI. Their SPIs must differ from each
  // other and from the ticket's keys (else kInvalidArgument): an SPI names one key, and
  // the responder refuses a TRANSFER_INIT whose keys collide with the ticket's.
  std::vector<mikey::KeyData> initiator_keys;
};

// PendingTransfer: a TRANSFER_INIT as sent.
struct PendingTransfer {
  std::vector<uint8_t> wire;
  std::shared_ptr<const InitiatorTicket> ticket;
  std::string identity_i;
  std::string identity_r;  // targeted
  uint32_t csb_id = 0;
  mikey::PrfFunc prf = mikey::PrfFunc::kMikey1;
  std::vector<uint8_t> rand_ri;
  mikey::Hdr hdr;
  std::vector<mikey::SecurityPolicy> policies;
  std::vector<mikey::KeyData> initiator_keys;
};

// MinTransferRandLen: the shortest RANDRi a TRANSFER_INIT with `t` may carry (RFC 6043
// §12.1, spec §4.4): at least kMinRandBytes and the MPKi length (the 0x01 label of
// TRANSFER_INIT holds RANDRi only); with G=0 (no RANDRr) also the longest TGK/GTGK (the
// 0x03 label then holds RANDRi only).
size_t MinTransferRandLen(const InitiatorTicket& t);

// BuildTransferInit: HDR (V = F, GENERIC-ID map), T, RANDRi, IDRi, IDRr, SP (SRTP
// AES_CM_128_HMAC_SHA1_80), TICKET (+ Initiator Data Vi/Vr with forking), [KEMAC],
// [GenExt SDP IDs], V keyed from MPKi (RFC 6043 §4.2.2.1, §5.5, §6.10). Our CS blocks get
// an SSRC and the SPI of the first TGK/TEK; the peer's are left empty. Random draws, in
// order: CSB ID (4), RANDRi (rand_len, or MinTransferRandLen if 0), one SSRC (4) per own CS.
Result<PendingTransfer> BuildTransferInit(std::shared_ptr<const InitiatorTicket> ticket,
                                          std::string_view identity_i,
                                          const TransferInitOptions& opt, const Env& env);

// PendingTransferFromWire: the PendingTransfer of a TRANSFER_INIT we sent, rebuilt from
// its bytes and the ticket it used (initiator-supplied keys decrypted with its MPKi).
Result<PendingTransfer> PendingTransferFromWire(std::span<const uint8_t> sent,
                                                std::shared_ptr<const InitiatorTicket> ticket);

// ProcessTransferResp: checks HDR against TRANSFER_INIT, forks MPKr and the TGKs with
// (IDRr, RANDRkms, at least as long as MPKr and every TGK, RFC 6043 §12.1) when the I flag
// is set, verifies the MAC over resp || TRANSFER_INIT, checks the completed CS map and
// SPs, decrypts a responder KEMAC (only if M=1), derives SRTP keys per CS (spec §5.6
// steps 6-8).
Result<CallKeys> ProcessTransferResp(std::span<const uint8_t> resp, const PendingTransfer& pt,
                                     UnixTime now);

}  // namespace kms::client
