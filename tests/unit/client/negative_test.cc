// Refusals of the UE library: tampered responses (MAC checked before decryption), Vi != V,
// IDRi mismatch, unacceptable granted policies, early rejects of TRANSFER_INIT.
#include <gtest/gtest.h>

#include "src/base/encoding.h"
#include "src/mikey/decoder.h"
#include "src/mikey/encoder.h"
#include "src/mikey/ticket_data.h"
#include "tests/unit/client/client_test_util.h"

namespace kms::client {
namespace {

using testing::At;
using testing::CsbOf;
using testing::RandOf;
using testing::ScriptedRandom;
using testing::Text;
using testing::Vec;

class NegativeTest : public ::testing::Test {
 protected:
  ScriptedRandom rng_;
  FakeClock clock_{At(0, true)};
  Env env_{rng_, clock_};
  Credentials a_ = testing::CredsA();
  Credentials b_ = testing::CredsB();

  PendingRequest Request() {
    const auto req = Vec(3, "REQUEST_INIT_PSK");
    auto p = PendingRequestFromWire(req, InitiatorRequirements{});
    KMS_CHECK(p.ok());
    return std::move(p).value();
  }
  std::shared_ptr<const InitiatorTicket> Ticket() {
    auto t = ProcessRequestResp(Vec(5, "REQUEST_RESP"), Request(), a_, At(1));
    KMS_CHECK(t.ok());
    return std::make_shared<const InitiatorTicket>(std::move(t).value());
  }
  ResponderPolicy BPolicy() { return ResponderPolicy{{Text(2, "IDr")}, std::chrono::seconds(300)}; }

  // The vector RESOLVE flow, giving B's resolved keys for the vector ticket.
  ResolvedTicket Resolved() {
    auto pr = PendingResolveFromWire(Vec(7, "RESOLVE_INIT_PSK"));
    KMS_CHECK(pr.ok());
    auto r = ProcessResolveResp(Vec(8, "RESOLVE_RESP"), *pr, b_);
    KMS_CHECK(r.ok());
    return std::move(r).value();
  }
  // Offset of the TICKET payload in the vector TRANSFER_INIT.
  size_t TicketOffset(const std::vector<uint8_t>& ti) {
    auto m = mikey::Decode(ti);
    KMS_CHECK(m.ok());
    return m->layout.ticket->payload.offset;
  }
};

TEST_F(NegativeTest, PendingRequestFromWireMatchesVector) {
  const PendingRequest p = Request();
  EXPECT_EQ(p.csb_id, 0x11223344u);
  EXPECT_EQ(p.kms_identity, Text(2, "IDkms"));
  ASSERT_EQ(p.requirements.responders.size(), 1u);
  EXPECT_EQ(p.requirements.responders[0], Text(2, "IDr"));
  EXPECT_FALSE(PendingRequestFromWire(Vec(5, "REQUEST_RESP"), {}).ok());
}

TEST_F(NegativeTest, TamperedRequestRespMacRefusedBeforeDecryption) {
  auto resp = Vec(5, "REQUEST_RESP");
  resp.back() ^= 0x01;  // last MAC byte
  auto r = ProcessRequestResp(resp, Request(), a_, At(1));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kAuthFailed);
  // A flipped ciphertext byte is caught by the MAC too (kAuthFailed, not a decode error
  // from a garbled plaintext): the MAC is checked before decrypting.
  auto resp2 = Vec(5, "REQUEST_RESP");
  resp2[269 + 10] ^= 0x80;  // inside the KEMAC (layout: KEMAC at 269)
  auto r2 = ProcessRequestResp(resp2, Request(), a_, At(1));
  ASSERT_FALSE(r2.ok());
  EXPECT_EQ(r2.status().code(), StatusCode::kAuthFailed);
  // A response to another request (different RANDRi) fails authentication.
  PendingRequest other = Request();
  other.rand_ri[0] ^= 1;
  EXPECT_EQ(ProcessRequestResp(Vec(5, "REQUEST_RESP"), other, a_, At(1)).status().code(),
            StatusCode::kAuthFailed);
  // CSB ID mismatch.
  PendingRequest wrong_csb = Request();
  wrong_csb.csb_id ^= 1;
  EXPECT_EQ(ProcessRequestResp(Vec(5, "REQUEST_RESP"), wrong_csb, a_, At(1)).status().code(),
            StatusCode::kAuthFailed);
}

TEST_F(NegativeTest, AuthenticGarbageKemacRefusedUnderBothIvReadings) {
  // Re-MAC a REQUEST_RESP whose KEMAC holds random bytes: authentic but not a key chain.
  auto m = mikey::Decode(Vec(5, "REQUEST_RESP"));
  ASSERT_TRUE(m.ok());
  m->FindMutable<mikey::Kemac>()->encr_data.assign(75, 0x5a);
  const PendingRequest req = Request();
  mikey::MacContext ctx;
  ctx.initial_message = req.wire;
  auto sealed = SealMessage(
      *m, a_.psk, MessageLabel{req.csb_id, crypto::MessageRole::kResponse, req.rand_ri, {}}, ctx);
  ASSERT_TRUE(sealed.ok()) << sealed.status().ToString();
  auto r = ProcessRequestResp(sealed->wire, req, a_, At(1));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kDecodeError);
}

