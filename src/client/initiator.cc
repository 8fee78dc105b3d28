#include "src/client/initiator.h"

#include <algorithm>
#include <string>
#include <utility>

#include "src/base/byte_reader.h"
#include "src/base/ntp_time.h"
#include "src/crypto/key_derivation.h"
#include "src/crypto/mac.h"
#include "src/crypto/openssl_key_ops.h"
#include "src/mikey/decoder.h"
#include "src/mikey/ticket_data.h"

namespace kms::client {
namespace {

bool IsTgk(mikey::KeyDataType t) {
  return t == mikey::KeyDataType::kTgk || t == mikey::KeyDataType::kTgkSalt;
}

}  // namespace

mikey::TpFlags DefaultMode1Flags() {
  mikey::TpFlags f;
  f.d = f.e = f.f = f.g = f.h = f.i = f.n = f.o = true;
  return f;
}

Result<PendingRequest> BuildRequestInit(const Credentials& creds, const TicketRequestOptions& opt,
                                        const Env& env) {
  if (opt.responders.empty()) {
    return InvalidArgumentError("a ticket request names at least one responder");
  }
  if (opt.rand_len < creds.psk.size() || opt.rand_len > 255) {
    return InvalidArgumentError("RANDRi shorter than the PSK (RFC 6043 §12.1)");
  }
  PendingRequest p;
  KMS_ASSIGN_OR_RETURN(p.csb_id, RandomU32(env.rng));
  KMS_ASSIGN_OR_RETURN(p.rand_ri, crypto::RandomBytes(env.rng, opt.rand_len));
  KMS_ASSIGN_OR_RETURN(p.t, NowTimestamp(env.clock));
  p.prf = opt.suite.prf;
  p.kms_identity = opt.kms_identity;
  p.requirements = opt.requirements;
  p.requirements.desired_prf = opt.suite.prf;  // the desired TP's PRF (below)
  for (const std::string& r : opt.responders) {
    p.requirements.responders.push_back(r);
  }

  // Desired TP (RFC 6043 §6.10): [TRe], KEMAC of zeroed keys, (IDRr).
  mikey::TicketPolicy tp;
  tp.prf = opt.suite.prf;
  tp.flags = opt.flags;
  tp.flags.k = false;  // RFC 6043 §6.10: the Initiator sends K=0
  KMS_ASSIGN_OR_RETURN(const uint32_t now32, ToNtp32(env.clock.Now()));
  tp.tp_data.push_back(
      mikey::TimestampR{mikey::TsRole::kEndOfValidity, mikey::TsType::kNtpUtc32,
                        uint32_t(now32 + static_cast<uint32_t>(opt.validity.count()))});
  if (opt.tgk_count > 0) {
    std::vector<mikey::KeyData> want;
    for (size_t i = 0; i < opt.tgk_count; ++i) {
      mikey::KeyData k;
      k.type = mikey::KeyDataType::kTgk;
      k.kv_type = mikey::KvType::kSpi;
      k.key = SecretBytes(opt.tgk_len);  // zeroed: only type/length/KV are requested
      k.spi = {0, 0, 0, 0};
      want.push_back(std::move(k));
    }
    KMS_ASSIGN_OR_RETURN(const SecretBytes chain, mikey::EncodeKeyDataChain(want));
    const auto c = chain.Reveal();  // all key bytes are zero: nothing secret here
    tp.tp_data.push_back(mikey::Kemac{
        mikey::EncrAlg::kNull, mikey::Bytes(c.begin(), c.end()), mikey::MacAlg::kNull, {}});
  }
  for (const std::string& r : opt.responders) {
    tp.tp_data.push_back(MakeIdr(mikey::IdRole::kResponder, mikey::IdType::kUri, r));
  }

  mikey::Message m;
  m.hdr.data_type = mikey::DataType::kRequestInitPsk;
  m.hdr.v_flag = true;  // RFC 6043 §4.2.1.1 (spec §11 A1)
  m.hdr.prf = opt.suite.prf;
  m.hdr.csb_id = p.csb_id;
  m.hdr.cs_count = 0;
  m.hdr.map_type = mikey::CsIdMapType::kEmpty;
  m.payloads.push_back(p.t);
  m.payloads.push_back(mikey::RandR{mikey::RandRole::kInitiator, p.rand_ri});
  m.payloads.push_back(MakeIdr(mikey::IdRole::kInitiator, mikey::IdType::kUri, creds.identity));
  m.payloads.push_back(MakeIdr(mikey::IdRole::kKms, mikey::IdType::kUri, opt.kms_identity));
  m.payloads.push_back(mikey::Tp{std::move(tp)});
  m.payloads.push_back(
      MakeIdr(mikey::IdRole::kPreSharedKey, mikey::IdType::kByteString, creds.psk_id));
  m.payloads.push_back(PlaceholderV(opt.suite.mac));

  const MessageLabel label{p.csb_id, crypto::MessageRole::kInitial, p.rand_ri, {}};
  mikey::MacContext ctx;
  ctx.identity_i = AsBytes(creds.identity);
  ctx.identity_kms = AsBytes(opt.kms_identity);
  KMS_ASSIGN_OR_RETURN(SealedMessage sealed, SealMessage(m, creds.psk, label, ctx));
  p.wire = std::move(sealed.wire);
  return p;
}

Result<PendingRequest> PendingRequestFromWire(std::span<const uint8_t> sent,
                                              const InitiatorRequirements& req) {
  KMS_ASSIGN_OR_RETURN(const mikey::Message m, mikey::Decode(sent));
  const mikey::RandR* ri = m.FindRandR(mikey::RandRole::kInitiator);
  const mikey::Tp* tp = m.FindTp();
  if (m.hdr.data_type != mikey::DataType::kRequestInitPsk || ri == nullptr || tp == nullptr) {
    return InvalidArgumentError("not a REQUEST_INIT_PSK");
  }
  PendingRequest p;
  p.wire.assign(sent.begin(), sent.end());
  p.csb_id = m.hdr.csb_id;
  p.prf = m.hdr.prf;
  p.t = *m.FindT();
  p.rand_ri = ri->rand;
  if (const mikey::Idr* kms = m.FindIdr(mikey::IdRole::kKms)) {
    p.kms_identity = IdrText(*kms);
  }
  p.requirements = req;
  p.requirements.desired_prf = tp->policy.prf;
  for (const mikey::Idr* r : tp->policy.Responders()) {
    p.requirements.responders.push_back(IdrText(*r));
  }
  return p;
}

Result<InitiatorTicket> ProcessRequestResp(std::span<const uint8_t> resp, const PendingRequest& req,
                                           const Credentials& creds, UnixTime now) {
  KMS_ASSIGN_OR_RETURN(mikey::Message m, mikey::Decode(resp));
  if (auto err = ErrorFromMessage(m)) {
    return *err;
  }
  if (m.hdr.data_type != mikey::DataType::kRequestResp) {
    return DecodeError("expected REQUEST_RESP", 11);
  }
  // RFC 6043 §4.2.1.5: version, PRF, CSB ID, #CS, map type identical to the request.
  if (m.hdr.version != mikey::kMikeyVersion || m.hdr.prf != req.prf || m.hdr.csb_id != req.csb_id ||
      m.hdr.cs_count != 0 || m.hdr.map_type != mikey::CsIdMapType::kEmpty) {
    return AuthFailedError("REQUEST_RESP does not match the outstanding request");
  }
  // Authenticate before decrypting anything (spec §9.3).
  const MessageLabel label{req.csb_id, crypto::MessageRole::kResponse, req.rand_ri, {}};
  mikey::MacContext ctx;
  ctx.initial_message = req.wire;
  KMS_RETURN_IF_ERROR(VerifyMessageMac(resp, m, creds.psk, label, ctx));

  // spec §7.3: T sane (NTP types; a COUNTER carries no time). Freshness itself comes from
  // the MAC over the request (spec §9.1).
  if (const auto at = TimestampInstant(*m.FindT())) {
    const auto skew = req.requirements.clock_skew;
    if (*at > now + skew || *at + skew < now) {
      return Status(StatusCode::kPermissionDenied,
                    "REQUEST_RESP timestamp outside the allowed skew",
                    static_cast<uint8_t>(mikey::ErrorNo::kInvalidTs));
    }
  }
  const mikey::Ticket* tk = m.FindTicket();
  const mikey::Kemac* kemac = m.FindKemac();
  const bool forking = tk->policy.flags.i;
  KMS_ASSIGN_OR_RETURN(
      std::vector<mikey::KeyData> keys,
      DecryptKemac(*kemac, creds.psk, label, m.hdr.prf, m.FindV()->mac_alg,
                   TimestampIv64(*m.FindT()), TimestampIv64(req.t), &CheckKmsKeyChain, forking));
  KMS_RETURN_IF_ERROR(CheckGrantedPolicy(tk->policy, creds.identity, req.requirements, now));

  InitiatorTicket out;
  out.ticket = *tk;
  out.kms_identity = req.kms_identity;
  if (const mikey::Idr* kms = m.FindIdr(mikey::IdRole::kKms)) {
    out.kms_identity = IdrText(*kms);
  }
  out.mpki = std::move(keys[0].key);
  size_t next = 1;
  if (forking) {
    out.mpkr = std::move(keys[1].key);
    next = 2;
  }
  for (size_t i = next; i < keys.size(); ++i) {
    out.session_keys.push_back(std::move(keys[i]));
  }
  return out;
}

size_t MinTransferRandLen(const InitiatorTicket& t) {
  size_t n = std::max(kMinRandBytes, t.mpki.size());
  if (!t.ticket.policy.flags.g) {
    n = std::max(n, LongestTgk(t.session_keys));
  }
  return n;
}

Result<PendingTransfer> BuildTransferInit(std::shared_ptr<const InitiatorTicket> ticket,
                                          std::string_view identity_i,
                                          const TransferInitOptions& opt, const Env& env) {
  if (!ticket) {
    return InvalidArgumentError("no ticket");
  }
  const mikey::TpFlags& f = ticket->ticket.policy.flags;
  if (!opt.initiator_keys.empty() && !f.l) {
    return PermissionDeniedError("ticket forbids initiator-supplied keys (L=0)");
  }
  if (!opt.initiator_keys.empty()) {
    // The responder decrypts them like a CSB-update KEMAC (spec §11 A23) and refuses
    // keys whose SPI names a ticket key too; refuse them here already.
    KMS_RETURN_IF_ERROR(CheckSessionKeyChain(opt.initiator_keys, false));
    if (Status s = CheckSpisDisjoint(opt.initiator_keys, ticket->session_keys); !s.ok()) {
      return InvalidArgumentError(s.message());
    }
  }
  if (f.i && !ticket->mpkr) {
    return FailedPreconditionError("forking ticket without MPKr");
  }
  if (opt.media_lines == 0 || opt.media_lines > 100) {
    return InvalidArgumentError("media line count out of range");
  }
  const size_t min_rand = MinTransferRandLen(*ticket);
  const size_t rand_len = opt.rand_len == 0 ? min_rand : opt.rand_len;
  if (rand_len < min_rand || rand_len > 255) {
    return InvalidArgumentError("RANDRi length " + std::to_string(rand_len) + " outside [" +
                                std::to_string(min_rand) +
                                ", 255] (RFC 6043 §12.1: not shorter than MPKi)");
  }
  PendingTransfer p;
  p.ticket = ticket;
  p.identity_i = std::string(identity_i);
  p.identity_r = opt.responder;
  p.prf = opt.suite.prf;
  KMS_ASSIGN_OR_RETURN(p.csb_id, RandomU32(env.rng));
  KMS_ASSIGN_OR_RETURN(p.rand_ri, crypto::RandomBytes(env.rng, rand_len));
  KMS_ASSIGN_OR_RETURN(const mikey::Timestamp t, NowTimestamp(env.clock));
  for (const mikey::KeyData& k : opt.initiator_keys) {
    p.initiator_keys.push_back(k.Clone());
  }

  // The key our streams use: the first initiator-supplied key, else the first ticket key.
  std::vector<uint8_t> spi;
  if (!opt.initiator_keys.empty()) {
    spi = opt.initiator_keys.front().spi;
  } else if (!ticket->session_keys.empty()) {
    spi = ticket->session_keys.front().spi;
  }

  mikey::Hdr& h = p.hdr;
  h.data_type = mikey::DataType::kTransferInit;
  h.v_flag = f.f;  // RFC 6043 §4.2.2.1: V = F flag
  h.prf = opt.suite.prf;
  h.csb_id = p.csb_id;
  h.map_type = mikey::CsIdMapType::kGenericId;  // RFC 6043 §4.2.2.1
  p.policies.push_back(mikey::SecurityPolicy::MakeSrtpDefault(0));
  for (size_t line = 0; line < opt.media_lines; ++line) {
    for (int dir = 0; dir < 2; ++dir) {
      mikey::GenericIdBlock b;
      b.cs_id = static_cast<uint8_t>(2 * line + static_cast<size_t>(dir) + 1);  // RFC 4567 §7.1
      b.prot_type = mikey::ProtType::kSrtp;
      b.policy_nos = {0};
      if (dir == 0) {  // our sending direction: SSRC and key SPI now
        KMS_ASSIGN_OR_RETURN(const uint32_t ssrc, RandomU32(env.rng));
        b.SetSrtpSessionData(mikey::SrtpSessionData{ssrc, std::nullopt, std::nullopt});
        b.spi = spi;
      }
      h.generic_map.push_back(std::move(b));
    }
  }
  h.cs_count = static_cast<uint8_t>(h.generic_map.size());

  mikey::Message m;
  m.hdr = h;
  m.payloads.push_back(t);
  m.payloads.push_back(mikey::RandR{mikey::RandRole::kInitiator, p.rand_ri});
  m.payloads.push_back(MakeIdr(mikey::IdRole::kInitiator, mikey::IdType::kUri, identity_i));
  m.payloads.push_back(MakeIdr(mikey::IdRole::kResponder, mikey::IdType::kUri, opt.responder));
  for (const mikey::SecurityPolicy& sp : p.policies) {
    m.payloads.push_back(sp);
  }
  mikey::Ticket tk = ticket->ticket;
  tk.initiator_data.clear();
  if (f.i) {
    mikey::InitiatorData id;
    id.vi = PlaceholderV(opt.suite.mac);
    id.vr = PlaceholderV(opt.suite.mac);
    KMS_ASSIGN_OR_RETURN(tk.initiator_data, mikey::EncodeInitiatorData(id));
  }
  m.payloads.push_back(std::move(tk));
  const MessageLabel label{p.csb_id, crypto::MessageRole::kInitial, p.rand_ri, {}};
  if (!opt.initiator_keys.empty()) {
    // spec §11 A23: the same key set as V (MPKi, label 0x01); IV with this message's T.
    KMS_ASSIGN_OR_RETURN(mikey::Kemac k,
                         EncryptKemac(opt.initiator_keys, ticket->mpki, label, opt.suite.prf,
                                      opt.suite.encr, opt.suite.mac, TimestampIv64(t)));
    m.payloads.push_back(std::move(k));
  }
  if (opt.sdp_ids) {
    m.payloads.push_back(mikey::GeneralExtension::MakeSdpIds(*opt.sdp_ids));
  }
  m.payloads.push_back(PlaceholderV(opt.suite.mac));

  mikey::MacContext ctx;
  ctx.identity_i = AsBytes(identity_i);
  ctx.identity_r = AsBytes(opt.responder);
  KMS_ASSIGN_OR_RETURN(SealedMessage sealed, SealMessage(m, ticket->mpki, label, ctx));
  if (f.i) {
    // RFC 6043 §6.10: Vi = the TRANSFER_INIT MAC; Vr by the key from the un-forked MPKr
    // (label 0x04, TP PRF, spec §11 A6) over the Initiator Data except Vr's MAC.
    const std::vector<uint8_t> zeros(sealed.mac.size(), 0);
    KMS_RETURN_IF_ERROR(
        mikey::PatchInitiatorDataMacs(sealed.wire, sealed.layout, sealed.mac, zeros));
    KMS_ASSIGN_OR_RETURN(const crypto::PrfFunc tp_prf, ToCryptoPrf(ticket->ticket.policy.prf));
    KMS_ASSIGN_OR_RETURN(const crypto::MacAlgorithm cmac, ToCryptoMac(opt.suite.mac));
    KMS_ASSIGN_OR_RETURN(crypto::SoftwareInKey mpkr, crypto::SoftwareInKey::Create(*ticket->mpkr));
    KMS_ASSIGN_OR_RETURN(const SecretBytes vr_key,
                         crypto::DeriveVrAuthKey(tp_prf, mpkr.blocks(), cmac));
    KMS_ASSIGN_OR_RETURN(const std::vector<uint8_t> vr_in,
                         mikey::VrMacInput(sealed.wire, sealed.layout));
    KMS_ASSIGN_OR_RETURN(const std::vector<uint8_t> vr, crypto::ComputeMac(cmac, vr_key, vr_in));
    KMS_RETURN_IF_ERROR(mikey::PatchInitiatorDataMacs(sealed.wire, sealed.layout, sealed.mac, vr));
  }
  p.wire = std::move(sealed.wire);
  return p;
}

Result<PendingTransfer> PendingTransferFromWire(std::span<const uint8_t> sent,
                                                std::shared_ptr<const InitiatorTicket> ticket) {
  KMS_ASSIGN_OR_RETURN(const mikey::Message m, mikey::Decode(sent));
  const mikey::RandR* ri = m.FindRandR(mikey::RandRole::kInitiator);
  const mikey::Idr* idri = m.FindIdr(mikey::IdRole::kInitiator);
  const mikey::Idr* idrr = m.FindIdr(mikey::IdRole::kResponder);
  if (m.hdr.data_type != mikey::DataType::kTransferInit || ri == nullptr || idri == nullptr ||
      idrr == nullptr || !ticket) {
    return InvalidArgumentError("not an initial TRANSFER_INIT");
  }
  PendingTransfer p;
  p.wire.assign(sent.begin(), sent.end());
  p.ticket = std::move(ticket);
  p.identity_i = IdrText(*idri);
  p.identity_r = IdrText(*idrr);
  p.csb_id = m.hdr.csb_id;
  p.prf = m.hdr.prf;
  p.rand_ri = ri->rand;
  p.hdr = m.hdr;
  for (const mikey::SecurityPolicy* sp : m.Policies()) {
    p.policies.push_back(*sp);
  }
  if (const mikey::Kemac* kemac = m.FindKemac()) {
    // Our own initiator-supplied keys, encrypted with MPKi (spec §11 A23).
    const MessageLabel label{p.csb_id, crypto::MessageRole::kInitial, p.rand_ri, {}};
    KMS_ASSIGN_OR_RETURN(
        p.initiator_keys,
        DecryptKemac(*kemac, p.ticket->mpki, label, m.hdr.prf, m.FindV()->mac_alg,
                     TimestampIv64(*m.FindT()), std::nullopt, &CheckSessionKeyChain, false));
  }
  return p;
}

Result<CallKeys> ProcessTransferResp(std::span<const uint8_t> resp, const PendingTransfer& pt,
                                     UnixTime /*now*/) {
  KMS_ASSIGN_OR_RETURN(mikey::Message m, mikey::Decode(resp));
  if (auto err = ErrorFromMessage(m)) {
    return *err;
  }
  if (m.hdr.data_type != mikey::DataType::kTransferResp) {
    return DecodeError("expected TRANSFER_RESP", 11);
  }
  if (m.hdr.version != mikey::kMikeyVersion || m.hdr.prf != pt.prf || m.hdr.csb_id != pt.csb_id ||
      m.hdr.map_type != mikey::CsIdMapType::kGenericId) {
    return AuthFailedError("TRANSFER_RESP does not match the outstanding TRANSFER_INIT");
  }
  const InitiatorTicket& tk = *pt.ticket;
  const mikey::TpFlags& f = tk.ticket.policy.flags;
  KMS_ASSIGN_OR_RETURN(const crypto::PrfFunc tp_prf, ToCryptoPrf(tk.ticket.policy.prf));

  // RFC 6043 §4.2.2.4 / §5.1.1: with forking, fork MPKr and the TGKs with the modifier.
  const mikey::Idr* idrr = m.FindIdr(mikey::IdRole::kResponder);
  const mikey::RandR* rkms = m.FindRandR(mikey::RandRole::kKms);
  const mikey::RandR* rr = m.FindRandR(mikey::RandRole::kResponder);
  if (f.g != (rr != nullptr)) {
    return AuthFailedError("RANDRr presence contradicts the G flag");
  }
  SecretBytes inkey;
  std::vector<mikey::KeyData> ticket_keys;
  if (f.i) {
    if (idrr == nullptr || rkms == nullptr) {
      return AuthFailedError("forking TRANSFER_RESP without IDRr and RANDRkms");
    }
    KMS_RETURN_IF_ERROR(CheckRandCovers(
        rkms->rand.size(), std::max(tk.mpkr->size(), LongestTgk(tk.session_keys)), "RANDRkms"));
    KMS_ASSIGN_OR_RETURN(crypto::SoftwareInKey mpkr, crypto::SoftwareInKey::Create(*tk.mpkr));
    KMS_ASSIGN_OR_RETURN(inkey, crypto::ForkKey(tp_prf, crypto::ForkedKey::kMpkr, mpkr.blocks(),
                                                idrr->id_data, rkms->rand));
    for (const mikey::KeyData& k : tk.session_keys) {
      mikey::KeyData c = k.Clone();
      if (IsTgk(k.type)) {  // RFC 6043 §4.2.3.4: TGKs are forked, TEKs/GTGKs never
        KMS_ASSIGN_OR_RETURN(crypto::SoftwareInKey tgk, crypto::SoftwareInKey::Create(k.key));
        KMS_ASSIGN_OR_RETURN(c.key, crypto::ForkKey(tp_prf, crypto::ForkedKey::kTgk, tgk.blocks(),
                                                    idrr->id_data, rkms->rand));
      }
      ticket_keys.push_back(std::move(c));
    }
  } else {
    inkey = tk.mpki.Clone();
    for (const mikey::KeyData& k : tk.session_keys) {
      ticket_keys.push_back(k.Clone());
    }
  }
  const std::vector<uint8_t> rand_rr = rr ? rr->rand : std::vector<uint8_t>{};
  const MessageLabel label{pt.csb_id, crypto::MessageRole::kResponse, pt.rand_ri, rand_rr};
  mikey::MacContext ctx;
  ctx.initial_message = pt.wire;
  KMS_RETURN_IF_ERROR(VerifyMessageMac(resp, m, inkey, label, ctx));

  // Authenticated from here on: check the responder's policies and keys.
  std::vector<mikey::KeyData> resp_keys;
  if (const mikey::Kemac* kemac = m.FindKemac()) {
    if (!f.m) {
      return PermissionDeniedError("responder-supplied keys not allowed (M=0)");
    }
    KMS_ASSIGN_OR_RETURN(resp_keys, DecryptKemac(*kemac, inkey, label, m.hdr.prf,
                                                 m.FindV()->mac_alg, TimestampIv64(*m.FindT()),
                                                 std::nullopt, &CheckSessionKeyChain, false));
  }
  std::vector<const mikey::SecurityPolicy*> sps;
  for (const mikey::SecurityPolicy& sp : pt.policies) {
    sps.push_back(&sp);
  }
  for (const mikey::SecurityPolicy* sp : m.Policies()) {
    KMS_RETURN_IF_ERROR(SrtpProfileOf(sp));
    sps.push_back(sp);
  }
  for (const mikey::GenericIdBlock& ours : pt.hdr.generic_map) {
    bool found = false;
    for (const mikey::GenericIdBlock& b : m.hdr.generic_map) {
      found = found || b.cs_id == ours.cs_id;
    }
    if (!found) {
      return PermissionDeniedError("TRANSFER_RESP dropped a crypto session");
    }
  }
  std::vector<const mikey::KeyData*> keys;
  for (const auto& k : resp_keys) keys.push_back(&k);
  for (const auto& k : pt.initiator_keys) keys.push_back(&k);
  for (const auto& k : ticket_keys) keys.push_back(&k);
  TekInputs tin;
  tin.prf = m.hdr.prf;
  if (f.h) tin.rand_ri = pt.rand_ri;
  if (f.g) tin.rand_rr = rand_rr;

  CallKeys out;
  KMS_ASSIGN_OR_RETURN(out.sessions, DeriveCryptoSessionKeys(m.hdr, sps, keys, tin));
  out.peer_identity = idrr ? IdrText(*idrr) : pt.identity_r;
  CsbState& c = out.csb;
  c.csb_id = pt.csb_id;
  c.prf = m.hdr.prf;
  c.mac = m.FindV()->mac_alg;
  // spec §11 A22: the 256-bit triple is used as a whole.
  c.encr = c.mac == mikey::MacAlg::kHmacSha256_256 ? mikey::EncrAlg::kAesCm256
                                                   : mikey::EncrAlg::kAesCm128;
  c.inkey = std::move(inkey);
  c.rand_ri = pt.rand_ri;
  c.rand_rr = rand_rr;
  c.h = f.h;
  c.g = f.g;
  c.identity_i = pt.identity_i;
  c.identity_r = out.peer_identity;
  c.own_role = mikey::IdRole::kInitiator;
  c.map = m.hdr;
  for (const mikey::SecurityPolicy* sp : sps) c.policies.push_back(*sp);
  return out;
}

}  // namespace kms::client
