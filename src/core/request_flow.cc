// Ticket Request at the KMS: REQUEST_INIT_PSK -> REQUEST_RESP (RFC 6043 §4.2.1, App. A;
// spec §2.1, §2.3, §7.1).
#include <algorithm>
#include <chrono>

#include "src/base/encoding.h"
#include "src/core/base_ticket.h"
#include "src/core/exchange.h"
#include "src/core/vault_adapters.h"
#include "src/crypto/digest.h"
#include "src/crypto/kemac_cipher.h"
#include "src/crypto/key_derivation.h"
#include "src/crypto/mac.h"
#include "src/crypto/openssl_key_ops.h"
#include "src/crypto/random.h"
#include "src/mikey/encoder.h"
#include "src/mikey/key_data.h"
#include "src/mikey/mac_coverage.h"

namespace kms::core {
namespace {

constexpr auto kAuthFailure = static_cast<uint8_t>(mikey::ErrorNo::kAuthFailure);
constexpr auto kInvalidTpPar = static_cast<uint8_t>(mikey::ErrorNo::kInvalidTpPar);
constexpr size_t kMaxRequestedKeys = 8;

// A key the initiator asked for in the desired policy's KEMAC (spec §4.12.2).
struct KeyRequest {
  mikey::KeyDataType type = mikey::KeyDataType::kTgk;
  size_t key_len = 16;
  size_t salt_len = 0;
};

bool IsSessionKeyType(mikey::KeyDataType t) {
  return t == mikey::KeyDataType::kTgk || t == mikey::KeyDataType::kTgkSalt ||
         t == mikey::KeyDataType::kTek || t == mikey::KeyDataType::kTekSalt ||
         t == mikey::KeyDataType::kGtgk || t == mikey::KeyDataType::kGtgkSalt;
}

// RequestedKeys: the desired KEMAC's key list, or one TGK of the suite's length when the
// TP has none (RFC 6043 §4.2.1.5). kDecodeError detail 15 for a request this KMS refuses:
// unknown key types, lengths outside the suite (RFC 6043 §12.1: session keys longer than
// 128 bits need the 256-bit suite), or too many keys.
Result<std::vector<KeyRequest>> RequestedKeys(const mikey::TicketPolicy& tp,
                                              const SuiteParams& suite) {
  std::vector<KeyRequest> out;
  const mikey::Kemac* kemac = tp.FindKemac();
  if (kemac == nullptr) {
    out.push_back({mikey::KeyDataType::kTgk, suite.key_len, 0});
    return out;
  }
  if (kemac->encr_alg != mikey::EncrAlg::kNull) {
    return DecodeError("desired KEMAC must use NULL encryption", kInvalidTpPar);
  }
  KMS_ASSIGN_OR_RETURN(std::vector<mikey::KeyData> wanted,
                       mikey::DecodeKeyDataChain(kemac->encr_data, kMaxRequestedKeys));
  for (const mikey::KeyData& k : wanted) {
    const size_t len = k.key.size();
    const bool len_ok = len == 16 || (suite.suite == ports::Suite::k256 && len == 32);
    if (!IsSessionKeyType(k.type) || !len_ok) {
      return DecodeError("requested key type or length not supported", kInvalidTpPar);
    }
    const size_t salt = k.salt ? k.salt->size() : 0;
    if (salt > 32) {
      return DecodeError("requested salt too long", kInvalidTpPar);
    }
    out.push_back({k.type, len, salt});
  }
  return out;
}

std::vector<uint8_t> Spi(uint32_t n) {
  return {static_cast<uint8_t>(n >> 24), static_cast<uint8_t>(n >> 16),
          static_cast<uint8_t>(n >> 8), static_cast<uint8_t>(n)};
}

int64_t UnixSeconds(UnixTime t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

}  // namespace

Result<Reply> TicketService::HandleRequestInit(Exchange& ex) {
  if (auto early = Authenticate(ex)) {
    return std::move(*early);
  }
  ex.initiator = ex.identity;
  const mikey::Tp* tp = ex.msg.FindTp();
  if (tp == nullptr) {
    return Refuse(ex, static_cast<uint8_t>(mikey::ErrorNo::kUnsupportedMessageType),
                  "tp.missing");
  }
  const mikey::TicketPolicy& desired = tp->policy;
  std::vector<std::string> responders;
  for (const mikey::Idr* r : desired.Responders()) {
    responders.push_back(Text(r->id_data));
  }
  ex.responders = JoinIdentities(responders);
  // RFC 6043 §12.1: the ticket's PRF belongs to the message's suite (no mixing).
  if (desired.prf != ex.msg.hdr.prf) {
    return Refuse(ex, kInvalidTpPar, "tp.suite_mismatch");
  }
  auto requested_keys = RequestedKeys(desired, ex.suite);
  if (!requested_keys.ok()) {
    return Refuse(ex, kInvalidTpPar, "tp.keys", requested_keys.status().message());
  }

  // Validity asked for: TRe - max(TRs, now); 0 when no end was requested.
  const mikey::TimestampR* trs = desired.FindTr(mikey::TsRole::kStartOfValidity);
  const mikey::TimestampR* tre = desired.FindTr(mikey::TsRole::kEndOfValidity);
  UnixTime start = ex.received;
  if (trs != nullptr) {
    auto s = TimeOf(trs->ts_type, trs->value);
    if (!s.ok()) {
      return Refuse(ex, kInvalidTpPar, "tp.trs");
    }
    start = std::max(start, *s);
  }
  uint32_t requested_validity = 0;
  if (tre != nullptr) {
    auto e = TimeOf(tre->ts_type, tre->value);
    if (!e.ok() || *e <= start) {
      return Refuse(ex, kInvalidTpPar, "tp.tre");
    }
    requested_validity = static_cast<uint32_t>(
        std::min<int64_t>(UnixSeconds(*e) - UnixSeconds(start), UINT32_MAX));
  }

  ports::TicketRequestFacts facts;
  facts.initiator = ex.identity;
  facts.responders = responders;
  facts.requested_validity_s = requested_validity;
  facts.reuse_requested = desired.flags.j;
  facts.forking_requested = desired.flags.i;
  facts.suite = ex.suite.suite;
  for (const mikey::InnerPayload& p : desired.tp_data) {
    if (const auto* idr = std::get_if<mikey::Idr>(&p);
        idr != nullptr && idr->role == mikey::IdRole::kApplication) {
      facts.apps.push_back(Text(idr->id_data));
    }
  }
  facts.requests_in_last_minute = counter_.Count(ex.user->user_id, ex.received);
  auto decision = ports_.policy.AuthorizeTicketRequest(ex.user->user_id, facts);
  if (!decision.ok()) {
    return Result<Reply>(UnavailableError("policy store: " + decision.status().message()));
  }
  if (!decision->allowed()) {
    return Refuse(ex, kAuthFailure, decision->rule);
  }
  ex.decided = true;
  if (auto v = ports_.policy.PolicyVersion(); v.ok()) {
    ex.policy_version = *v;
  }

  // The granted Ticket Policy (spec §4.12): the KMS generated it (D=1) and must resolve it
  // (E=1, mode 1); I, J and the validity as the policy decided; K per spec §11 A25.
  mikey::TicketPolicy granted;
  granted.ticket_type = mikey::TicketType::kMikeyBaseTicket;
  granted.prf = desired.prf;
  granted.flags = desired.flags;
  granted.flags.d = true;
  granted.flags.e = true;
  granted.flags.i = decision->granted_forking;
  granted.flags.j = decision->granted_reuse;
  granted.flags.k = decision->k_flag;
  bool has_tgk = false;
  for (const KeyRequest& k : *requested_keys) {
    has_tgk = has_tgk || k.type == mikey::KeyDataType::kTgk || k.type == mikey::KeyDataType::kTgkSalt;
  }
  if (granted.flags.i && has_tgk) {
    granted.flags.f = true;  // RFC 6043 §6.10: forking with a TGK needs TRANSFER_RESP
  }
  if (Status s = mikey::CheckTpFlagRules(granted.flags); !s.ok()) {
    return Refuse(ex, kInvalidTpPar, "tp.flags", s.message());
  }
  // TP Data order (spec §4.12.2): IDRkms, IDRi, TRs, TRe, TRr, {IDRapp}, (IDRr).
  granted.tp_data.emplace_back(mikey::Idr{mikey::IdRole::kKms, mikey::IdType::kUri,
                                          mikey::Bytes(options_.kms_identity.begin(),
                                                       options_.kms_identity.end())});
  granted.tp_data.emplace_back(
      mikey::Idr{mikey::IdRole::kInitiator, ex.identity_type,
                 mikey::Bytes(ex.identity.begin(), ex.identity.end())});
  if (trs != nullptr) {
    granted.tp_data.emplace_back(*trs);
  }
  const uint32_t granted_validity =
      decision->granted_validity_s != 0 ? decision->granted_validity_s : options_.default_validity_s;
  if (tre != nullptr && requested_validity <= granted_validity) {
    granted.tp_data.emplace_back(*tre);
  } else {
    KMS_ASSIGN_OR_RETURN(uint32_t end, ToNtp32(start + std::chrono::seconds(granted_validity)));
    granted.tp_data.emplace_back(
        mikey::TimestampR{mikey::TsRole::kEndOfValidity, mikey::TsType::kNtpUtc32, end});
    // A requested end was shortened: K (spec §11 A25), on top of what the policy changed.
    granted.flags.k = granted.flags.k || tre != nullptr;
  }
  if (const mikey::TimestampR* trr = desired.FindTr(mikey::TsRole::kRekeyingInterval)) {
    granted.tp_data.emplace_back(*trr);
  }
  for (const std::string& app : decision->granted_apps) {
    granted.tp_data.emplace_back(mikey::Idr{mikey::IdRole::kApplication, mikey::IdType::kUri,
                                            mikey::Bytes(app.begin(), app.end())});
  }
  for (const mikey::Idr* r : desired.Responders()) {
    granted.tp_data.emplace_back(*r);
  }

  // Fresh keys from the token RNG, in a fixed order: ticket RAND, MPK, session keys.
  KMS_ASSIGN_OR_RETURN(uint32_t tpk_version, ports_.vault.ActiveTicketKeyVersion());
  KMS_ASSIGN_OR_RETURN(ports::KeyRef tpk, ports_.vault.TicketKey(tpk_version));
  KMS_ASSIGN_OR_RETURN(size_t tpk_size, ports_.vault.KeySize(tpk));
  SealParams seal;
  seal.prf = ex.suite.prf;
  seal.encr = ex.suite.encr;
  seal.mac = ex.suite.mac;
  KMS_ASSIGN_OR_RETURN(seal.issue_time_ntp, ToNtp64(ex.received));
  // RFC 6043 §12.1: RAND at least as long as the longer of TPK and MPK.
  KMS_ASSIGN_OR_RETURN(seal.rand, crypto::RandomBytes(ports_.random,
                                                      std::max(tpk_size, ex.suite.key_len)));
  const std::string tpk_id = TpkId(tpk_version);
  seal.psk_id.assign(tpk_id.begin(), tpk_id.end());
  TicketKeys keys;
  KMS_ASSIGN_OR_RETURN(keys.mpk, crypto::RandomSecret(ports_.random, ex.suite.key_len));
  uint32_t spi = 1;
  for (const KeyRequest& kr : *requested_keys) {
    mikey::KeyData k;
    k.type = kr.type;
    k.kv_type = mikey::KvType::kSpi;  // spec §11 A8
    KMS_ASSIGN_OR_RETURN(k.key, crypto::RandomSecret(ports_.random, kr.key_len));
    if (mikey::KeyDataHasSalt(kr.type)) {
      KMS_ASSIGN_OR_RETURN(SecretBytes salt, crypto::RandomSecret(ports_.random,
                                                                  kr.salt_len == 0 ? 14 : kr.salt_len));
      k.salt = std::move(salt);
    }
    k.spi = Spi(spi++);
    keys.session_keys.push_back(std::move(k));
  }

  VaultKeyOps tpk_ops(ports_.vault, tpk, tpk_size);
  const crypto::KeyOps* tpk_blocks[] = {&tpk_ops};
  KMS_ASSIGN_OR_RETURN(SealedTicketDraft draft, DraftBaseTicket(granted, keys, tpk_blocks, seal));

  // Keys for the initiator: MPKi, MPKr (forking only), then the session keys
  // (RFC 6043 §4.2.1.5; App. A.2.2 for MPKi/MPKr).
  KMS_ASSIGN_OR_RETURN(crypto::SoftwareInKey mpk_in, crypto::SoftwareInKey::Create(keys.mpk));
  KMS_ASSIGN_OR_RETURN(crypto::MpkPair mpks,
                       crypto::DeriveMpkPair(ex.suite.prf, mpk_in.blocks(), seal.rand));
  std::vector<mikey::KeyData> chain;
  chain.push_back(MpkEntry(std::move(mpks.mpki)));
  if (granted.flags.i) {
    chain.push_back(MpkEntry(std::move(mpks.mpkr)));
  }
  for (const mikey::KeyData& k : keys.session_keys) {
    chain.push_back(k.Clone());
  }
  // REQUEST_RESP = HDR, T, IDRkms, TICKET, KEMAC, V (RFC 6043 §4.2.1.5).
  std::vector<mikey::Payload> before;
  before.emplace_back(draft.ticket);
  auto finish = [&](std::span<uint8_t> wire, const mikey::WireLayout& layout) -> Status {
    KMS_RETURN_IF_ERROR(FinishTicketMac(wire, layout, draft));
    if (layout.ticket) {
      // The ticket id: SHA-256 of the Ticket Data, whose MAC seals the policy (the TICKET
      // payload itself changes with its Next Payload byte and the Initiator Data).
      const auto& r = layout.ticket->ticket_data;
      ex.ticket_id = HexEncode(crypto::Sha256(wire.subspan(r.offset, r.length)));
    }
    return Status::Ok();
  };
  KMS_ASSIGN_OR_RETURN(std::vector<uint8_t> wire,
                       SealResponse(ex, mikey::DataType::kRequestResp, chain, std::move(before),
                                    {}, finish));
  return Granted(ex, std::move(wire), decision->verdict == ports::Verdict::kAdjust,
                 decision->rule);
}

}  // namespace kms::core
