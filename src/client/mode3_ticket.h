// Mode 3 (RFC 6043 §4.1.1, App. A; spec §1.1/§1.2): the Initiator (e.g. an MRFC) builds
// the ticket itself with a Ticket Protection Key (TPK) it shares with the KMS, so no
// Ticket Request exchange is needed. The result is used exactly like a KMS ticket.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "src/base/result.h"
#include "src/base/secret_bytes.h"
#include "src/client/common.h"
#include "src/client/initiator.h"

namespace kms::client {

// TicketProtectionKey: the TPK and the identifier the KMS finds it by (Ticket Data
// IDRpsk, ID type byte string) — the Initiator's credential id at the KMS.
struct TicketProtectionKey {
  std::string id;
  SecretBytes tpk;  // >= 128 bits (spec §9.3)
};

struct Mode3Options {
  std::string kms_identity;                      // IDRkms in the policy (who can resolve)
  std::vector<std::string> responders;           // IDRr (at least one)
  std::chrono::seconds validity{3600};           // TRe = now + validity
  bool forking = true;                           // I flag (then Initiator Data in TRANSFER_INIT)
  bool reusable = false;                         // J flag
  bool responder_keys = false;                   // M flag
  mikey::PrfFunc prf = mikey::PrfFunc::kMikey1;  // TP PRF (ticket and fork derivations)
  mikey::EncrAlg encr = mikey::EncrAlg::kAesCm128;
  mikey::MacAlg mac = mikey::MacAlg::kHmacSha1_160;
  size_t mpk_len = 16;
  size_t tgk_len = 16;
};

// CreateMode3Ticket: policy flags D=0 (hence L=1), E=1, F=1, G=1, H=1, N=1, O=1 (+I, J,
// M per options); TP Data IDRkms, IDRi, TRe, (IDRr). Ticket Data = THDR (empty), T, RAND,
// KEMAC = E(TPK keys label 0x05, IV CSB 0xFFFFFFFF and the Ticket Data T, MPK || TGK),
// IDRpsk = tpk.id, V = ticket MAC (RFC 6043 App. A.1, A.2). MPKi/MPKr derived from the MPK
// (App. A.2.2). Random draws, in order: RAND (max(16, TPK, MPK) bytes), MPK, TGK.
Result<InitiatorTicket> CreateMode3Ticket(std::string_view identity_i,
                                          const TicketProtectionKey& tpk, const Mode3Options& opt,
                                          const Env& env);

}  // namespace kms::client
