// Mode-3 tickets, pre-encrypted content (M flag), the ticket cache (J flag) and CSB
// updates (RFC 6043 §5.2, §5.3, §8, App. A).
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <variant>

#include "src/base/encoding.h"
#include "src/client/csb_update.h"
#include "src/client/mode3_ticket.h"
#include "src/client/replay_cache.h"
#include "src/client/ticket_cache.h"
#include "src/crypto/kemac_cipher.h"
#include "src/crypto/key_derivation.h"
#include "src/crypto/mac.h"
#include "src/crypto/openssl_key_ops.h"
#include "src/mikey/encoder.h"
#include "src/mikey/mac_coverage.h"
#include "src/mikey/ticket_data.h"
#include "tests/unit/client/client_test_util.h"
#include "tests/unit/client/vector_call.h"

namespace kms::client {
namespace {

using testing::At;
using testing::ScriptedRandom;
using testing::TekSalt;

const char* kAlice = "sip:mrfc@example.org";
const char* kBob = "sip:bob@example.org";

// A CSB update's key list: one TGK of 0x`fill` bytes with SPI 000000`spi`.
std::vector<mikey::KeyData> NewTgk(uint8_t fill, uint8_t spi) {
  std::vector<mikey::KeyData> k(1);
  k[0].type = mikey::KeyDataType::kTgk;
  k[0].key = SecretBytes::CopyFrom(std::vector<uint8_t>(16, fill));
  k[0].spi = {0, 0, 0, spi};
  return k;
}

// Expects crypto session `cs` of `k` to use exactly this master key, salt and MKI (hex).
void ExpectSessionKeys(const CallKeys& k, uint8_t cs, const char* key, const char* salt,
                       const char* mki) {
  const CryptoSessionKeys* s = FindSession(k, cs);
  ASSERT_NE(s, nullptr) << "no crypto session " << int{cs};
  EXPECT_EQ(HexEncode(s->master_key.Reveal()), key);
  EXPECT_EQ(HexEncode(s->master_salt.Reveal()), salt);
  EXPECT_EQ(HexEncode(s->mki), mki);
}

// The roles of the IDRi/IDRr payloads of a message, in order.
std::vector<mikey::IdRole> PartyRoles(const std::vector<uint8_t>& wire) {
  auto m = mikey::Decode(wire);
  KMS_CHECK(m.ok());
  std::vector<mikey::IdRole> out;
  for (const mikey::Payload& p : m->payloads) {
    if (const auto* idr = std::get_if<mikey::Idr>(&p)) out.push_back(idr->role);
  }
  return out;
}

class FeaturesTest : public ::testing::Test {
 protected:
  ScriptedRandom rng_;
  FakeClock clock_{At(0)};
  Env env_{rng_, clock_};
  TicketProtectionKey tpk_{"mrfc-tpk-1", SecretBytes::CopyFrom(std::vector<uint8_t>(16, 0x33))};

  Result<InitiatorTicket> Mode3(Mode3Options o) {
    rng_.Push(std::vector<uint8_t>(16, 0x01));  // RAND
    rng_.Push(std::vector<uint8_t>(16, 0x02));  // MPK
    rng_.Push(std::vector<uint8_t>(16, 0x03));  // TGK
    o.kms_identity = "https://kms.example.org";
    o.responders = {kBob};
    return CreateMode3Ticket(kAlice, tpk_, o, env_);
  }