mikey::KeyData Key(mikey::KeyDataType type, size_t len, uint8_t fill) {
  mikey::KeyData k;
  k.type = type;
  k.key = SecretBytes::CopyFrom(std::vector<uint8_t>(len, fill));
  k.spi = {0, 0, 0, fill};
  return k;
}

// The vector REQUEST_RESP re-sealed (authentic: MAC with A's PSK over resp || request)
// around a KEMAC holding MPKi, MPKr and a TGK of `tgk_len` bytes.
std::vector<uint8_t> ReSealedRequestResp(const PendingRequest& req, const Credentials& a,
                                         size_t tgk_len) {
  auto m = mikey::Decode(Vec(5, "REQUEST_RESP"));
  KMS_CHECK(m.ok());
  std::vector<mikey::KeyData> keys;
  keys.push_back(Key(mikey::KeyDataType::kMpk, 16, 0x01));
  keys.push_back(Key(mikey::KeyDataType::kMpk, 16, 0x02));
  keys.push_back(Key(mikey::KeyDataType::kTgk, tgk_len, 0x03));
  const MessageLabel label{req.csb_id, crypto::MessageRole::kResponse, req.rand_ri, {}};
  mikey::Kemac* kemac = m->FindMutable<mikey::Kemac>();
  auto enc = EncryptKemac(keys, a.psk, label, m->hdr.prf, kemac->encr_alg, m->FindV()->mac_alg,
                          TimestampIv64(*m->FindT()));
  KMS_CHECK(enc.ok());
  *kemac = std::move(enc).value();
  mikey::MacContext ctx;
  ctx.initial_message = req.wire;
  auto sealed = SealMessage(*m, a.psk, label, ctx);
  KMS_CHECK(sealed.ok());
  return std::move(sealed->wire);
}

// spec §9.3 / RFC 6043 §12.1: keys of at least 128 bits, even from an authentic KMS answer.
TEST_F(NegativeTest, AuthenticShortKmsKeyRefused) {
  const PendingRequest req = Request();
  // The construction is sound: with a 16-byte TGK the re-sealed answer is accepted.
  auto good = ProcessRequestResp(ReSealedRequestResp(req, a_, 16), req, a_, At(1));
  ASSERT_TRUE(good.ok()) << good.status().ToString();
  EXPECT_EQ(good->session_keys.front().key.size(), 16u);
  for (size_t len : {1u, 15u}) {
    auto r = ProcessRequestResp(ReSealedRequestResp(req, a_, len), req, a_, At(1));
    ASSERT_FALSE(r.ok()) << len;
    EXPECT_EQ(r.status().code(), StatusCode::kDecodeError);
    EXPECT_NE(r.status().message().find("128 bits"), std::string::npos) << r.status().ToString();
  }
  // The chain checks on their own: a 1-byte MPKi, and a short key in a session-key KEMAC.
  std::vector<mikey::KeyData> chain;
  chain.push_back(Key(mikey::KeyDataType::kMpk, 1, 0x01));
  EXPECT_FALSE(CheckKmsKeyChain(chain, false).ok());
  std::vector<mikey::KeyData> session;
  session.push_back(Key(mikey::KeyDataType::kTekSalt, 8, 0x01));
  session.back().salt = SecretBytes(14);
  EXPECT_FALSE(CheckSessionKeyChain(session, false).ok());
}

