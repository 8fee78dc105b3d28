#include "src/client/csb_update.h"

#include <optional>
#include <string>
#include <variant>

#include "src/mikey/decoder.h"

namespace kms::client {
namespace {

// RFC 6043 §5.2: the key set of TRANSFER_RESP (label 0x02 with RANDRi and [RANDRr]).
MessageLabel UpdateLabel(const CsbState& st) {
  return MessageLabel{st.csb_id, crypto::MessageRole::kResponse, st.rand_ri, st.rand_rr};
}

mikey::MacContext Identities(const CsbState& st) {
  mikey::MacContext ctx;
  ctx.identity_i = AsBytes(st.identity_i);  // spec §11 A24: role order, whoever sends
  ctx.identity_r = AsBytes(st.identity_r);
  return ctx;
}

mikey::IdRole PeerRole(const CsbState& st) {
  return st.own_role == mikey::IdRole::kInitiator ? mikey::IdRole::kResponder
                                                  : mikey::IdRole::kInitiator;
}

const std::string& IdentityOf(const CsbState& st, mikey::IdRole role) {
  return role == mikey::IdRole::kInitiator ? st.identity_i : st.identity_r;
}

mikey::Idr IdrOf(const CsbState& st, mikey::IdRole role) {
  return MakeIdr(role, mikey::IdType::kUri, IdentityOf(st, role));
}

// The IDRi/IDRr payloads of `m` in message order.
std::vector<const mikey::Idr*> PartyIdrs(const mikey::Message& m) {
  std::vector<const mikey::Idr*> out;
  for (const mikey::Payload& p : m.payloads) {
    const auto* idr = std::get_if<mikey::Idr>(&p);
    if (idr != nullptr &&
        (idr->role == mikey::IdRole::kInitiator || idr->role == mikey::IdRole::kResponder)) {
      out.push_back(idr);
    }
  }
  return out;
}

// Checks that `m` names the sender first as the party `first` with the identity of this
// session, followed by the other party if `second` is given (spec §2.8; RFC 6043 §5.2).
Status CheckPartyIdrs(const mikey::Message& m, const CsbState& st, mikey::IdRole first,
                      std::optional<mikey::IdRole> second) {
  const std::vector<const mikey::Idr*> ids = PartyIdrs(m);
  if (!ids.empty() && ids.front()->role == st.own_role) {
    // Both directions use the same keys (spec §11 A9), so only the direction-dependent
    // form tells our own message, reflected back by an attacker, from the peer's.
    return PermissionDeniedError("CSB update message sent by this party (reflected)");
  }
  const size_t want = second ? 2 : 1;
  if (ids.size() != want || ids[0]->role != first || IdrText(*ids[0]) != IdentityOf(st, first) ||
      (second && (ids[1]->role != *second || IdrText(*ids[1]) != IdentityOf(st, *second)))) {
    return PermissionDeniedError("CSB update message does not name the parties of this session");
  }
  return Status::Ok();
}

Result<std::vector<CryptoSessionKeys>> Derive(const CsbState& st, const mikey::Hdr& map,
                                              const std::vector<mikey::KeyData>& keys) {
  std::vector<const mikey::SecurityPolicy*> sps;
  for (const auto& sp : st.policies) sps.push_back(&sp);
  std::vector<const mikey::KeyData*> kp;
  for (const auto& k : keys) kp.push_back(&k);
  TekInputs tin;
  tin.prf = st.prf;
  if (st.h) tin.rand_ri = st.rand_ri;
  if (st.g) tin.rand_rr = st.rand_rr;
  return DeriveCryptoSessionKeys(map, sps, kp, tin);
}

}  // namespace

Result<PendingCsbUpdate> BuildCsbUpdateInit(const CsbState& st,
                                            std::vector<mikey::KeyData> new_keys, const Env& env) {
  KMS_RETURN_IF_ERROR(CheckSessionKeyChain(new_keys, false));
  if (new_keys.empty() || new_keys.front().spi.empty()) {
    return InvalidArgumentError("a CSB update needs at least one key with an SPI");
  }
  KMS_ASSIGN_OR_RETURN(const mikey::Timestamp t, NowTimestamp(env.clock));
  PendingCsbUpdate p;
  p.map = st.map;
  p.map.data_type = mikey::DataType::kTransferInit;
  p.map.v_flag = true;  // RFC 6043 §5.2: response wanted
  for (mikey::GenericIdBlock& b : p.map.generic_map) {
    b.spi = new_keys.front().spi;
  }
  const MessageLabel label = UpdateLabel(st);
  mikey::Message m;
  m.hdr = p.map;
  m.payloads.push_back(t);
  // spec §2.8 (RFC 6043 §5.2): the sender's IDR first (IDRi, IDRr from the Initiator; the
  // mirror IDRr, IDRi from the Responder). The MAC identity order stays Identity_i ||
  // Identity_r either way (spec §11 A24).
  m.payloads.push_back(IdrOf(st, st.own_role));
  m.payloads.push_back(IdrOf(st, PeerRole(st)));
  KMS_ASSIGN_OR_RETURN(mikey::Kemac k, EncryptKemac(new_keys, st.inkey, label, st.prf, st.encr,
                                                    st.mac, TimestampIv64(t)));
  m.payloads.push_back(std::move(k));
  m.payloads.push_back(PlaceholderV(st.mac));
  KMS_ASSIGN_OR_RETURN(SealedMessage sealed, SealMessage(m, st.inkey, label, Identities(st)));
  p.wire = std::move(sealed.wire);
  p.new_keys = std::move(new_keys);
  return p;
}

Result<CsbUpdateAnswer> AnswerCsbUpdate(std::span<const uint8_t> update, CsbState& st,
                                        const Env& env) {
  KMS_ASSIGN_OR_RETURN(mikey::Message m, mikey::Decode(update));
  if (m.hdr.data_type != mikey::DataType::kTransferInit || m.hdr.csb_id != st.csb_id ||
      m.hdr.prf != st.prf || m.hdr.map_type != mikey::CsIdMapType::kGenericId) {
    return AuthFailedError("not a CSB update of this session");
  }
  if (m.FindTicket() != nullptr || m.FindRandR(mikey::RandRole::kInitiator) != nullptr) {
    // RFC 6043 §5.2: no new RANDs and no TICKET in an update.
    return PermissionDeniedError("CSB update carries a TICKET or a new RAND");
  }
  // Sent by the peer: its IDR first, then ours (the MAC covers this order).
  KMS_RETURN_IF_ERROR(CheckPartyIdrs(m, st, PeerRole(st), st.own_role));
  const MessageLabel label = UpdateLabel(st);
  KMS_RETURN_IF_ERROR(VerifyMessageMac(update, m, st.inkey, label, Identities(st)));
  // RFC 6043 §5.2: an update carries a new T; with RFC 3830 §5.4 replay protection this
  // means fresh (NTP types) and later than any update accepted before: a replayed update
  // would otherwise be authentic and switch the session back to older keys.
  const mikey::Timestamp& upd_t = *m.FindT();
  const uint64_t t64 = TimestampIv64(upd_t);
  if (const auto at = TimestampInstant(upd_t)) {
    const UnixTime now = env.clock.Now();
    if (*at > now + kCsbUpdateSkew || *at + kCsbUpdateSkew < now) {
      return Status(StatusCode::kPermissionDenied, "CSB update timestamp outside the window",
                    static_cast<uint8_t>(mikey::ErrorNo::kInvalidTs));
    }
  }
  if (t64 <= st.last_update_t) {
    return Status(StatusCode::kPermissionDenied, "CSB update replayed or older than the last one",
                  static_cast<uint8_t>(mikey::ErrorNo::kInvalidTs));
  }
  std::vector<mikey::KeyData> keys;
  if (const mikey::Kemac* k = m.FindKemac()) {
    KMS_ASSIGN_OR_RETURN(
        keys, DecryptKemac(*k, st.inkey, label, st.prf, st.mac, t64, std::nullopt,
                           &CheckSessionKeyChain, false));
  } else {
    return PermissionDeniedError("CSB update without keys");
  }
  KMS_ASSIGN_OR_RETURN(std::vector<CryptoSessionKeys> sessions, Derive(st, m.hdr, keys));

  KMS_ASSIGN_OR_RETURN(const mikey::Timestamp t, NowTimestamp(env.clock));
  mikey::Message r;
  r.hdr = m.hdr;
  r.hdr.data_type = mikey::DataType::kTransferResp;
  r.hdr.v_flag = false;
  r.payloads.push_back(t);
  // The answering party's IDR: IDRr from the Responder (RFC 6043 §5.2), IDRi from the
  // Initiator (the mirror form, spec §2.8).
  r.payloads.push_back(IdrOf(st, st.own_role));
  r.payloads.push_back(PlaceholderV(st.mac));
  mikey::MacContext ctx;
  ctx.initial_message = update;
  KMS_ASSIGN_OR_RETURN(SealedMessage sealed, SealMessage(r, st.inkey, label, ctx));
  st.map = m.hdr;
  st.last_update_t = t64;
  return CsbUpdateAnswer{std::move(sealed.wire), std::move(sessions)};
}

Result<std::vector<CryptoSessionKeys>> ProcessCsbUpdateResp(std::span<const uint8_t> resp,
                                                            const PendingCsbUpdate& pending,
                                                            CsbState& st) {
  KMS_ASSIGN_OR_RETURN(mikey::Message m, mikey::Decode(resp));
  if (auto err = ErrorFromMessage(m)) {
    return *err;
  }
  if (m.hdr.data_type != mikey::DataType::kTransferResp || m.hdr.csb_id != st.csb_id ||
      m.hdr.prf != st.prf) {
    return AuthFailedError("not the answer to this CSB update");
  }
  KMS_RETURN_IF_ERROR(CheckPartyIdrs(m, st, PeerRole(st), std::nullopt));
  mikey::MacContext ctx;
  ctx.initial_message = pending.wire;
  KMS_RETURN_IF_ERROR(VerifyMessageMac(resp, m, st.inkey, UpdateLabel(st), ctx));
  KMS_ASSIGN_OR_RETURN(std::vector<CryptoSessionKeys> sessions,
                       Derive(st, pending.map, pending.new_keys));
  st.map = pending.map;
  return sessions;
}

}  // namespace kms::client