  // Alice's TRANSFER_INIT to Bob with `t`. Queues its random draws: CSB ID, 16-byte
  // RANDRi, SSRC of CS 1.
  Result<PendingTransfer> TransferToBob(std::shared_ptr<const InitiatorTicket> t,
                                        TransferInitOptions to) {
    rng_.PushU32(0x01020304);
    rng_.Push(std::vector<uint8_t>(16, 0x44));  // RANDRi
    rng_.PushU32(0x11110001);                   // SSRC of CS 1
    to.responder = kBob;
    return BuildTransferInit(std::move(t), kAlice, to, env_);
  }
  // Bob's early checks and authentication of `wire`, resolved (KmsResolve) from `t`.
  Result<ResponderSession> AtBob(const std::vector<uint8_t>& wire, const InitiatorTicket& t) {
    KMS_ASSIGN_OR_RETURN(
        ReceivedTransferInit rti,
        ReceiveTransferInit(wire, ResponderPolicy{{kBob}, std::chrono::seconds(300)}, At(0)));
    return AuthenticateTransferInit(std::move(rti), KmsResolve(t, std::vector<uint8_t>(16, 0x55)));
  }

  // A mode-3 Ticket Transfer from Alice to Bob up to Bob's authenticated TRANSFER_INIT.
  struct Mode3Transfer {
    std::shared_ptr<const InitiatorTicket> ticket;
    PendingTransfer pt;
    std::optional<ResponderSession> session;
  };
  Mode3Transfer StartMode3Transfer(Mode3Options o, TransferInitOptions to = {}) {
    auto t = Mode3(std::move(o));
    KMS_CHECK(t.ok());
    Mode3Transfer x;
    x.ticket = std::make_shared<const InitiatorTicket>(std::move(t).value());
    auto pt = TransferToBob(x.ticket, std::move(to));
    KMS_CHECK(pt.ok());
    x.pt = std::move(pt).value();
    auto session = AtBob(x.pt.wire, *x.ticket);
    KMS_CHECK(session.ok());
    x.session = std::move(session).value();
    return x;
  }

  // Bob answers x (RANDRr 16 x 0x88, SSRC of CS 2 queued) and Alice takes the answer.
  struct Answered {
    CallKeys alice;
    CallKeys bob;
  };
  Result<Answered> Answer(const Mode3Transfer& x, TransferRespOptions ro) {
    ro.identity = kBob;
    rng_.Push(std::vector<uint8_t>(16, 0x88));  // RANDRr
    rng_.PushU32(0x22220002);                   // SSRC of CS 2
    KMS_ASSIGN_OR_RETURN(TransferRespResult tr, BuildTransferResp(*x.session, ro, env_));
    KMS_ASSIGN_OR_RETURN(CallKeys a, ProcessTransferResp(tr.wire, x.pt, At(0)));
    return Answered{std::move(a), std::move(tr.keys)};
  }

