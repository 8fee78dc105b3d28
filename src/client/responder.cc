#include "src/client/responder.h"

#include <algorithm>
#include <string>
#include <utility>

#include "src/base/secret_bytes.h"
#include "src/mikey/decoder.h"
#include "src/mikey/ticket_data.h"

namespace kms::client {

Result<ReceivedTransferInit> ReceiveTransferInit(std::span<const uint8_t> wire,
                                                 const ResponderPolicy& policy, UnixTime now) {
  KMS_ASSIGN_OR_RETURN(mikey::Message m, mikey::Decode(wire));
  KMS_RETURN_IF_ERROR(EarlyCheckTransferInit(m, policy, now));
  return ReceivedTransferInit{std::vector<uint8_t>(wire.begin(), wire.end()), std::move(m)};
}

Result<PendingResolve> BuildResolveInit(const ReceivedTransferInit& ti, const Credentials& creds,
                                        std::string_view kms_identity, const Suite& suite,
                                        const Env& env, size_t rand_len) {
  if (rand_len < creds.psk.size() || rand_len > 255) {
    return InvalidArgumentError("RANDRr shorter than the PSK (RFC 6043 §12.1)");
  }
  const mikey::Ticket* tk = ti.msg.FindTicket();
  if (tk == nullptr) {
    return InvalidArgumentError("TRANSFER_INIT without TICKET");
  }
  std::string kms(kms_identity);
  if (const mikey::Idr* k = tk->policy.FindIdr(mikey::IdRole::kKms)) {
    kms = IdrText(*k);  // the KMS able to resolve the ticket (RFC 6043 §6.10)
  }
  PendingResolve p;
  p.prf = suite.prf;
  p.forking = tk->policy.flags.i;
  KMS_ASSIGN_OR_RETURN(p.csb_id, RandomU32(env.rng));
  KMS_ASSIGN_OR_RETURN(p.rand_rr, crypto::RandomBytes(env.rng, rand_len));
  KMS_ASSIGN_OR_RETURN(p.t, NowTimestamp(env.clock));

  mikey::Message m;
  m.hdr.data_type = mikey::DataType::kResolveInitPsk;
  m.hdr.v_flag = true;  // RFC 6043 §4.2.3.1 (spec §11 A1)
  m.hdr.prf = suite.prf;
  m.hdr.csb_id = p.csb_id;
  m.hdr.map_type = mikey::CsIdMapType::kEmpty;
  m.payloads.push_back(p.t);
  m.payloads.push_back(mikey::RandR{mikey::RandRole::kResponder, p.rand_rr});
  m.payloads.push_back(MakeIdr(mikey::IdRole::kResponder, mikey::IdType::kUri, creds.identity));
  m.payloads.push_back(MakeIdr(mikey::IdRole::kKms, mikey::IdType::kUri, kms));
  m.payloads.push_back(*tk);  // exactly as received (the codec re-encodes identically)
  m.payloads.push_back(
      MakeIdr(mikey::IdRole::kPreSharedKey, mikey::IdType::kByteString, creds.psk_id));
  m.payloads.push_back(PlaceholderV(suite.mac));
  const MessageLabel label{p.csb_id, crypto::MessageRole::kInitial, {}, p.rand_rr};
  mikey::MacContext ctx;
  ctx.identity_r = AsBytes(creds.identity);
  ctx.identity_kms = AsBytes(kms);
  KMS_ASSIGN_OR_RETURN(SealedMessage sealed, SealMessage(m, creds.psk, label, ctx));
  p.wire = std::move(sealed.wire);
  return p;
}

Result<PendingResolve> PendingResolveFromWire(std::span<const uint8_t> sent) {
  KMS_ASSIGN_OR_RETURN(const mikey::Message m, mikey::Decode(sent));
  const mikey::RandR* rr = m.FindRandR(mikey::RandRole::kResponder);
  const mikey::Ticket* tk = m.FindTicket();
  if (m.hdr.data_type != mikey::DataType::kResolveInitPsk || rr == nullptr || tk == nullptr) {
    return InvalidArgumentError("not a RESOLVE_INIT_PSK");
  }
  PendingResolve p;
  p.wire.assign(sent.begin(), sent.end());
  p.csb_id = m.hdr.csb_id;
  p.prf = m.hdr.prf;
  p.t = *m.FindT();
  p.rand_rr = rr->rand;
  p.forking = tk->policy.flags.i;
  return p;
}

Result<ResolvedTicket> ProcessResolveResp(std::span<const uint8_t> resp, const PendingResolve& pr,
                                          const Credentials& creds) {
  KMS_ASSIGN_OR_RETURN(mikey::Message m, mikey::Decode(resp));
  if (auto err = ErrorFromMessage(m)) {
    return *err;
  }
  if (m.hdr.data_type != mikey::DataType::kResolveResp) {
    return DecodeError("expected RESOLVE_RESP", 11);
  }
  // RFC 6043 §4.2.3.5: version, PRF, CSB ID, #CS and map type identical to the request.
  if (m.hdr.version != mikey::kMikeyVersion || m.hdr.prf != pr.prf || m.hdr.csb_id != pr.csb_id ||
      m.hdr.cs_count != 0 || m.hdr.map_type != mikey::CsIdMapType::kEmpty) {
    return AuthFailedError("RESOLVE_RESP does not match the outstanding request");
  }
  const MessageLabel label{pr.csb_id, crypto::MessageRole::kResponse, {}, pr.rand_rr};
  mikey::MacContext ctx;
  ctx.initial_message = pr.wire;
  KMS_RETURN_IF_ERROR(VerifyMessageMac(resp, m, creds.psk, label, ctx));

  KMS_ASSIGN_OR_RETURN(
      std::vector<mikey::KeyData> keys,
      DecryptKemac(*m.FindKemac(), creds.psk, label, m.hdr.prf, m.FindV()->mac_alg,
                   TimestampIv64(*m.FindT()), TimestampIv64(pr.t), &CheckKmsKeyChain, pr.forking));
  ResolvedTicket out;
  if (const mikey::Idr* idrr = m.FindIdr(mikey::IdRole::kResponder)) {
    out.idrr = idrr->id_data;
  }
  if (const mikey::RandR* rk = m.FindRandR(mikey::RandRole::kKms)) {
    out.rand_kms = rk->rand;
  }
  if (pr.forking && (out.idrr.empty() || out.rand_kms.empty())) {
    return AuthFailedError("forking RESOLVE_RESP without IDRr and RANDRkms");
  }
  out.mpki = std::move(keys[0].key);
  size_t next = 1;
  if (pr.forking) {
    out.mpkr_prime = std::move(keys[1].key);
    next = 2;
  }
  for (size_t i = next; i < keys.size(); ++i) {
    out.session_keys.push_back(std::move(keys[i]));
  }
  if (pr.forking) {
    // RFC 6043 §12.1: RANDRkms at least as long as the longest forked key (MPKr, TGK).
    KMS_RETURN_IF_ERROR(CheckRandCovers(
        out.rand_kms.size(), std::max(out.mpkr_prime->size(), LongestTgk(out.session_keys)),
        "RANDRkms"));
  }
  return out;
}

Result<ResponderSession> AuthenticateTransferInit(ReceivedTransferInit ti,
                                                  ResolvedTicket resolved) {
  const mikey::Message& m = ti.msg;
  const mikey::Idr* idri = m.FindIdr(mikey::IdRole::kInitiator);
  const mikey::Idr* idrr = m.FindIdr(mikey::IdRole::kResponder);
  const mikey::RandR* randri = m.FindRandR(mikey::RandRole::kInitiator);
  const mikey::Ticket* tk = m.FindTicket();
  if (idri == nullptr || idrr == nullptr || randri == nullptr || tk == nullptr) {
    // spec §11 A4: this profile always sends IDRi/IDRr; without them the MAC input is open.
    return AuthFailedError("TRANSFER_INIT lacks IDRi, IDRr, RANDRi or TICKET");
  }
  const MessageLabel label{m.hdr.csb_id, crypto::MessageRole::kInitial, randri->rand, {}};
  mikey::MacContext ctx;
  ctx.identity_i = idri->id_data;
  ctx.identity_r = idrr->id_data;
  KMS_RETURN_IF_ERROR(VerifyMessageMac(ti.wire, m, resolved.mpki, label, ctx));
  if (tk->policy.flags.i) {
    // RFC 6043 §4.2.3.6: the V MAC must equal Vi's MAC (the KMS checked Vr).
    KMS_ASSIGN_OR_RETURN(const mikey::InitiatorData id,
                         mikey::DecodeInitiatorData(tk->initiator_data));
    if (!ConstantTimeEquals(id.vi.mac, m.FindV()->mac)) {
      return AuthFailedError("TRANSFER_INIT MAC differs from the Initiator Data Vi");
    }
  }
  // spec §7.4 (RFC 6043 §12): the claimed initiator must be the ticket's requester.
  const mikey::Idr* tp_idri = tk->policy.FindIdr(mikey::IdRole::kInitiator);
  if (tp_idri == nullptr || tp_idri->id_data != idri->id_data) {
    return PermissionDeniedError("TRANSFER_INIT IDRi differs from the ticket's IDRi");
  }
  // Authenticated from here on (spec §9.3: authenticate before decrypting).
  std::vector<mikey::KeyData> initiator_keys;
  if (const mikey::Kemac* kemac = m.FindKemac()) {
    if (!tk->policy.flags.l) {
      return PermissionDeniedError("initiator-supplied keys not allowed (L=0)");
    }
    // RFC 6043 §4.2.2.1, spec §11 A23: the same key set as V (MPKi, label 0x01 with
    // RANDRi), IV with this message's CSB ID and T.
    KMS_ASSIGN_OR_RETURN(initiator_keys, DecryptKemac(*kemac, resolved.mpki, label, m.hdr.prf,
                                                      m.FindV()->mac_alg, TimestampIv64(*m.FindT()),
                                                      std::nullopt, &CheckSessionKeyChain, false));
    KMS_RETURN_IF_ERROR(CheckSpisDisjoint(initiator_keys, resolved.session_keys));
  }
  std::string who = IdrText(*idri);
  return ResponderSession{std::move(ti), std::move(resolved), std::move(who),
                          std::move(initiator_keys)};
}

Result<ResponderSession> AuthenticateTransferInit(ReceivedTransferInit ti, ResolvedTicket resolved,
                                                  ReplayCache& replay, UnixTime now) {
  KMS_ASSIGN_OR_RETURN(ResponderSession s,
                       AuthenticateTransferInit(std::move(ti), std::move(resolved)));
  // spec §7.4: only an authenticated TRANSFER_INIT enters the cache (spec §9.1), keyed by
  // its MAC; it lives for the skew window around its T.
  const mikey::Message& m = s.ti.msg;
  const UnixTime sent = TimestampInstant(*m.FindT()).value_or(now);
  KMS_RETURN_IF_ERROR(replay.CheckAndInsert(m.FindV()->mac, sent, now));
  return s;
}

Result<TransferRespResult> BuildTransferResp(const ResponderSession& s,
                                             const TransferRespOptions& opt, const Env& env) {
  const mikey::Message& ti = s.ti.msg;
  const mikey::Ticket* tk = ti.FindTicket();
  const mikey::TpFlags& f = tk->policy.flags;
  if (!opt.responder_keys.empty() && !f.m) {
    return PermissionDeniedError("ticket forbids responder-supplied keys (M=0)");
  }
  const mikey::RandR* randri = ti.FindRandR(mikey::RandRole::kInitiator);
  const mikey::Verification* tiv = ti.FindV();
  const SecretBytes& inkey =
      (f.i && s.resolved.mpkr_prime) ? *s.resolved.mpkr_prime : s.resolved.mpki;
  // RFC 6043 §12.1 (spec §4.4): RANDRi || RANDRr enter the 0x02 label (inkey MPKr'/MPKi)
  // and, with H and G, the 0x03 label (inkey the TGKs); together they must be at least as
  // long as the longest of these keys.
  const size_t need = std::max(inkey.size(), LongestTgk(s.resolved.session_keys));
  std::vector<uint8_t> rand_rr;
  if (f.g) {  // RFC 6043 §4.2.2.3: RANDRr iff G
    const size_t min_rr = std::max(kMinRandBytes, need - std::min(need, randri->rand.size()));
    const size_t len = opt.rand_len == 0 ? min_rr : opt.rand_len;
    if (len < min_rr || len > 255) {
      return InvalidArgumentError("RANDRr length " + std::to_string(len) + " outside [" +
                                  std::to_string(min_rr) + ", 255] (RFC 6043 §12.1)");
    }
    KMS_ASSIGN_OR_RETURN(rand_rr, crypto::RandomBytes(env.rng, len));
  }
  KMS_RETURN_IF_ERROR(CheckRandCovers(randri->rand.size() + rand_rr.size(), need,
                                      f.g ? "RANDRi || RANDRr" : "RANDRi (G=0)"));
  KMS_ASSIGN_OR_RETURN(const mikey::Timestamp t, NowTimestamp(env.clock));

  // The key our direction uses: a responder key, else the first resolved session key.
  std::vector<uint8_t> spi;
  if (!opt.responder_keys.empty()) {
    spi = opt.responder_keys.front().spi;
  } else if (!s.resolved.session_keys.empty()) {
    spi = s.resolved.session_keys.front().spi;
  }
  const auto sps = ti.Policies();
  mikey::Hdr h = ti.hdr;
  h.v_flag = false;
  h.data_type = mikey::DataType::kTransferResp;
  for (mikey::GenericIdBlock& b : h.generic_map) {
    // RFC 6043 §6.1.1: exactly one policy per CS in the response.
    if (b.policy_nos.empty()) {
      if (sps.empty()) {
        return PermissionDeniedError("crypto session without any security policy");
      }
      b.policy_nos = {sps.front()->policy_no};
    }
    b.policy_nos.resize(1);
    if (b.session_data.empty()) {
      KMS_ASSIGN_OR_RETURN(const uint32_t ssrc, RandomU32(env.rng));
      b.SetSrtpSessionData(mikey::SrtpSessionData{ssrc, std::nullopt, std::nullopt});
    }
    if (b.spi.empty()) {
      b.spi = spi;
    }
  }
  mikey::Message m;
  m.hdr = h;
  m.payloads.push_back(t);
  if (f.g) {
    m.payloads.push_back(mikey::RandR{mikey::RandRole::kResponder, rand_rr});
  }
  // RFC 6043 §4.2.2.3: IDRr and RANDRkms identical to RESOLVE_RESP's when present there.
  const std::vector<uint8_t> idrr =
      s.resolved.idrr.empty() ? BytesOf(opt.identity) : s.resolved.idrr;
  m.payloads.push_back(mikey::Idr{mikey::IdRole::kResponder, mikey::IdType::kUri, idrr});
  if (!s.resolved.rand_kms.empty()) {
    m.payloads.push_back(mikey::RandR{mikey::RandRole::kKms, s.resolved.rand_kms});
  }
  const MessageLabel label{h.csb_id, crypto::MessageRole::kResponse, randri->rand, rand_rr};
  if (!opt.responder_keys.empty()) {
    // spec §11 A23: the same key set as V; IV with this message's CSB ID and T.
    KMS_ASSIGN_OR_RETURN(mikey::Kemac k, EncryptKemac(opt.responder_keys, inkey, label, h.prf,
                                                      tiv->mac_alg == mikey::MacAlg::kHmacSha256_256
                                                          ? mikey::EncrAlg::kAesCm256
                                                          : mikey::EncrAlg::kAesCm128,
                                                      tiv->mac_alg, TimestampIv64(t)));
    m.payloads.push_back(std::move(k));
  }
  m.payloads.push_back(PlaceholderV(tiv->mac_alg));
  mikey::MacContext ctx;
  ctx.initial_message = s.ti.wire;
  KMS_ASSIGN_OR_RETURN(SealedMessage sealed, SealMessage(m, inkey, label, ctx));

  std::vector<const mikey::KeyData*> keys;
  // The same candidates as the Initiator's ProcessTransferResp: responder, initiator,
  // ticket keys.
  for (const auto& k : opt.responder_keys) keys.push_back(&k);
  for (const auto& k : s.initiator_keys) keys.push_back(&k);
  for (const auto& k : s.resolved.session_keys) keys.push_back(&k);
  TekInputs tin;
  tin.prf = h.prf;
  if (f.h) tin.rand_ri = randri->rand;
  if (f.g) tin.rand_rr = rand_rr;
  TransferRespResult out;
  out.wire = std::move(sealed.wire);
  KMS_ASSIGN_OR_RETURN(out.keys.sessions, DeriveCryptoSessionKeys(h, sps, keys, tin));
  out.keys.peer_identity = s.identity_i;
  CsbState& c = out.keys.csb;
  c.csb_id = h.csb_id;
  c.prf = h.prf;
  c.mac = tiv->mac_alg;
  c.encr = c.mac == mikey::MacAlg::kHmacSha256_256 ? mikey::EncrAlg::kAesCm256
                                                   : mikey::EncrAlg::kAesCm128;
  c.inkey = inkey.Clone();
  c.rand_ri = randri->rand;
  c.rand_rr = rand_rr;
  c.h = f.h;
  c.g = f.g;
  c.identity_i = s.identity_i;
  c.identity_r = std::string(idrr.begin(), idrr.end());
  c.own_role = mikey::IdRole::kResponder;
  c.map = h;
  for (const mikey::SecurityPolicy* sp : sps) c.policies.push_back(*sp);
  return out;
}

}  // namespace kms::client
