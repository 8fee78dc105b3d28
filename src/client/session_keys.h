// Per crypto session SRTP keys (RFC 6043 §5.1.3; spec §5.6 step 8) and the state both UEs
// keep after a completed Ticket Transfer (for SRTP and for CSB updates, RFC 6043 §5.2).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "src/base/result.h"
#include "src/base/secret_bytes.h"
#include "src/client/policy_check.h"
#include "src/mikey/key_data.h"
#include "src/mikey/message.h"

namespace kms::client {

// CryptoSessionKeys: what SRTP needs for one crypto session (one direction of one m-line).
struct CryptoSessionKeys {
  uint8_t cs_id = 0;
  uint32_t ssrc = 0;
  std::vector<uint8_t> mki;  // the GENERIC-ID SPI = key SPI (spec §11 A8)
  SrtpProfile profile;
  SecretBytes master_key;
  SecretBytes master_salt;
};

// TekInputs: the RANDs of the 0x03 label (RANDRi iff H, RANDRr iff G) and the PRF.
struct TekInputs {
  mikey::PrfFunc prf = mikey::PrfFunc::kMikey1;  // HDR PRF func of the Transfer messages
  std::vector<uint8_t> rand_ri;                  // empty unless H=1
  std::vector<uint8_t> rand_rr;                  // empty unless G=1
};

// DeriveCryptoSessionKeys: for every CS of the completed map (TRANSFER_RESP's HDR, #P=1):
// the SRTP profile from its SP (looked up in `sps`), the key whose SPI equals the CS SPI,
// then master key/salt: from a TGK/GTGK via the 0x03 label (a salt carried with the key
// is used as-is), or the TEK itself (TEK+SALT required for SRTP). kFailedPrecondition if a
// CS has no SSRC, no matching key, or more than one key with its SPI: an SPI names one key
// (RFC 3830 §6.13), and picking one of two would let the parties silently disagree.
Result<std::vector<CryptoSessionKeys>> DeriveCryptoSessionKeys(
    const mikey::Hdr& completed_map, const std::vector<const mikey::SecurityPolicy*>& sps,
    const std::vector<const mikey::KeyData*>& keys, const TekInputs& in);

// CheckSpisDisjoint: kPermissionDenied if a key of `a` has the SPI of a key of `b` or of
// another key of `a` (RFC 3830 §6.13: the SPI identifies the key). Used to refuse
// initiator-supplied keys that collide with the ticket's keys before either side uses them.
Status CheckSpisDisjoint(const std::vector<mikey::KeyData>& a,
                         const std::vector<mikey::KeyData>& b);

// CsbState: the state of a completed initial exchange kept for CSB updates (RFC 6043
// §5.2; spec §11 A9/A24): the key set of the last message of the initial exchange
// (TRANSFER_RESP's: inkey MPKr' with forking else MPKi, label 0x02 with RANDRi/[RANDRr]).
struct CsbState {
  uint32_t csb_id = 0;
  mikey::PrfFunc prf = mikey::PrfFunc::kMikey1;
  mikey::EncrAlg encr = mikey::EncrAlg::kAesCm128;
  mikey::MacAlg mac = mikey::MacAlg::kHmacSha1_160;
  SecretBytes inkey;             // MPKr' or MPKi
  std::vector<uint8_t> rand_ri;  // TRANSFER_INIT RANDRi
  std::vector<uint8_t> rand_rr;  // TRANSFER_RESP RANDRr (empty if G=0)
  bool h = true, g = true;
  std::string identity_i;
  std::string identity_r;  // TRANSFER_RESP's IDRr (spec §11 A24)
  // Our role in the initial exchange (kInitiator or kResponder): a CSB update we send puts
  // the IDR of this role first (spec §2.8), and one we receive must put the peer's first,
  // so our own update reflected back to us is refused (both directions share one key set).
  mikey::IdRole own_role = mikey::IdRole::kInitiator;
  mikey::Hdr map;          // the completed CS map
  std::vector<mikey::SecurityPolicy> policies;
  // T (as 64 bits) of the last CSB update accepted from the peer: a later update must carry
  // a larger one, so a recorded update cannot be replayed to roll the keys back.
  uint64_t last_update_t = 0;
};

// CallKeys: result of a completed Ticket Transfer for either side.
struct CallKeys {
  std::vector<CryptoSessionKeys> sessions;
  CsbState csb;
  std::string peer_identity;  // Initiator: IDRr that answered; Responder: IDRi
};

// FindSession: the keys of crypto session cs_id, or nullptr.
const CryptoSessionKeys* FindSession(const CallKeys& k, uint8_t cs_id);

// KeyFingerprint: a name for the SRTP keys of one crypto session that two parties (and
// tests) can compare without showing the keys: the first 8 bytes, in hex, of SHA-256 over
// a fixed context string, the master key and the master salt (each length-prefixed). It
// reveals nothing usable about the keys (64 bits of a one-way hash; spec §9.3: no key
// bytes in logs or output).
std::string KeyFingerprint(const CryptoSessionKeys& k);

}  // namespace kms::client