  // What the KMS does on RESOLVE_INIT for a forking ticket (spec §7.2 steps 9-10): fork
  // MPKr and the TGK for the answering device. Computed here with kms::crypto.
  ResolvedTicket KmsResolve(const InitiatorTicket& t, const std::vector<uint8_t>& rand_kms) {
    ResolvedTicket r;
    r.mpki = t.mpki.Clone();
    r.idrr = BytesOf(kBob);
    r.rand_kms = rand_kms;
    auto mpkr = crypto::SoftwareInKey::Create(*t.mpkr);
    KMS_CHECK(mpkr.ok());
    auto f = crypto::ForkKey(crypto::PrfFunc::kMikey1, crypto::ForkedKey::kMpkr, mpkr->blocks(),
                             r.idrr, rand_kms);
    KMS_CHECK(f.ok());
    r.mpkr_prime = std::move(f).value();
    mikey::KeyData tgk = t.session_keys.front().Clone();
    auto tin = crypto::SoftwareInKey::Create(tgk.key);
    KMS_CHECK(tin.ok());
    auto ft = crypto::ForkKey(crypto::PrfFunc::kMikey1, crypto::ForkedKey::kTgk, tin->blocks(),
                              r.idrr, rand_kms);
    KMS_CHECK(ft.ok());
    tgk.key = std::move(ft).value();
    r.session_keys.push_back(std::move(tgk));
    return r;
  }
};

TEST_F(FeaturesTest, Mode3TicketIsSealedWithTheTpk) {
  auto t = Mode3(Mode3Options{});
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_TRUE(rng_.empty());
  const mikey::TicketPolicy& p = t->ticket.policy;
  EXPECT_FALSE(p.flags.d);
  EXPECT_TRUE(p.flags.l);  // ¬D ⇒ L
  EXPECT_TRUE(p.flags.i && p.flags.e && p.flags.f);
  ASSERT_NE(p.FindIdr(mikey::IdRole::kInitiator), nullptr);
  EXPECT_EQ(IdrText(*p.FindIdr(mikey::IdRole::kInitiator)), kAlice);

  // Independently: the Ticket Data names the TPK, its MAC verifies with the TPK and its
  // KEMAC decrypts to MPK || TGK, from which MPKi follows (RFC 6043 App. A).
  auto td = mikey::DecodeBaseTicketData(t->ticket.ticket_data);
  ASSERT_TRUE(td.ok()) << td.status().ToString();
  ASSERT_TRUE(td->idr_psk.has_value());
  EXPECT_EQ(IdrText(*td->idr_psk), "mrfc-tpk-1");
  EXPECT_EQ(td->idr_psk->id_type, mikey::IdType::kByteString);
  auto tpk = crypto::SoftwareInKey::Create(tpk_.tpk);
  ASSERT_TRUE(tpk.ok());
  auto keys = crypto::DeriveTicketKeys(crypto::PrfFunc::kMikey1, tpk->blocks(), td->rand.rand,
                                       crypto::EncrAlgorithm::kAesCm128,
                                       crypto::MacAlgorithm::kHmacSha1_160);
  ASSERT_TRUE(keys.ok());
  mikey::Message carrier;
  carrier.hdr.data_type = mikey::DataType::kTransferInit;
  carrier.payloads.push_back(t->ticket);
  auto enc = mikey::EncodeWithLayout(carrier);
  ASSERT_TRUE(enc.ok());
  auto mac_in = mikey::TicketMacInput(enc->wire, enc->layout);
  ASSERT_TRUE(mac_in.ok());
  EXPECT_TRUE(
      crypto::VerifyMac(crypto::MacAlgorithm::kHmacSha1_160, keys->auth_key, *mac_in, td->v.mac)
          .ok());
  auto plain = crypto::KemacDecrypt(crypto::EncrAlgorithm::kAesCm128, keys->encr_key,
                                    keys->salt_key, 0xFFFFFFFF, td->t.value, td->kemac.encr_data);
  ASSERT_TRUE(plain.ok());
  auto chain = mikey::DecodeKeyDataChain(plain->Reveal());
  ASSERT_TRUE(chain.ok());
  ASSERT_EQ(chain->size(), 2u);
  EXPECT_EQ(HexEncode((*chain)[0].key.Reveal()), "02020202020202020202020202020202");  // MPK
  EXPECT_EQ(HexEncode((*chain)[1].key.Reveal()), "03030303030303030303030303030303");  // TGK
  auto mpk = crypto::SoftwareInKey::Create((*chain)[0].key);
  ASSERT_TRUE(mpk.ok());
  auto pair = crypto::DeriveMpkPair(crypto::PrfFunc::kMikey1, mpk->blocks(), td->rand.rand);
  ASSERT_TRUE(pair.ok());
  EXPECT_TRUE(pair->mpki.ConstantTimeEqual(t->mpki));
  EXPECT_TRUE(pair->mpkr.ConstantTimeEqual(*t->mpkr));

  // Bad inputs.
  TicketProtectionKey short_tpk{"x", SecretBytes::CopyFrom(std::vector<uint8_t>(8, 1))};
  EXPECT_FALSE(CreateMode3Ticket(kAlice, short_tpk, Mode3Options{}, env_).ok());
}

TEST_F(FeaturesTest, Mode3CallWithPreEncryptedContentKeys) {
  Mode3Options o;
  o.responder_keys = true;  // M=1: the responder supplies the content TEK
  TransferInitOptions to;
  to.sdp_ids = "mikey";
  Mode3Transfer x = StartMode3Transfer(o, std::move(to));
  TransferRespOptions ro;
  ro.responder_keys.push_back(TekSalt(0x66, 0x77, {0, 0, 0xbe, 0xef}));
  auto r = Answer(x, std::move(ro));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(rng_.empty());
  for (const CallKeys* k : {&r->alice, &r->bob}) {
    ExpectSessionKeys(*k, 2, "66666666666666666666666666666666", "7777777777777777777777777777",
                      "0000beef");
  }
  EXPECT_TRUE(
      FindSession(r->alice, 1)->master_key.ConstantTimeEqual(FindSession(r->bob, 1)->master_key));
}

// RFC 6043 §4.2.2 / spec §2.4, §11 A23: a mode-3 ticket has L=1 (D=0); the Initiator's own
// keys travel in TRANSFER_INIT's KEMAC under the MPKi key set, and the Responder decrypts
// them after authenticating TRANSFER_INIT, so both sides' CS 1 uses that TEK.
TEST_F(FeaturesTest, Mode3CallWithInitiatorSuppliedKeys) {
  TransferInitOptions to;
  to.initiator_keys.push_back(TekSalt(0x5a, 0x5b, {0, 0, 0xca, 0xfe}));
  Mode3Transfer x = StartMode3Transfer(Mode3Options{}, std::move(to));
  ASSERT_EQ(x.session->initiator_keys.size(), 1u);
  EXPECT_EQ(HexEncode(x.session->initiator_keys[0].spi), "0000cafe");

  auto r = Answer(x, TransferRespOptions{});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(rng_.empty());
  for (const CallKeys* k : {&r->alice, &r->bob}) {
    ExpectSessionKeys(*k, 1, "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a", "5b5b5b5b5b5b5b5b5b5b5b5b5b5b",
                      "0000cafe");
  }
  // CS 2 (Bob's direction) uses the ticket's TGK, the same on both sides.
  EXPECT_TRUE(
      FindSession(r->alice, 2)->master_key.ConstantTimeEqual(FindSession(r->bob, 2)->master_key));

  // A tool that keeps only the message re-reads the keys from it (MPKi decrypts them).
  auto again = PendingTransferFromWire(x.pt.wire, x.ticket);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  ASSERT_EQ(again->initiator_keys.size(), 1u);
  EXPECT_TRUE(again->initiator_keys[0].key.ConstantTimeEqual(x.pt.initiator_keys[0].key));
}

// An initiator key whose SPI equals a ticket key's SPI (the mode-3 TGK has 00000001) would
// make the SPI name two keys: refused by the Initiator, and by the Responder if an
// Initiator sends it anyway, rather than each side picking a different key.
TEST_F(FeaturesTest, InitiatorKeyWithTheSpiOfATicketKeyRefused) {
  auto t = Mode3(Mode3Options{});
  ASSERT_TRUE(t.ok());
  auto ticket = std::make_shared<const InitiatorTicket>(std::move(t).value());
  ASSERT_EQ(HexEncode(ticket->session_keys.front().spi), "00000001");
  TransferInitOptions to;
  to.responder = kBob;
  to.initiator_keys.push_back(TekSalt(0x5a, 0x5b, {0, 0, 0, 1}));
  EXPECT_EQ(BuildTransferInit(ticket, kAlice, to, env_).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_TRUE(rng_.empty());  // refused before drawing anything

  // An Initiator that does not check: its local copy of the ticket key names another SPI,
  // so it builds the message; Bob resolves the real ticket key (SPI 00000001) and refuses.
  InitiatorTicket careless;
  careless.ticket = ticket->ticket;
  careless.mpki = ticket->mpki.Clone();
  careless.mpkr = ticket->mpkr->Clone();
  careless.session_keys.push_back(ticket->session_keys.front().Clone());
  careless.session_keys.front().spi = {0, 0, 0, 9};
  auto pt =
      TransferToBob(std::make_shared<const InitiatorTicket>(std::move(careless)), std::move(to));
  ASSERT_TRUE(pt.ok()) << pt.status().ToString();
  auto session = AtBob(pt->wire, *ticket);
  ASSERT_FALSE(session.ok());
  EXPECT_EQ(session.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(session.status().message().find("00000001"), std::string::npos);

  // Without the collision the same flow is accepted (the refusal is the SPI's).
  TransferInitOptions ok_to;
  ok_to.initiator_keys.push_back(TekSalt(0x5a, 0x5b, {0, 0, 0, 2}));
  auto ok_pt = TransferToBob(ticket, std::move(ok_to));
  ASSERT_TRUE(ok_pt.ok()) << ok_pt.status().ToString();
  EXPECT_TRUE(AtBob(ok_pt->wire, *ticket).ok());
}

TEST_F(FeaturesTest, ResponderKeysRefusedWithoutMFlag) {
  Mode3Transfer x = StartMode3Transfer(Mode3Options{});  // M=0
  const ResponderSession* session = &*x.session;
  TransferRespOptions ro;
  mikey::KeyData tek;
  tek.type = mikey::KeyDataType::kTekSalt;
  tek.key = SecretBytes(16);
  tek.salt = SecretBytes(14);
  tek.spi = {1, 2, 3, 4};
  ro.responder_keys.push_back(std::move(tek));
  EXPECT_EQ(BuildTransferResp(*session, ro, env_).status().code(), StatusCode::kPermissionDenied);
}

// RFC 6043 §12.1 (spec §4.4): TRANSFER_INIT's 0x01 label holds RANDRi only, so RANDRi
// must be at least as long as MPKi: 32 bytes with the 256-bit suite's 32-byte MPK.
TEST_F(FeaturesTest, TransferInitRandCoversA256BitMpki) {
  rng_.Push(std::vector<uint8_t>(32, 0x01));  // RAND (>= MPK)
  rng_.Push(std::vector<uint8_t>(32, 0x02));  // MPK
  rng_.Push(std::vector<uint8_t>(32, 0x03));  // TGK
  Mode3Options o;
  o.kms_identity = "https://kms.example.org";
  o.responders = {kBob};
  o.prf = mikey::PrfFunc::kPrfHmacSha256;
  o.encr = mikey::EncrAlg::kAesCm256;
  o.mac = mikey::MacAlg::kHmacSha256_256;
  o.mpk_len = o.tgk_len = 32;
  TicketProtectionKey tpk{"mrfc-tpk-2", SecretBytes::CopyFrom(std::vector<uint8_t>(32, 0x34))};
  auto t = CreateMode3Ticket(kAlice, tpk, o, env_);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  auto ticket = std::make_shared<const InitiatorTicket>(std::move(t).value());
  ASSERT_EQ(ticket->mpki.size(), 32u);
  EXPECT_EQ(MinTransferRandLen(*ticket), 32u);

  TransferInitOptions to;
  to.responder = kBob;
  to.suite = Suite{mikey::PrfFunc::kPrfHmacSha256, mikey::EncrAlg::kAesCm256,
                   mikey::MacAlg::kHmacSha256_256};
  to.rand_len = 16;  // the old default: shorter than MPKi
  EXPECT_EQ(BuildTransferInit(ticket, kAlice, to, env_).status().code(),
            StatusCode::kInvalidArgument);
  to.rand_len = 31;
  EXPECT_EQ(BuildTransferInit(ticket, kAlice, to, env_).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_TRUE(rng_.empty());  // refused before drawing anything

  to.rand_len = 0;  // default: the shortest compliant length
  rng_.PushU32(0x01020304);
  rng_.Push(std::vector<uint8_t>(32, 0x44));  // RANDRi: 32 bytes drawn
  rng_.PushU32(0x11110001);
  auto pt = BuildTransferInit(ticket, kAlice, to, env_);
  ASSERT_TRUE(pt.ok()) << pt.status().ToString();
  EXPECT_TRUE(rng_.empty());
  EXPECT_EQ(pt->rand_ri.size(), 32u);

  // Keys shorter than 128 bits are not even put in a ticket.
  Mode3Options short_mpk = o;
  short_mpk.mpk_len = 8;
  EXPECT_EQ(CreateMode3Ticket(kAlice, tpk, short_mpk, env_).status().code(),
            StatusCode::kInvalidArgument);
}

// RFC 6043 §12.1: the responder's RANDRr (with RANDRi) covers MPKr' and the TGKs.
TEST_F(FeaturesTest, TransferRespRandTooShortRefused) {
  Mode3Transfer x = StartMode3Transfer(Mode3Options{});
  const ResponderSession* session = &*x.session;
  TransferRespOptions ro;
  ro.identity = kBob;
  ro.rand_len = 8;
  EXPECT_EQ(BuildTransferResp(*session, ro, env_).status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(rng_.empty());
}

TEST_F(FeaturesTest, TicketCacheHonoursReuseFlagAndValidity) {
  TicketCache cache(clock_, 2);
  auto once = Mode3(Mode3Options{});
  ASSERT_TRUE(once.ok());
  EXPECT_FALSE(cache.Put(std::make_shared<const InitiatorTicket>(std::move(*once))));  // J=0
  Mode3Options reuse;
  reuse.reusable = true;
  auto t = Mode3(reuse);
  ASSERT_TRUE(t.ok());
  auto shared = std::make_shared<const InitiatorTicket>(std::move(*t));
  EXPECT_TRUE(cache.Put(shared));
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_EQ(cache.Find(kBob), shared);
  EXPECT_EQ(cache.Find("sip:carol@example.org"), nullptr);
  clock_.Set(At(3600 - 30));  // less than the default 60 s left
  EXPECT_EQ(cache.Find(kBob), nullptr);
  EXPECT_EQ(cache.Find(kBob, std::chrono::seconds(10)), shared);
  clock_.Set(At(3601));
  EXPECT_EQ(cache.Find(kBob, std::chrono::seconds(0)), nullptr);
  EXPECT_EQ(cache.size(), 0u);  // expired entries dropped
  EXPECT_FALSE(cache.Put(shared));
}

TEST_F(FeaturesTest, CsbUpdateRekeysBothSides) {
  testing::VectorCall call = testing::RunVectorCall();
  std::vector<mikey::KeyData> fresh(1);
  fresh[0].type = mikey::KeyDataType::kTgk;
  fresh[0].key = SecretBytes::CopyFrom(std::vector<uint8_t>(16, 0x99));
  fresh[0].spi = {0, 0, 0, 2};
  clock_.Set(At(60));
  auto upd = BuildCsbUpdateInit(call.a.csb, std::move(fresh), env_);
  ASSERT_TRUE(upd.ok()) << upd.status().ToString();
  // The update keeps the CSB ID and carries no RANDs and no TICKET.
  auto m = mikey::Decode(upd->wire);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->hdr.csb_id, 0x5a5a0001u);
  EXPECT_EQ(m->FindTicket(), nullptr);
  EXPECT_EQ(m->FindRandR(mikey::RandRole::kInitiator), nullptr);

  auto tampered = upd->wire;
  tampered[tampered.size() - 30] ^= 1;  // inside the KEMAC
  EXPECT_EQ(AnswerCsbUpdate(tampered, call.b.csb, env_).status().code(), StatusCode::kAuthFailed);

  auto ans = AnswerCsbUpdate(upd->wire, call.b.csb, env_);
  ASSERT_TRUE(ans.ok()) << ans.status().ToString();
  auto a_new = ProcessCsbUpdateResp(ans->wire, *upd, call.a.csb);
  ASSERT_TRUE(a_new.ok()) << a_new.status().ToString();
  ASSERT_EQ(a_new->size(), 2u);
  ASSERT_EQ(ans->sessions.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_TRUE((*a_new)[i].master_key.ConstantTimeEqual(ans->sessions[i].master_key));
    EXPECT_TRUE((*a_new)[i].master_salt.ConstantTimeEqual(ans->sessions[i].master_salt));
    EXPECT_FALSE((*a_new)[i].master_key.ConstantTimeEqual(call.a.sessions[i].master_key));
    EXPECT_EQ(HexEncode((*a_new)[i].mki), "00000002");
  }
  // An answer is bound to its update (the MAC covers resp || update).
  std::vector<mikey::KeyData> other(1);
  other[0].type = mikey::KeyDataType::kTgk;
  other[0].key = SecretBytes::CopyFrom(std::vector<uint8_t>(16, 0xaa));
  other[0].spi = {0, 0, 0, 3};
  auto upd2 = BuildCsbUpdateInit(call.a.csb, std::move(other), env_);
  ASSERT_TRUE(upd2.ok());
  EXPECT_EQ(ProcessCsbUpdateResp(ans->wire, *upd2, call.a.csb).status().code(),
            StatusCode::kAuthFailed);
  EXPECT_FALSE(BuildCsbUpdateInit(call.a.csb, {}, env_).ok());  // no keys
}

// RFC 6043 §5.2 + RFC 3830 §5.4: an authentic update recorded earlier must not be accepted
// again, nor one older than the last accepted, nor one outside the clock window.
TEST_F(FeaturesTest, CsbUpdateReplayedOrStaleRefused) {
  testing::VectorCall call = testing::RunVectorCall();
  clock_.Set(At(60));
  auto first = BuildCsbUpdateInit(call.a.csb, NewTgk(0x41, 2), env_);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  auto ans = AnswerCsbUpdate(first->wire, call.b.csb, env_);
  ASSERT_TRUE(ans.ok()) << ans.status().ToString();
  ASSERT_TRUE(ProcessCsbUpdateResp(ans->wire, *first, call.a.csb).ok());

  auto replay = AnswerCsbUpdate(first->wire, call.b.csb, env_);
  EXPECT_EQ(replay.status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(replay.status().detail(), static_cast<uint8_t>(mikey::ErrorNo::kInvalidTs));

  clock_.Set(At(61));
  auto second = BuildCsbUpdateInit(call.a.csb, NewTgk(0x42, 3), env_);
  ASSERT_TRUE(second.ok());
  ASSERT_TRUE(AnswerCsbUpdate(second->wire, call.b.csb, env_).ok());
  EXPECT_EQ(HexEncode(call.b.csb.map.generic_map.front().spi), "00000003");
  // The older update is still authentic, but would roll the keys back: refused, state kept.
  EXPECT_EQ(AnswerCsbUpdate(first->wire, call.b.csb, env_).status().code(),
            StatusCode::kPermissionDenied);
  EXPECT_EQ(HexEncode(call.b.csb.map.generic_map.front().spi), "00000003");

  // Built at 62 s, received more than the window later.
  clock_.Set(At(62));
  auto late = BuildCsbUpdateInit(call.a.csb, NewTgk(0x43, 4), env_);
  ASSERT_TRUE(late.ok());
  clock_.Set(At(62) + kCsbUpdateSkew + std::chrono::seconds(1));
  auto stale = AnswerCsbUpdate(late->wire, call.b.csb, env_);
  EXPECT_EQ(stale.status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(stale.status().detail(), static_cast<uint8_t>(mikey::ErrorNo::kInvalidTs));
  clock_.Set(At(63));  // within the window it is accepted
  EXPECT_TRUE(AnswerCsbUpdate(late->wire, call.b.csb, env_).ok());
}

// spec §2.8 / RFC 6043 §5.2: both directions of a CSB update use one key set, so the MAC
// alone would let an attacker send A's own update back to A. The sender's IDR comes first
// (the Responder's update is the mirror form, IDRr first) and a party refuses a message
// that names itself first.
TEST_F(FeaturesTest, CsbUpdateReflectedToItsSenderRefused) {
  testing::VectorCall call = testing::RunVectorCall();
  const std::string a_spi = HexEncode(call.a.csb.map.generic_map.front().spi);
  clock_.Set(At(60));
  auto upd = BuildCsbUpdateInit(call.a.csb, NewTgk(0x99, 2), env_);
  ASSERT_TRUE(upd.ok()) << upd.status().ToString();
  EXPECT_EQ(PartyRoles(upd->wire),
            (std::vector<mikey::IdRole>{mikey::IdRole::kInitiator, mikey::IdRole::kResponder}));
  auto self = AnswerCsbUpdate(upd->wire, call.a.csb, env_);
  ASSERT_FALSE(self.ok());
  EXPECT_EQ(self.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(self.status().message().find("reflected"), std::string::npos);
  EXPECT_EQ(HexEncode(call.a.csb.map.generic_map.front().spi), a_spi);  // state kept

  // The Responder's update: mirror form, refused by B itself, accepted by A, whose answer
  // carries IDRi; B takes the answer and both sides agree on the new keys.
  clock_.Set(At(61));
  auto bupd = BuildCsbUpdateInit(call.b.csb, NewTgk(0x98, 3), env_);
  ASSERT_TRUE(bupd.ok()) << bupd.status().ToString();
  EXPECT_EQ(PartyRoles(bupd->wire),
            (std::vector<mikey::IdRole>{mikey::IdRole::kResponder, mikey::IdRole::kInitiator}));
  EXPECT_EQ(AnswerCsbUpdate(bupd->wire, call.b.csb, env_).status().code(),
            StatusCode::kPermissionDenied);
  auto ans = AnswerCsbUpdate(bupd->wire, call.a.csb, env_);
  ASSERT_TRUE(ans.ok()) << ans.status().ToString();
  EXPECT_EQ(PartyRoles(ans->wire), std::vector<mikey::IdRole>{mikey::IdRole::kInitiator});
  auto b_new = ProcessCsbUpdateResp(ans->wire, *bupd, call.b.csb);
  ASSERT_TRUE(b_new.ok()) << b_new.status().ToString();
  ASSERT_EQ(b_new->size(), ans->sessions.size());
  for (size_t i = 0; i < b_new->size(); ++i) {
    EXPECT_TRUE((*b_new)[i].master_key.ConstantTimeEqual(ans->sessions[i].master_key));
    EXPECT_EQ(HexEncode((*b_new)[i].mki), "00000003");
  }
}

TEST(ReplayCacheTest, RefusesReplaysWithinTheWindow) {
  ReplayCache cache(std::chrono::seconds(300), 2);
  const std::vector<uint8_t> mac1(20, 1), mac2(20, 2), mac3(20, 3);
  EXPECT_TRUE(cache.CheckAndInsert(mac1, At(0), At(0)).ok());
  const Status again = cache.CheckAndInsert(mac1, At(0), At(10));
  EXPECT_EQ(again.code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(again.detail(), std::optional<uint8_t>(1));
  EXPECT_TRUE(cache.CheckAndInsert(mac2, At(5), At(10)).ok());
  EXPECT_EQ(cache.CheckAndInsert(mac3, At(5), At(10)).code(), StatusCode::kResourceExhausted);
  // After the window the entries expire (the early checks refuse such old messages).
  EXPECT_TRUE(cache.CheckAndInsert(mac1, At(400), At(400)).ok());
  EXPECT_EQ(cache.size(), 1u);
}

}  // namespace
}  // namespace kms::client