// RFC 6043 §12.1: RANDRkms at least as long as the longest forked key (MPKr', TGK').
TEST_F(NegativeTest, AuthenticShortRandRkmsRefused) {
  auto pr = PendingResolveFromWire(Vec(7, "RESOLVE_INIT_PSK"));
  ASSERT_TRUE(pr.ok());
  auto m = mikey::Decode(Vec(8, "RESOLVE_RESP"));
  ASSERT_TRUE(m.ok());
  for (auto& p : m->payloads) {
    if (auto* r = std::get_if<mikey::RandR>(&p); r && r->role == mikey::RandRole::kKms) {
      r->rand.resize(8);
    }
  }
  mikey::MacContext ctx;
  ctx.initial_message = pr->wire;
  auto sealed = SealMessage(
      *m, b_.psk, MessageLabel{pr->csb_id, crypto::MessageRole::kResponse, {}, pr->rand_rr}, ctx);
  ASSERT_TRUE(sealed.ok()) << sealed.status().ToString();
  auto r = ProcessResolveResp(sealed->wire, *pr, b_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(r.status().message().find("RANDRkms"), std::string::npos);
}

TEST_F(NegativeTest, MikeyErrorAnswerIsReported) {
  mikey::Message e;
  e.hdr.data_type = mikey::DataType::kError;
  e.hdr.csb_id = 0x11223344;
  e.payloads.push_back(mikey::Timestamp{mikey::TsType::kNtpUtc, 1});
  e.payloads.push_back(mikey::ErrorPayload{mikey::ErrorNo::kAuthFailure, 0});
  auto wire = mikey::Encode(e);
  ASSERT_TRUE(wire.ok());
  auto r = ProcessRequestResp(*wire, Request(), a_, At(1));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(r.status().detail(), std::optional<uint8_t>(0));
}

TEST_F(NegativeTest, UnacceptableGrantedPolicyRefused) {
  // A response timestamp far from our clock is refused (detail 1).
  auto late = ProcessRequestResp(Vec(5, "REQUEST_RESP"), Request(), a_, At(7200));
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.status().detail(), std::optional<uint8_t>(1));
  // With a clock skew that tolerates the T, the expired validity is what is refused.
  InitiatorRequirements lax;
  lax.clock_skew = std::chrono::seconds(10000);
  auto lax_req = PendingRequestFromWire(Vec(3, "REQUEST_INIT_PSK"), lax);
  ASSERT_TRUE(lax_req.ok());
  auto expired = ProcessRequestResp(Vec(5, "REQUEST_RESP"), *lax_req, a_, At(7200));
  ASSERT_FALSE(expired.ok());
  EXPECT_EQ(expired.status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(expired.status().detail(), std::optional<uint8_t>(15));
  // A responder we need is not authorized.
  InitiatorRequirements need_carol;
  need_carol.responders = {"sip:carol@example.org"};
  auto req = PendingRequestFromWire(Vec(3, "REQUEST_INIT_PSK"), need_carol);
  ASSERT_TRUE(req.ok());
  auto r = ProcessRequestResp(Vec(5, "REQUEST_RESP"), *req, a_, At(1));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kPermissionDenied);
  // Another initiator's identity in the granted policy.
  Credentials mallory = testing::CredsA();
  mallory.identity = "sip:mallory@example.org";
  EXPECT_EQ(ProcessRequestResp(Vec(5, "REQUEST_RESP"), Request(), mallory, At(1)).status().code(),
            StatusCode::kPermissionDenied);

  // Direct checks of single rules.
  const auto t = Ticket();
  const mikey::TicketPolicy good = t->ticket.policy;
  InitiatorRequirements req2;
  EXPECT_TRUE(CheckGrantedPolicy(good, Text(2, "IDi"), req2, At(1)).ok());
  mikey::TicketPolicy no_fork = good;
  no_fork.flags.i = false;
  EXPECT_FALSE(CheckGrantedPolicy(no_fork, Text(2, "IDi"), req2, At(1)).ok());
  req2.require_forking = false;
  EXPECT_TRUE(CheckGrantedPolicy(no_fork, Text(2, "IDi"), req2, At(1)).ok());
  mikey::TicketPolicy no_resp = good;
  no_resp.flags.f = false;
  no_resp.flags.g = false;
  no_resp.flags.m = false;
  EXPECT_FALSE(CheckGrantedPolicy(no_resp, Text(2, "IDi"), req2, At(1)).ok());
  mikey::TicketPolicy with_kemac = good;
  with_kemac.tp_data.insert(with_kemac.tp_data.begin() + 3,
                            mikey::Kemac{mikey::EncrAlg::kNull, {}, mikey::MacAlg::kNull, {}});
  EXPECT_FALSE(CheckGrantedPolicy(with_kemac, Text(2, "IDi"), req2, At(1)).ok());
  mikey::TicketPolicy type2 = good;
  type2.ticket_type = mikey::TicketType::k3gppBaseTicket;
  EXPECT_EQ(CheckGrantedPolicy(type2, Text(2, "IDi"), req2, At(1)).detail(),
            std::optional<uint8_t>(14));
  // Too little validity left.
  req2.min_remaining_validity = std::chrono::seconds(3599);
  EXPECT_FALSE(CheckGrantedPolicy(good, Text(2, "IDi"), req2, At(10)).ok());
}

