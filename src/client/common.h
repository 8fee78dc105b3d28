// Shared types and helpers of the UE library (src/client): credentials, the algorithm
// suite, the injected randomness and clock, and the seal/verify/decrypt steps every
// MIKEY-TICKET message of the UE goes through (spec mikey-ticket.md §5.2-§5.5).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "src/base/clock.h"
#include "src/base/encoding.h"
#include "src/base/result.h"
#include "src/base/secret_bytes.h"
#include "src/crypto/algorithms.h"
#include "src/crypto/key_derivation.h"
#include "src/crypto/random.h"
#include "src/mikey/key_data.h"
#include "src/mikey/mac_coverage.h"
#include "src/mikey/message.h"

namespace kms::client {

// Credentials: what a UE shares with its KMS (spec §8.2 items 2-4). Move-only (PSK).
struct Credentials {
  std::string identity;  // public identity (IMPU URI): IDRi / IDRr, ID type 1
  std::string psk_id;    // B-TID (or any PSK identifier): IDRpsk, ID type 2
  SecretBytes psk;       // 256-bit GBA Ks_NAF in the 3GPP profile
};

// Suite: the algorithms used for messages the UE originates (spec §11 A22). Responses
// must use the request's PRF; their MAC/encryption algorithms are read from the payloads.
struct Suite {
  mikey::PrfFunc prf = mikey::PrfFunc::kMikey1;
  mikey::EncrAlg encr = mikey::EncrAlg::kAesCm128;
  mikey::MacAlg mac = mikey::MacAlg::kHmacSha1_160;
};

// Env: the injected sources of randomness and time. Every random value the library draws
// goes through `rng` and every timestamp through `clock`, so tests can replay fixed inputs.
// Both must outlive the objects using them.
struct Env {
  crypto::Random& rng;
  const Clock& clock;
};

// Conversions between the codec's and the crypto library's code points (same values).
Result<crypto::PrfFunc> ToCryptoPrf(mikey::PrfFunc p);
Result<crypto::EncrAlgorithm> ToCryptoEncr(mikey::EncrAlg a);
Result<crypto::MacAlgorithm> ToCryptoMac(mikey::MacAlg a);

// NowTimestamp: the clock's time as an NTP-UTC T payload (spec §11 A20).
Result<mikey::Timestamp> NowTimestamp(const Clock& clock);
// TimestampIv64: a T payload as the 64-bit value of the KEMAC IV (spec §4.2, §5.3).
uint64_t TimestampIv64(const mikey::Timestamp& t);
// TimestampInstant: a T payload as an instant; COUNTER has none (nullopt).
std::optional<UnixTime> TimestampInstant(const mikey::Timestamp& t);

// RandomU32: 4 random bytes, big-endian (CSB IDs, SSRCs).
Result<uint32_t> RandomU32(crypto::Random& rng);
// PlaceholderV: a V payload with a zero MAC of the algorithm's length (patched later).
mikey::Verification PlaceholderV(mikey::MacAlg alg);

// Idr: an IDR payload with text ID Data.
mikey::Idr MakeIdr(mikey::IdRole role, mikey::IdType type, std::string_view data);
// IdrText: the ID Data of an IDR as a string (may contain any bytes).
std::string IdrText(const mikey::Idr& idr);
// BytesOf: a copy of a string's bytes.
std::vector<uint8_t> BytesOf(std::string_view s);

// MessageLabel: the 0x01/0x02 label inputs (spec §5.2 table). Owns its RANDs.
struct MessageLabel {
  uint32_t csb_id = 0;
  crypto::MessageRole role = crypto::MessageRole::kInitial;
  std::vector<uint8_t> rand_ri;
  std::vector<uint8_t> rand_rr;
};

// SealMessage: encodes `m` (whose V payload must be last; its MAC bytes are overwritten),
// computes the MAC over the bytes that RFC 6043 §5.5 assigns to m's data type with the
// auth_key PRF(inkey, label), and patches it in. Nested MACs the message MAC does not
// cover (TRANSFER_INIT's Initiator Data) are patched by the caller afterwards.
struct SealedMessage {
  std::vector<uint8_t> wire;
  mikey::WireLayout layout;
  std::vector<uint8_t> mac;  // the V MAC (public)
};
Result<SealedMessage> SealMessage(const mikey::Message& m, const SecretBytes& inkey,
                                  const MessageLabel& label, const mikey::MacContext& ctx);

// VerifyMessageMac: recomputes the V MAC of a decoded message (`wire` = the received bytes,
// `m.layout` their layout) and compares in constant time (crypto::VerifyMac). kAuthFailed
// on mismatch; nothing of the message may be trusted before this returns OK.
Status VerifyMessageMac(std::span<const uint8_t> wire, const mikey::Message& m,
                        const SecretBytes& inkey, const MessageLabel& label,
                        const mikey::MacContext& ctx);

// EncryptKemac: a KEMAC (NULL MAC, RFC 6043 §6.2) holding the key chain encrypted with the
// encr/salt keys PRF(inkey, label) (spec §11 A23), IV with csb_id and t64 (spec §5.3).
Result<mikey::Kemac> EncryptKemac(const std::vector<mikey::KeyData>& keys, const SecretBytes& inkey,
                                  const MessageLabel& label, mikey::PrfFunc prf,
                                  mikey::EncrAlg encr, mikey::MacAlg mac_for_keys, uint64_t t64);

// Minimum lengths. spec §9.3: "Key lengths >= 128 bits for all keys" (PSK, MPK, TGK, TEK,
// GTGK; RFC 6043 §12.1); spec §4.4 (RFC 3830 §6.11): a RAND SHOULD be >= 128 bits.
inline constexpr size_t kMinKeyBytes = 16;
inline constexpr size_t kMinRandBytes = 16;

// LongestTgk: the byte length of the longest TGK/TGK+SALT/GTGK among `keys` (0 if none):
// the keys a 0x03 (TEK) label derivation uses as inkey (RFC 6043 §5.1.3).
size_t LongestTgk(const std::vector<mikey::KeyData>& keys);

// CheckRandCovers: RFC 6043 §12.1 (spec §4.4): the RANDs that enter one derivation together
// (`rand_bytes`, their summed lengths) must be at least as long as its longest inkey
// (`key_bytes`). kPermissionDenied naming `what` otherwise.
Status CheckRandCovers(size_t rand_bytes, size_t key_bytes, std::string_view what);

// KeyChainCheck: structural rule the decrypted chain must satisfy (used to detect a wrong
// IV reading, spec §11 A3). Returns OK if acceptable.
using KeyChainCheck = Status (*)(const std::vector<mikey::KeyData>& keys, bool forking);
// Checks "MPKi, [MPKr] iff forking, then TEK/TGK/GTGK" (RFC 6043 §4.2.1.5, §4.2.3.5), each
// key at least kMinKeyBytes long.
Status CheckKmsKeyChain(const std::vector<mikey::KeyData>& keys, bool forking);
// Checks "only TEK/TGK/GTGK (with or without salt)", each at least kMinKeyBytes long
// (CSB update / initiator / responder KEMACs).
Status CheckSessionKeyChain(const std::vector<mikey::KeyData>& keys, bool forking);

// DecryptKemac: decrypts a KEMAC with keys PRF(inkey, label) (PRF = `prf`, MAC alg only
// sizes nothing here) and parses the key chain. The IV uses csb_id and `t_primary`; if the
// plaintext does not parse or fails `check`, `t_fallback` (if given) is tried (spec §11 A3
// receiving rule); if both fail, the error names the primary reading's failure. Call only
// after the carrying message's MAC was verified.
Result<std::vector<mikey::KeyData>> DecryptKemac(const mikey::Kemac& kemac,
                                                 const SecretBytes& inkey,
                                                 const MessageLabel& label, mikey::PrfFunc prf,
                                                 mikey::MacAlg mac, uint64_t t_primary,
                                                 std::optional<uint64_t> t_fallback,
                                                 KeyChainCheck check, bool forking);

// ErrorFromMessage: if `m` is a MIKEY Error message (data type 6), a kFailedPrecondition
// Status naming its first error number (unauthenticated: a hint only, spec §2.9).
std::optional<Status> ErrorFromMessage(const mikey::Message& m);

}  // namespace kms::client
