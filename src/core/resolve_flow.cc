// Ticket Resolve at the KMS: RESOLVE_INIT_PSK -> RESOLVE_RESP (RFC 6043 §4.2.3, §5.1.1,
// §6.10, App. A; spec §2.6, §2.7, §5.7, §7.2).
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
#include "src/mikey/ticket_data.h"

namespace kms::core {
namespace {

constexpr auto kAuthFailure = static_cast<uint8_t>(mikey::ErrorNo::kAuthFailure);

bool IsTgk(mikey::KeyDataType t) {
  return t == mikey::KeyDataType::kTgk || t == mikey::KeyDataType::kTgkSalt;
}

}  // namespace

Result<Reply> TicketService::HandleResolveInit(Exchange& ex) {
  if (auto early = Authenticate(ex)) {
    return std::move(*early);
  }
  const mikey::Ticket* ticket = ex.msg.FindTicket();
  if (ticket == nullptr || !ex.msg.layout.ticket) {
    return Refuse(ex, static_cast<uint8_t>(mikey::ErrorNo::kUnsupportedMessageType),
                  "ticket.missing");
  }
  {
    const auto& r = ex.msg.layout.ticket->ticket_data;  // as in request_flow.cc
    ex.ticket_id = HexEncode(crypto::Sha256(ex.wire.subspan(r.offset, r.length)));
  }
  const mikey::TicketPolicy& tp = ticket->policy;
  // The ticket's IDRi is a claim until the ticket MAC verifies (then ex.initiator).
  if (const mikey::Idr* i = tp.FindIdr(mikey::IdRole::kInitiator)) {
    ex.claimed_initiator = Text(i->id_data);
  }
  std::vector<std::string> ticket_responders;
  for (const mikey::Idr* r : tp.Responders()) {
    ticket_responders.push_back(Text(r->id_data));
  }

  // Which key sealed the ticket: a TPK version (D=1) or an initiator's mode-3 key (D=0).
  auto td = ReadTicketData(*ticket);
  if (!td.ok() || !td->idr_psk) {
    return Refuse(ex, kAuthFailure, "ticket.unreadable");
  }
  std::optional<int64_t> initiator_user;
  ports::KeyRef ticket_key{};
  if (tp.flags.d) {
    const auto version = ParseTpkId(td->idr_psk->id_data);
    if (!version) {
      return Refuse(ex, kAuthFailure, "ticket.unknown_tpk");
    }
    // Rotation (issue 6 §7): retired versions resolve until their tickets expire; a
    // destroyed version's tickets are refused.
    auto state = ports_.policy.KeyVersion(ports::KeyKind::kTpk, *version);
    if (!state.ok() || state->state == ports::KeyState::kDestroyed) {
      return Refuse(ex, kAuthFailure, "ticket.tpk_destroyed");
    }
    auto key = ports_.vault.TicketKey(*version);
    if (!key.ok()) {
      if (key.status().code() == StatusCode::kUnavailable) {
        return Result<Reply>(key.status());
      }
      return Refuse(ex, kAuthFailure, "ticket.tpk_missing");
    }
    ticket_key = *key;
    if (auto u = ports_.policy.FindUserByIdentity(ex.claimed_initiator); u.ok()) {
      initiator_user = u->user_id;
    }
  } else {
    // Mode 3 (spec §1.2): the ticket is sealed with a key the initiator shares with the
    // KMS; that key must belong to the IDRi named in the ticket, or any holder of a mode-3
    // key could pose as any initiator.
    auto cred = ports_.policy.FindCredential(Text(td->idr_psk->id_data));
    const auto unix_s = std::chrono::duration_cast<std::chrono::seconds>(
                            ex.received.time_since_epoch()).count();
    if (!cred.ok() || cred->kind != ports::CredentialKind::kMode3TicketKey ||
        !ports::UsableAt(*cred, unix_s)) {
      return Refuse(ex, kAuthFailure, "mode3.credential");
    }
    auto owner = ports_.policy.FindUserById(cred->user_id);
    const bool owns = owner.ok() && owner->enabled &&
                      std::find(owner->public_identities.begin(), owner->public_identities.end(),
                                ex.claimed_initiator) != owner->public_identities.end();
    if (!owns) {
      return Refuse(ex, kAuthFailure, "mode3.key_not_initiators");
    }
    initiator_user = owner->user_id;
    auto key = ports_.vault.OpenCredential(cred->wrapped);
    if (!key.ok()) {
      if (key.status().code() == StatusCode::kUnavailable) {
        return Result<Reply>(key.status());
      }
      return Refuse(ex, kAuthFailure, "mode3.unwrap");
    }
    ticket_key = *key;
  }
  KMS_ASSIGN_OR_RETURN(size_t ticket_key_size, ports_.vault.KeySize(ticket_key));
  VaultKeyOps tk_ops(ports_.vault, ticket_key, ticket_key_size);
  const crypto::KeyOps* tk_blocks[] = {&tk_ops};
  // Verify the ticket MAC before decrypting anything (spec §7.2 step 7).
  auto opened = OpenBaseTicket(ex.wire, ex.msg.layout, *ticket, tk_blocks, ticket_key_size);
  if (!opened.ok()) {
    if (opened.status().code() == StatusCode::kUnavailable) {
      return Result<Reply>(opened.status());
    }
    // A ticket whose MAC verified but whose contents this KMS will not use (e.g. a mode-3
    // ticket with short keys) is refused like any other: one answer, the reason audited.
    const bool mac_failed = opened.status().code() == StatusCode::kAuthFailed;
    return Refuse(ex, kAuthFailure, mac_failed ? "ticket.mac" : "ticket.contents",
                  opened.status().message());
  }
  // Sealed by the ticket MAC just verified: now they may name the call in the audit row.
  ex.initiator = ex.claimed_initiator;
  ex.responders = JoinIdentities(ticket_responders);

  // Validity window (spec §6: the KMS SHOULD refuse outside [TRs, TRe]).
  if (const mikey::TimestampR* trs = tp.FindTr(mikey::TsRole::kStartOfValidity)) {
    auto s = TimeOf(trs->ts_type, trs->value);
    if (!s.ok() || ex.received < *s) {
      return Refuse(ex, kAuthFailure, "ticket.not_yet_valid");
    }
  }
  if (const mikey::TimestampR* tre = tp.FindTr(mikey::TsRole::kEndOfValidity)) {
    auto e = TimeOf(tre->ts_type, tre->value);
    if (!e.ok() || ex.received > *e) {
      return Refuse(ex, kAuthFailure, "ticket.expired");
    }
  }
  if (const mikey::Idr* kms = tp.FindIdr(mikey::IdRole::kKms);
      kms != nullptr && Text(kms->id_data) != options_.kms_identity) {
    // Resolution through another KMS (RFC 6043 §10) is not offered by this KMS.
    return Refuse(ex, kAuthFailure, "ticket.other_kms");
  }

  // Is this responder allowed to resolve (named in the ticket, or a member of a group it
  // names), and does policy allow it (spec §7.2 step 8)?
  ports::ResolveFacts facts;
  facts.responder = ex.identity;
  facts.ticket_responders = ticket_responders;
  auto groups = ports_.policy.GroupsOf(ex.identity);
  if (!groups.ok()) {
    return Result<Reply>(UnavailableError("policy store: " + groups.status().message()));
  }
  facts.responder_groups = *groups;
  facts.kms_generated = tp.flags.d;
  facts.requests_in_last_minute = counter_.Count(ex.user->user_id, ex.received);
  auto decision = ports_.policy.AuthorizeResolve(ex.user->user_id, initiator_user, facts);
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

  const crypto::PrfFunc tp_prf = opened->prf;
  KMS_ASSIGN_OR_RETURN(crypto::SoftwareInKey mpk_in,
                       crypto::SoftwareInKey::Create(opened->keys.mpk));
  KMS_ASSIGN_OR_RETURN(crypto::MpkPair mpks,
                       crypto::DeriveMpkPair(tp_prf, mpk_in.blocks(), opened->data.rand.rand));

  std::vector<mikey::KeyData> chain;
  chain.push_back(MpkEntry(std::move(mpks.mpki)));
  std::vector<uint8_t> rand_kms;
  if (tp.flags.i) {
    // RFC 6043 §4.2.3.4: verify the Initiator Data (Vr, keyed from the un-forked MPKr)
    // before resolving a forking ticket: it proves the ticket's requester built this
    // TRANSFER_INIT (spec §4.12.3).
    if (!ex.msg.layout.ticket->initiator) {
      return Refuse(ex, kAuthFailure, "initiator_data.missing");
    }
    // Vr uses Vi's MAC algorithm, i.e. the TRANSFER_INIT's (spec §4.12.3), which need not
    // be the ticket's; the decoder made sure Vi and Vr name the same one. NULL is refused.
    auto init = mikey::DecodeInitiatorData(ticket->initiator_data);
    auto vr_alg = init.ok() && init->vr.mac_alg != mikey::MacAlg::kNull
                      ? ToCrypto(init->vr.mac_alg)
                      : Result<crypto::MacAlgorithm>(DecodeError("Vr MAC algorithm"));
    if (!vr_alg.ok()) {
      return Refuse(ex, kAuthFailure, "initiator_data.vr", vr_alg.status().message());
    }
    KMS_ASSIGN_OR_RETURN(crypto::SoftwareInKey mpkr_in, crypto::SoftwareInKey::Create(mpks.mpkr));
    KMS_ASSIGN_OR_RETURN(SecretBytes vr_key,
                         crypto::DeriveVrAuthKey(tp_prf, mpkr_in.blocks(), *vr_alg));
    KMS_ASSIGN_OR_RETURN(std::vector<uint8_t> vr_input,
                         mikey::VrMacInput(ex.wire, ex.msg.layout));
    const auto& vr = ex.msg.layout.ticket->initiator->vr_mac;
    if (!crypto::VerifyMac(*vr_alg, vr_key, vr_input, ex.wire.subspan(vr.offset, vr.length)).ok()) {
      return Refuse(ex, kAuthFailure, "initiator_data.vr");
    }
    // Fork MPKr and every TGK for this device (RFC 6043 §5.1.1): a fresh RANDRkms at least
    // as long as the longest forked key (RFC 6043 §12.1), and this responder's identity.
    size_t longest = mpks.mpkr.size();
    for (const mikey::KeyData& k : opened->keys.session_keys) {
      longest = std::max(longest, IsTgk(k.type) ? k.key.size() : size_t{0});
    }
    KMS_ASSIGN_OR_RETURN(rand_kms, crypto::RandomBytes(ports_.random, std::max<size_t>(longest, 16)));
    const auto id = AsBytes(ex.identity);
    KMS_ASSIGN_OR_RETURN(SecretBytes mpkr_forked,
                         crypto::ForkKey(tp_prf, crypto::ForkedKey::kMpkr, mpkr_in.blocks(), id,
                                         rand_kms));
    chain.push_back(MpkEntry(std::move(mpkr_forked)));
    for (const mikey::KeyData& k : opened->keys.session_keys) {
      mikey::KeyData out = k.Clone();
      if (IsTgk(k.type)) {  // TEKs and GTGKs are never forked
        KMS_ASSIGN_OR_RETURN(crypto::SoftwareInKey tgk_in, crypto::SoftwareInKey::Create(k.key));
        KMS_ASSIGN_OR_RETURN(out.key, crypto::ForkKey(tp_prf, crypto::ForkedKey::kTgk,
                                                      tgk_in.blocks(), id, rand_kms));
      }
      chain.push_back(std::move(out));
    }
  } else {
    for (const mikey::KeyData& k : opened->keys.session_keys) {
      chain.push_back(k.Clone());
    }
  }
  // RESOLVE_RESP = HDR, T, IDRkms, KEMAC, [IDRr, RANDRkms], V (RFC 6043 §4.2.3.4).
  std::vector<mikey::Payload> after;
  if (tp.flags.i) {
    after.emplace_back(mikey::Idr{mikey::IdRole::kResponder, ex.identity_type,
                                  mikey::Bytes(ex.identity.begin(), ex.identity.end())});
    after.emplace_back(mikey::RandR{mikey::RandRole::kKms, rand_kms});
  }
  KMS_ASSIGN_OR_RETURN(std::vector<uint8_t> wire,
                       SealResponse(ex, mikey::DataType::kResolveResp, chain, {},
                                    std::move(after), nullptr));
  return Granted(ex, std::move(wire), decision->verdict == ports::Verdict::kAdjust,
                 decision->rule);
}

}  // namespace kms::core