// The granted TP PRF must be the desired one (MIKEY-1 in the vector request).
TEST_F(NegativeTest, GrantedPolicyWithAnotherPrfRefused) {
  const PendingRequest req = Request();
  ASSERT_EQ(req.requirements.desired_prf, std::optional(mikey::PrfFunc::kMikey1));
  const mikey::TicketPolicy good = Ticket()->ticket.policy;
  ASSERT_EQ(good.prf, mikey::PrfFunc::kMikey1);
  EXPECT_TRUE(CheckGrantedPolicy(good, Text(2, "IDi"), req.requirements, At(1)).ok());
  mikey::TicketPolicy other = good;
  other.prf = mikey::PrfFunc::kPrfHmacSha256;
  const Status s = CheckGrantedPolicy(other, Text(2, "IDi"), req.requirements, At(1));
  EXPECT_EQ(s.code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(s.detail(), std::optional<uint8_t>(15));
  // BuildRequestInit records the suite's PRF as the desired one.
  rng_.PushU32(0x11223344);
  rng_.Push(std::vector<uint8_t>(32, 0x01));
  TicketRequestOptions o = testing::VectorRequestOptions();
  o.suite.prf = mikey::PrfFunc::kPrfHmacSha256;
  auto built = BuildRequestInit(a_, o, env_);
  ASSERT_TRUE(built.ok()) << built.status().ToString();
  EXPECT_EQ(built->requirements.desired_prf, std::optional(mikey::PrfFunc::kPrfHmacSha256));
  EXPECT_EQ(CheckGrantedPolicy(good, Text(2, "IDi"), built->requirements, At(1)).detail(),
            std::optional<uint8_t>(15));
}

TEST_F(NegativeTest, TransferInitWithViDifferentFromMacRefused) {
  auto ti = Vec(6, "TRANSFER_INIT");
  auto m = mikey::Decode(ti);
  ASSERT_TRUE(m.ok());
  // Vi's MAC lies in the Initiator Data, which the TRANSFER_INIT MAC does not cover.
  const size_t vi_mac = m->layout.ticket->initiator->vi_mac.offset;  // absolute offset
  ASSERT_LT(vi_mac, ti.size());
  ti[vi_mac] ^= 0x01;
  auto rti = ReceiveTransferInit(ti, BPolicy(), At(2));
  ASSERT_TRUE(rti.ok()) << rti.status().ToString();
  auto s = AuthenticateTransferInit(std::move(*rti), Resolved());
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kAuthFailed);
  EXPECT_NE(s.status().message().find("Vi"), std::string::npos);

  // The untouched message authenticates; a flipped covered byte (T) does not.
  auto good = ReceiveTransferInit(Vec(6, "TRANSFER_INIT"), BPolicy(), At(2));
  ASSERT_TRUE(good.ok());
  EXPECT_TRUE(AuthenticateTransferInit(std::move(*good), Resolved()).ok());
  auto ti2 = Vec(6, "TRANSFER_INIT");
  ti2[39] ^= 0x01;  // T value (T at 32, value from 34)
  auto rti2 = ReceiveTransferInit(ti2, BPolicy(), At(2));
  ASSERT_TRUE(rti2.ok());
  EXPECT_EQ(AuthenticateTransferInit(std::move(*rti2), Resolved()).status().code(),
            StatusCode::kAuthFailed);
}

