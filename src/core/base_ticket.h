// The MIKEY base ticket (Ticket Type 1, RFC 6043 App. A; spec §6): sealing by the KMS and
// opening at resolution. Ticket Data = THDR, T, RAND, KEMAC, IDRpsk, V. The KEMAC holds
// MPK || {TEK|TGK|GTGK} under keys derived from the ticket protection key (label 0x05 with
// the Ticket Data RAND); the V MAC covers the whole Ticket Policy and Ticket Data, so
// identities, validity and flags are sealed too.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "src/base/result.h"
#include "src/base/secret_bytes.h"
#include "src/crypto/prf.h"
#include "src/mikey/key_data.h"
#include "src/mikey/message.h"
#include "src/mikey/ticket_data.h"

namespace kms::core {

// The keys a ticket carries: the MPK, then the session keys in order.
struct TicketKeys {
  SecretBytes mpk;
  std::vector<mikey::KeyData> session_keys;
};

// TpkId / ParseTpkId: the IDRpsk value naming a TPK version, "tpk-0001" (RFC 6043 App. A:
// IDRpsk identifies the TPK and supports rollover).
std::string TpkId(uint32_t version);
std::optional<uint32_t> ParseTpkId(std::span<const uint8_t> id);

// SealedTicketDraft: a TICKET payload whose V MAC is still a placeholder, plus the key to
// compute it once the carrying message is encoded (the MAC input depends on the TICKET's
// exact wire bytes): see FinishTicketMac.
struct SealedTicketDraft {
  mikey::Ticket ticket;
  SecretBytes auth_key;
  crypto::MacAlgorithm mac = crypto::MacAlgorithm::kHmacSha1_160;
};

struct SealParams {
  crypto::PrfFunc prf = crypto::PrfFunc::kMikey1;  // must equal the policy's PRF func
  crypto::EncrAlgorithm encr = crypto::EncrAlgorithm::kAesCm128;
  crypto::MacAlgorithm mac = crypto::MacAlgorithm::kHmacSha1_160;
  uint64_t issue_time_ntp = 0;   // Ticket Data T (NTP-UTC); also the KEMAC IV's T (§11 A3)
  std::vector<uint8_t> rand;     // Ticket Data RAND, >= max(TPK, MPK) bytes (RFC 6043 §12.1)
  std::vector<uint8_t> psk_id;   // Ticket Data IDRpsk: TpkId(version) or a mode-3 key id
};

// DraftBaseTicket: encrypts the keys under the TPK-derived keys (6 PRF HMAC calls on the
// TPK) and builds the TICKET with an empty Initiator Data.
Result<SealedTicketDraft> DraftBaseTicket(const mikey::TicketPolicy& policy,
                                          const TicketKeys& keys, crypto::InKeyBlocks tpk,
                                          const SealParams& params);

// FinishTicketMac: computes and writes the ticket MAC into an encoded message.
Status FinishTicketMac(std::span<uint8_t> wire, const mikey::WireLayout& layout,
                       const SealedTicketDraft& draft);

// OpenedTicket: the verified contents of a received base ticket.
struct OpenedTicket {
  mikey::BaseTicketData data;
  TicketKeys keys;
  crypto::PrfFunc prf = crypto::PrfFunc::kMikey1;
  crypto::MacAlgorithm mac = crypto::MacAlgorithm::kHmacSha1_160;
};

// ReadTicketData: parses the Ticket Data of a received message's TICKET without any key
// (to learn which TPK or mode-3 key sealed it). kDecodeError on a malformed ticket.
Result<mikey::BaseTicketData> ReadTicketData(const mikey::Ticket& ticket);

// OpenBaseTicket: derives the ticket keys from the TPK, verifies the ticket MAC over the
// received bytes in constant time BEFORE decrypting (spec §7.2 step 7, §9.3), then
// decrypts and parses the key chain (MPK first). A wrong MAC is kAuthFailed; a garbled
// chain, or keys and RAND shorter than the profile allows (CheckTicketKeyLengths), is
// kDecodeError. `wire` and `layout` are the received message and its layout;
// `ticket_key_size` is the length of the key that sealed it (TPK or mode-3 key).
Result<OpenedTicket> OpenBaseTicket(std::span<const uint8_t> wire, const mikey::WireLayout& layout,
                                    const mikey::Ticket& ticket, crypto::InKeyBlocks tpk,
                                    size_t ticket_key_size);

// CheckTicketKeyLengths: the lengths a ticket's keys must have before the KMS derives or
// forks anything from them. Tickets this KMS seals always pass; an initiator-built (mode 3)
// ticket is sealed by a UE and may carry anything. Spec §9.3 / RFC 6043 §12.1: every key at
// least 128 bits, session keys longer than 128 bits only in the 256-bit suite (as in a
// request), and the Ticket Data RAND at least as long as the longer of the sealing key and
// the MPK. kDecodeError (detail 15, Invalid TP parameters) naming the field otherwise.
Status CheckTicketKeyLengths(const TicketKeys& keys, std::span<const uint8_t> rand,
                             size_t suite_key_len, size_t ticket_key_size);

}  // namespace kms::core
