// MIKEY-TICKET key derivations (spec §5.2, §5.6; RFC 6043 §5.1, §6.10, App. A.2) on top of
// the PRF. Every function takes the inkey as KeyOps blocks (a token-backed key in the KMS,
// SoftwareInKey in the UE) and returns fresh SecretBytes. Algorithms are refused with a
// MIKEY error number in Status::detail(): 4 for a KEMAC cipher other than AES-CM-128/256
// (AES-KW-128 included, spec §11 A10), 3 for a NULL MAC.
// Token cost (KeyOps::Hmac calls) is given per function for a single-block inkey (≤ 256
// bits) and MIKEY-1 / PRF-HMAC-SHA-256 with the output lengths of this profile.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "src/base/result.h"
#include "src/base/secret_bytes.h"
#include "src/crypto/algorithms.h"
#include "src/crypto/labels.h"
#include "src/crypto/prf.h"

namespace kms::crypto {

// The key set protecting one message or one ticket (RFC 3830 §4.1.4).
struct MessageKeys {
  SecretBytes encr_key;  // EncrKeySize(encr) bytes
  SecretBytes salt_key;  // SaltKeySize(encr) bytes (112 bits for AES-CM)
  SecretBytes auth_key;  // AuthKeySize(mac) bytes
};

// The RANDs going into the 0x01/0x02 label; which ones per exchange is in spec §5.2
// ("absent" = empty span, length byte 0). Views only: the RAND bytes must outlive the call
// (do not build one from temporaries and keep it).
struct MessageLabelInput {
  uint32_t csb_id = 0;
  MessageRole role = MessageRole::kInitial;
  std::span<const uint8_t> rand_ri;
  std::span<const uint8_t> rand_rr;
};

// DeriveMessageKeys: encr/salt/auth keys for a message carrying a KEMAC (RFC 6043 §5.1.2;
// PRF = the HDR PRF func, spec §11 A2; also the TRANSFER_INIT/RESP KEMAC keys, §11 A23).
// 6 Hmac calls (2 per key) for the matched suites of spec §11 A22 (MIKEY-1 + AES-CM-128 +
// HMAC-SHA-1-160, or the 256-bit triple); a 256-bit key under MIKEY-1 needs 2 more.
Result<MessageKeys> DeriveMessageKeys(PrfFunc prf, InKeyBlocks inkey, const MessageLabelInput& in,
                                      EncrAlgorithm encr, MacAlgorithm mac);
// DeriveMessageAuthKey: only the auth_key (messages without KEMAC, e.g. REQUEST_INIT,
// and for verifying the V payload before decrypting anything). 2 Hmac calls.
Result<SecretBytes> DeriveMessageAuthKey(PrfFunc prf, InKeyBlocks inkey,
                                         const MessageLabelInput& in, MacAlgorithm mac);

// DeriveTicketKeys: encr/salt/auth keys of the base ticket from the TPK with label 0x05 and
// the Ticket Data RAND (RFC 6043 App. A.2.1; PRF = Ticket Policy PRF func). 6 Hmac calls.
Result<MessageKeys> DeriveTicketKeys(PrfFunc tp_prf, InKeyBlocks tpk,
                                     std::span<const uint8_t> ticket_rand, EncrAlgorithm encr,
                                     MacAlgorithm mac);
// DeriveTicketAuthKey: only the ticket auth_key (verify the ticket MAC before decrypting,
// spec §7.2 step 7). 2 Hmac calls.
Result<SecretBytes> DeriveTicketAuthKey(PrfFunc tp_prf, InKeyBlocks tpk,
                                        std::span<const uint8_t> ticket_rand, MacAlgorithm mac);

// MPKi / MPKr from the base-ticket MPK (RFC 6043 App. A.2.2): label 0x06 with the Ticket
// Data RAND, outkey length = MPK length, PRF = TP PRF func. 4 Hmac calls for both
// (MPK ≤ 160 bits with MIKEY-1 or ≤ 256 bits with HMAC-SHA-256).
struct MpkPair {
  SecretBytes mpki;
  SecretBytes mpkr;
};
Result<MpkPair> DeriveMpkPair(PrfFunc tp_prf, InKeyBlocks mpk,
                              std::span<const uint8_t> ticket_rand);

// ForkKey: MPKr' or TGK' (RFC 6043 §5.1.1): PRF(inkey, fork label(IDRr ID Data,
// RANDRkms)), outkey length = inkey length, PRF = Ticket Policy PRF func.
enum class ForkedKey : uint8_t { kMpkr, kTgk };
Result<SecretBytes> ForkKey(PrfFunc tp_prf, ForkedKey which, InKeyBlocks inkey,
                            std::span<const uint8_t> idr_id_data,
                            std::span<const uint8_t> rand_kms);

// DeriveVrAuthKey: the auth key of the Initiator Data Vr (RFC 6043 §6.10) from the
// un-forked MPKr with label 0x04; PRF = TP PRF func (spec §11 A6). 2 Hmac calls.
Result<SecretBytes> DeriveVrAuthKey(PrfFunc tp_prf, InKeyBlocks mpkr, MacAlgorithm mac);

// DeriveTekFromTgk: SRTP master key (constant 0x2AD01C64) and, if salt_len > 0, master salt
// (0x39A2C14B) from a TGK / TGK' / GTGK for crypto session cs_id (RFC 6043 §5.1.3,
// spec §5.6 step 8). rand_ri non-empty iff H=1, rand_rr iff G=1. salt_len = 0 when the
// salt came in the key data sub-payload (then salt is empty). PRF = HDR PRF func of the
// Transfer messages. tek_len, salt_len ≤ kMaxPrfOutputSize.
struct SrtpMasterKeys {
  SecretBytes master_key;
  SecretBytes master_salt;
};
Result<SrtpMasterKeys> DeriveTekFromTgk(PrfFunc prf, InKeyBlocks tgk, uint8_t cs_id,
                                        std::span<const uint8_t> rand_ri,
                                        std::span<const uint8_t> rand_rr, size_t tek_len,
                                        size_t salt_len);

}  // namespace kms::crypto