// spec §7.4 / §9.1 (RFC 3830 §5.4): the Responder accepts an authentic TRANSFER_INIT once;
// only authenticated messages enter the cache.
TEST_F(NegativeTest, ReplayedTransferInitRefused) {
  ReplayCache cache;
  const auto ti = Vec(6, "TRANSFER_INIT");
  auto authenticate = [&](const std::vector<uint8_t>& wire, ReplayCache& c, UnixTime now) {
    auto rti = ReceiveTransferInit(wire, BPolicy(), now);
    KMS_CHECK(rti.ok());
    return AuthenticateTransferInit(std::move(*rti), Resolved(), c, now).status();
  };
  auto bad = ti;
  bad[39] ^= 0x01;  // T value: the MAC fails
  EXPECT_EQ(authenticate(bad, cache, At(2)).code(), StatusCode::kAuthFailed);
  EXPECT_EQ(cache.size(), 0u);

  EXPECT_TRUE(authenticate(ti, cache, At(2)).ok());
  EXPECT_EQ(cache.size(), 1u);
  const Status again = authenticate(ti, cache, At(3));
  EXPECT_EQ(again.code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(again.detail(), std::optional<uint8_t>(1));  // MIKEY error Invalid TS
  // Another device's cache has not seen it: the refusal is the cache's.
  ReplayCache other;
  EXPECT_TRUE(authenticate(ti, other, At(3)).ok());
}

TEST_F(NegativeTest, TransferInitIdriMismatchRefused) {
  // Carol holds Alice's ticket keys (MPKi/MPKr) and claims to be Carol in TRANSFER_INIT:
  // the MAC and Vi are valid, but the ticket names Alice (spec §7.4).
  rng_.PushU32(0x5a5a0001);
  rng_.Push(RandOf(Vec(6, "TRANSFER_INIT"), mikey::RandRole::kInitiator));
  rng_.PushU32(0xaaaa0001);
  clock_.Set(At(2));
  TransferInitOptions o;
  o.responder = Text(2, "IDr");
  auto pt = BuildTransferInit(Ticket(), "sip:carol@example.org", o, env_);
  ASSERT_TRUE(pt.ok()) << pt.status().ToString();
  auto rti = ReceiveTransferInit(pt->wire, BPolicy(), At(2));
  ASSERT_TRUE(rti.ok()) << rti.status().ToString();
  auto s = AuthenticateTransferInit(std::move(*rti), Resolved());
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kPermissionDenied);
}

TEST_F(NegativeTest, EarlyRejectTicketType2) {
  auto ti = Vec(6, "TRANSFER_INIT");
  const size_t t = TicketOffset(ti);
  ti[t + 2] = 0x02;  // Ticket Type 1 -> 2
  auto r = ReceiveTransferInit(ti, BPolicy(), At(2));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().detail(), std::optional<uint8_t>(14));
}

TEST_F(NegativeTest, EarlyRejectFlagViolations) {
  // G=1 with F=0 violates G => F (RFC 6043 §6.10): detail 15.
  auto ti = Vec(6, "TRANSFER_INIT");
  const size_t t = TicketOffset(ti);
  ti[t + 6] &= static_cast<uint8_t>(~0x40);  // clear F
  auto r = ReceiveTransferInit(ti, BPolicy(), At(2));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().detail(), std::optional<uint8_t>(15));
  // O=0: a plain RFC 6043 responder cannot process the ticket.
  auto ti2 = Vec(6, "TRANSFER_INIT");
  ti2[t + 7] &= static_cast<uint8_t>(~0x20);
  auto r2 = ReceiveTransferInit(ti2, BPolicy(), At(2));
  ASSERT_FALSE(r2.ok());
  EXPECT_EQ(r2.status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(r2.status().detail(), std::optional<uint8_t>(15));
}

TEST_F(NegativeTest, EarlyRejectOtherRules) {
  const auto ti = Vec(6, "TRANSFER_INIT");
  EXPECT_TRUE(ReceiveTransferInit(ti, BPolicy(), At(2)).ok());
  // Timestamp far outside the skew: detail 1.
  EXPECT_EQ(ReceiveTransferInit(ti, BPolicy(), At(2000)).status().detail(),
            std::optional<uint8_t>(1));
  // Not for us: detail 7.
  ResponderPolicy carol{{"sip:carol@example.org"}, std::chrono::seconds(300)};
  EXPECT_EQ(ReceiveTransferInit(ti, carol, At(2)).status().detail(), std::optional<uint8_t>(7));
  // Expired ticket (TRe + skew < now) with a fresh TRANSFER_INIT T: simulate by a large skew.
  ResponderPolicy wide{{Text(2, "IDr")}, std::chrono::seconds(100000)};
  EXPECT_TRUE(ReceiveTransferInit(ti, wide, At(2)).ok());
  ResponderPolicy tight{{Text(2, "IDr")}, std::chrono::seconds(10)};
  EXPECT_FALSE(ReceiveTransferInit(ti, tight, At(3700)).ok());
  // Unsupported SRTP parameter (encryption algorithm AES-F8): detail 10.
  auto m = mikey::Decode(ti);
  ASSERT_TRUE(m.ok());
  for (auto& p : m->payloads) {
    if (auto* sp = std::get_if<mikey::SecurityPolicy>(&p)) sp->SetParam(0, {2});
  }
  auto bad_sp = mikey::Encode(*m);
  ASSERT_TRUE(bad_sp.ok());
  EXPECT_EQ(ReceiveTransferInit(*bad_sp, BPolicy(), At(2)).status().detail(),
            std::optional<uint8_t>(10));
  // Not a TRANSFER_INIT at all.
  EXPECT_FALSE(ReceiveTransferInit(Vec(7, "RESOLVE_INIT_PSK"), BPolicy(), At(2)).ok());
}

TEST_F(NegativeTest, TamperedResolveRespRefused) {
  auto pr = PendingResolveFromWire(Vec(7, "RESOLVE_INIT_PSK"));
  ASSERT_TRUE(pr.ok());
  auto resp = Vec(8, "RESOLVE_RESP");
  resp[60] ^= 0x04;  // inside the KEMAC ciphertext
  EXPECT_EQ(ProcessResolveResp(resp, *pr, b_).status().code(), StatusCode::kAuthFailed);
  // Wrong PSK (another user's credentials).
  EXPECT_EQ(ProcessResolveResp(Vec(8, "RESOLVE_RESP"), *pr, a_).status().code(),
            StatusCode::kAuthFailed);
}

TEST_F(NegativeTest, TamperedTransferRespRefused) {
  auto pt = PendingTransferFromWire(Vec(6, "TRANSFER_INIT"), Ticket());
  ASSERT_TRUE(pt.ok()) << pt.status().ToString();
  EXPECT_TRUE(ProcessTransferResp(Vec(9, "TRANSFER_RESP"), *pt, At(5)).ok());
  auto resp = Vec(9, "TRANSFER_RESP");
  resp[100] ^= 0x01;  // RANDRkms: changes the forked key, so the MAC fails
  EXPECT_EQ(ProcessTransferResp(resp, *pt, At(5)).status().code(), StatusCode::kAuthFailed);
  auto resp2 = Vec(9, "TRANSFER_RESP");
  resp2[20] ^= 0x01;  // session data of CS 2
  EXPECT_EQ(ProcessTransferResp(resp2, *pt, At(5)).status().code(), StatusCode::kAuthFailed);
}

}  // namespace
}  // namespace kms::client
