// Ticket Resolve at the KMS: forking, authorization of the resolver, Initiator Data,
// validity, groups, mode-3 tickets and TPK rotation.
#include "src/crypto/key_derivation.h"
#include "src/crypto/mac.h"
#include "src/crypto/openssl_key_ops.h"
#include "src/mikey/encoder.h"
#include "src/mikey/ticket_data.h"
#include "src/core/base_ticket.h"
#include "tests/unit/core/kms_fixture.h"

namespace kms::core::testing {
namespace {

constexpr uint64_t kT0 = 0xe8fe6f8000000000ULL;  // 1700000000 Unix as NTP-UTC
constexpr uint64_t kSecond = uint64_t{1} << 32;

class ResolveTest : public KmsFixture {
 protected:
  void SetUp() override {
    KmsFixture::SetUp();
    random_.set_fallback(true);
  }
  // The vector ticket (forking, validity to T0+3600), as carried in TRANSFER_INIT.
  mikey::Ticket VectorTicket() {
    auto ti = mikey::Decode(V(6, "TRANSFER_INIT"));
    EXPECT_TRUE(ti.ok());
    return *ti->FindTicket();
  }
  Result<Reply> Resolve(const UeIdentity& ue, const mikey::Ticket& t, uint64_t now_ntp,
                        uint8_t seed, std::vector<uint8_t>* request = nullptr) {
    clock_.Push(Ntp(now_ntp));
    InitParams p;
    p.t_ntp = now_ntp;
    p.csb_id = 0x0badca00u + seed;
    p.rand = std::vector<uint8_t>(32, seed);
    auto msg = BuildResolveInit(ue, p, t);
    EXPECT_TRUE(msg.ok()) << msg.status().ToString();
    if (request != nullptr) {
      *request = *msg;
    }
    return Send(*msg);
  }
  // A fresh ticket for `responders` granted to alice (forking off: no Initiator Data).
  mikey::Ticket FreshTicket(const std::vector<std::string>& responders, uint8_t seed = 1) {
    clock_.Push(Ntp(kT0));
    InitParams p;
    p.t_ntp = kT0;
    p.rand = std::vector<uint8_t>(32, static_cast<uint8_t>(0x80 + seed));
    auto req = BuildRequestInit(alice_, p, DefaultPolicy(responders, kT0, 3600, false));
    auto r = Send(*req);
    EXPECT_TRUE(r.ok() && !r->is_error) << LastRule();
    return *mikey::Decode(r->body)->FindTicket();
  }
};

TEST_F(ResolveTest, TwoForkedDevicesGetDifferentKeysNeitherCanComputeTheOther) {
  const mikey::Ticket t = VectorTicket();
  std::vector<uint8_t> req1, req2;
  auto r1 = Resolve(bob_, t, kT0 + 3 * kSecond, 1, &req1);
  auto r2 = Resolve(bob_, t, kT0 + 4 * kSecond, 2, &req2);
  ASSERT_FALSE(r1->is_error) << LastRule();
  ASSERT_FALSE(r2->is_error) << LastRule();
  auto k1 = OpenResponse(r1->body, req1, bob_);
  auto k2 = OpenResponse(r2->body, req2, bob_);
  ASSERT_TRUE(k1.ok() && k2.ok());
  ASSERT_EQ(k1->size(), 3u);  // MPKi, MPKr', TGK'
  // MPKi is shared by every resolver; MPKr' and TGK' are unique per device.
  EXPECT_TRUE((*k1)[0].key.ConstantTimeEqual((*k2)[0].key));
  EXPECT_FALSE((*k1)[1].key.ConstantTimeEqual((*k2)[1].key));
  EXPECT_FALSE((*k1)[2].key.ConstantTimeEqual((*k2)[2].key));
  // Neither device ever sees the un-forked MPKr or TGK of the ticket.
  const auto mpkr = V(4, "MPKr = PRF(MPK, 1F4D675B||FF||FFFFFFFF||06||len||RAND)");
  const std::vector<uint8_t> tgk = {0xf6, 0xb7, 0xc3, 0xec, 0xf1, 0xd0, 0x5d, 0x8a,
                                    0xc6, 0xba, 0xf0, 0x00, 0x3d, 0xd9, 0xc9, 0xdb};
  for (const auto* k : {&*k1, &*k2}) {
    EXPECT_FALSE((*k)[1].key.ConstantTimeEqual(mpkr));
    EXPECT_FALSE((*k)[2].key.ConstantTimeEqual(tgk));
  }
  // Device 1 cannot derive device 2's TGK' from its own (the modifier is public).
  auto resp2 = mikey::Decode(r2->body);
  const mikey::RandR* rk2 = resp2->FindRandR(mikey::RandRole::kKms);
  ASSERT_NE(rk2, nullptr);
  auto in1 = crypto::SoftwareInKey::Create((*k1)[2].key);
  auto guess = crypto::ForkKey(crypto::PrfFunc::kMikey1, crypto::ForkedKey::kTgk, in1->blocks(),
                               AsBytes(bob_.identity), rk2->rand);
  ASSERT_TRUE(guess.ok());
  EXPECT_FALSE(guess->ConstantTimeEqual((*k2)[2].key));
  // Only the initiator, holding the un-forked TGK, can: the KMS's TGK' is what it derives.
  auto master = crypto::SoftwareInKey::Create(SecretBytes::CopyFrom(tgk));
  auto initiator_view = crypto::ForkKey(crypto::PrfFunc::kMikey1, crypto::ForkedKey::kTgk,
                                        master->blocks(), AsBytes(bob_.identity), rk2->rand);
  EXPECT_TRUE(initiator_view->ConstantTimeEqual((*k2)[2].key));
}

TEST_F(ResolveTest, ThirdPartyWithCapturedTicketCannotResolve) {
  ExpectError(Resolve(carol_, VectorTicket(), kT0 + 3 * kSecond, 3), mikey::ErrorNo::kAuthFailure);
  EXPECT_EQ(LastRule(), "responder.not_in_ticket");
}

TEST_F(ResolveTest, TamperedInitiatorDataVrIsRefused) {
  mikey::Ticket t = VectorTicket();
  t.initiator_data.back() ^= 0x01;  // last byte of Vr's MAC
  ExpectError(Resolve(bob_, t, kT0 + 3 * kSecond, 4), mikey::ErrorNo::kAuthFailure);
  EXPECT_EQ(LastRule(), "initiator_data.vr");
  mikey::Ticket no_id = VectorTicket();
  no_id.initiator_data.clear();
  // A forking ticket without Initiator Data does not even parse (RFC 6043 §6.10).
  ExpectError(Resolve(bob_, no_id, kT0 + 3 * kSecond, 5), mikey::ErrorNo::kUnsupportedMessageType);
}

// Vr is computed with Vi's MAC algorithm, the TRANSFER_INIT's (spec §4.12.3), which may
// differ from the ticket's: a 128-bit ticket transferred in an HMAC-SHA-256 TRANSFER_INIT
// resolves, and a Vr keyed right but computed with the ticket's algorithm instead does not.
TEST_F(ResolveTest, VrUsesTheTransferInitMacAlgorithmNotTheTicketOne) {
  const auto mpkr = V(4, "MPKr = PRF(MPK, 1F4D675B||FF||FFFFFFFF||06||len||RAND)");
  auto initiator_data = [&](mikey::MacAlg alg, crypto::MacAlgorithm vr_computed_with) {
    const size_t len = alg == mikey::MacAlg::kHmacSha256_256 ? 32 : 20;
    mikey::InitiatorData id;
    id.vi = mikey::Verification{alg, mikey::Bytes(len, 0x42)};  // the KMS does not check Vi
    id.vr = mikey::Verification{alg, mikey::Bytes(len, 0)};
    mikey::InitiatorDataLayout layout;
    auto bytes = mikey::EncodeInitiatorData(id, &layout);
    EXPECT_TRUE(bytes.ok());
    std::vector<uint8_t> input(bytes->begin(),
                               bytes->begin() + static_cast<std::ptrdiff_t>(layout.vr_mac.offset));
    auto in = crypto::SoftwareInKey::Create(SecretBytes::CopyFrom(mpkr));
    auto key = crypto::DeriveVrAuthKey(crypto::PrfFunc::kMikey1, in->blocks(), vr_computed_with);
    auto mac = crypto::ComputeMac(vr_computed_with, *key, input);
    EXPECT_TRUE(mac.ok());
    mac->resize(len);
    std::copy(mac->begin(), mac->end(),
              bytes->begin() + static_cast<std::ptrdiff_t>(layout.vr_mac.offset));
    return *bytes;
  };
  mikey::Ticket t = VectorTicket();
  ASSERT_EQ(t.policy.prf, mikey::PrfFunc::kMikey1);
  t.initiator_data =
      initiator_data(mikey::MacAlg::kHmacSha256_256, crypto::MacAlgorithm::kHmacSha256_256);
  auto ok = Resolve(bob_, t, kT0 + 3 * kSecond, 7);
  ASSERT_TRUE(ok.ok());
  EXPECT_FALSE(ok->is_error) << LastRule();
  // Vr labelled SHA-256 but computed with the ticket's SHA-1 (padded): refused.
  t.initiator_data =
      initiator_data(mikey::MacAlg::kHmacSha256_256, crypto::MacAlgorithm::kHmacSha1_160);
  ExpectError(Resolve(bob_, t, kT0 + 3 * kSecond, 8), mikey::ErrorNo::kAuthFailure);
  EXPECT_EQ(LastRule(), "initiator_data.vr");
}

TEST_F(ResolveTest, TamperedTicketPolicyBreaksTheTicketMac) {
  mikey::Ticket t = VectorTicket();
  // Carol adds herself as a responder: the policy is sealed by the ticket MAC.
  t.policy.tp_data.emplace_back(mikey::Idr{mikey::IdRole::kResponder, mikey::IdType::kUri,
                                           mikey::Bytes(carol_.identity.begin(), carol_.identity.end())});
  ExpectError(Resolve(carol_, t, kT0 + 3 * kSecond, 6), mikey::ErrorNo::kAuthFailure);
  EXPECT_EQ(LastRule(), "ticket.mac");
  // The forged ticket's IDRi and responders are not recorded as the call's parties; the
  // IDRi it claims is kept in the detail, marked unverified.
  const ports::AuditRecord row = audit_.records().back();
  EXPECT_EQ(row.actor, "ue:" + carol_.identity);  // carol herself authenticated
  EXPECT_TRUE(row.initiator.empty());
  EXPECT_TRUE(row.responder.empty());
  EXPECT_NE(row.detail.find("unverified ticket IDRi"), std::string::npos) << row.detail;
}

TEST_F(ResolveTest, ExpiredAndNotYetValidTicketsAreRefused) {
  // Time only moves forward here, as on a real KMS: the replay cache judges each message by
  // the latest time its shard has seen, so a message dated an hour before an earlier one is
  // refused as outside the window whenever both land in the same shard (1 in 16).
  // A ticket whose TRs lies in the future (build one with a start time).
  clock_.Push(Ntp(kT0));
  InitParams p;
  p.t_ntp = kT0;
  mikey::TicketPolicy tp = DefaultPolicy({bob_.identity}, kT0, 7200, false);
  tp.tp_data.insert(tp.tp_data.begin(),
                    mikey::TimestampR{mikey::TsRole::kStartOfValidity, mikey::TsType::kNtpUtc32,
                                      (kT0 >> 32) + 600});
  auto req = BuildRequestInit(alice_, p, tp);
  auto r = Send(*req);
  ASSERT_FALSE(r->is_error) << LastRule();
  const mikey::Ticket later = *mikey::Decode(r->body)->FindTicket();
  ExpectError(Resolve(bob_, later, kT0 + 10 * kSecond, 8), mikey::ErrorNo::kAuthFailure);
  EXPECT_EQ(LastRule(), "ticket.not_yet_valid");
  auto ok = Resolve(bob_, later, kT0 + 601 * kSecond, 9);
  EXPECT_FALSE(ok->is_error) << LastRule();
  ExpectError(Resolve(bob_, VectorTicket(), kT0 + 3601 * kSecond, 7), mikey::ErrorNo::kAuthFailure);
  EXPECT_EQ(LastRule(), "ticket.expired");
}

TEST_F(ResolveTest, NonForkingTicketGivesUnforkedKeysAndNoModifier) {
  const mikey::Ticket t = FreshTicket({bob_.identity});
  std::vector<uint8_t> req;
  auto r = Resolve(bob_, t, kT0 + kSecond, 10, &req);
  ASSERT_FALSE(r->is_error) << LastRule();
  auto keys = OpenResponse(r->body, req, bob_);
  ASSERT_TRUE(keys.ok());
  EXPECT_EQ(keys->size(), 2u);  // MPKi, TGK
  auto m = mikey::Decode(r->body);
  EXPECT_EQ(m->FindRandR(mikey::RandRole::kKms), nullptr);
  EXPECT_EQ(m->FindIdr(mikey::IdRole::kResponder), nullptr);
}

TEST_F(ResolveTest, GroupTicketResolvesForMembersOnly) {
  policy_.AddGroupMember("sip:team@example.org", bob_.identity);
  const mikey::Ticket t = FreshTicket({"sip:team@example.org"});
  EXPECT_FALSE(Resolve(bob_, t, kT0 + kSecond, 11)->is_error) << LastRule();
  ExpectError(Resolve(carol_, t, kT0 + kSecond, 12), mikey::ErrorNo::kAuthFailure);
  EXPECT_EQ(LastRule(), "responder.not_in_ticket");
}

TEST_F(ResolveTest, TpkRotationRetiredResolvesDestroyedIsRefused) {
  const mikey::Ticket old_ticket = FreshTicket({bob_.identity}, 1);
  // Rotate: version 2 becomes active, version 1 retired.
  const ports::KeyRef tpk2 = vault_.AddKey(std::vector<uint8_t>(32, 0x42));
  vault_.SetTicketKey(2, tpk2, true);
  policy_.SetKeyState(2, ports::KeyState::kActive);
  policy_.SetKeyState(1, ports::KeyState::kRetired);
  const mikey::Ticket new_ticket = FreshTicket({bob_.identity}, 2);
  auto td = mikey::DecodeBaseTicketData(new_ticket.ticket_data);
  EXPECT_EQ(Str(td->idr_psk->id_data), "tpk-0002");
  EXPECT_FALSE(Resolve(bob_, old_ticket, kT0 + kSecond, 13)->is_error) << LastRule();
  EXPECT_FALSE(Resolve(bob_, new_ticket, kT0 + kSecond, 14)->is_error) << LastRule();
  policy_.SetKeyState(1, ports::KeyState::kDestroyed);
  ExpectError(Resolve(bob_, old_ticket, kT0 + 2 * kSecond, 15), mikey::ErrorNo::kAuthFailure);
  EXPECT_EQ(LastRule(), "ticket.tpk_destroyed");
}

// Mode 3 (spec §1.2): alice builds the ticket herself with her mode-3 key.
class Mode3Test : public ResolveTest {
 protected:
  void SetUp() override {
    ResolveTest::SetUp();
    mode3_key_ = std::vector<uint8_t>(32, 0x3a);
    policy_.AddCredential(alice_id_, "alice-mode3", ports::CredentialKind::kMode3TicketKey);
    vault_.SetCredential("alice-mode3", vault_.AddKey(mode3_key_));
  }
  struct Lengths {
    size_t mpk = 16;
    size_t tgk = 16;
    size_t rand = 32;
  };
  mikey::Ticket InitiatorTicket(const std::string& idri, const std::string& key_id) {
    return InitiatorTicket(idri, key_id, Lengths{});
  }
  mikey::Ticket InitiatorTicket(const std::string& idri, const std::string& key_id,
                                const Lengths& len) {
    mikey::TicketPolicy tp = DefaultPolicy({bob_.identity}, kT0, 3600, false);
    tp.flags.d = false;
    tp.flags.l = true;  // RFC 6043 §6.10: ¬D ⇒ L
    tp.tp_data.erase(tp.tp_data.begin() + 1);  // no desired-keys KEMAC in a created ticket
    tp.tp_data.insert(tp.tp_data.begin(),
                      mikey::Idr{mikey::IdRole::kInitiator, mikey::IdType::kUri,
                                 mikey::Bytes(idri.begin(), idri.end())});
    TicketKeys keys;
    keys.mpk = SecretBytes::CopyFrom(std::vector<uint8_t>(len.mpk, 0x01));
    mikey::KeyData tgk;
    tgk.type = mikey::KeyDataType::kTgk;
    tgk.key = SecretBytes::CopyFrom(std::vector<uint8_t>(len.tgk, 0x02));
    tgk.spi = {0, 0, 0, 1};
    keys.session_keys.push_back(std::move(tgk));
    auto in = crypto::SoftwareInKey::Create(SecretBytes::CopyFrom(mode3_key_));
    SealParams sp;
    sp.issue_time_ntp = kT0;
    sp.rand = std::vector<uint8_t>(len.rand, 0x99);
    sp.psk_id.assign(key_id.begin(), key_id.end());
    auto draft = DraftBaseTicket(tp, keys, in->blocks(), sp);
    EXPECT_TRUE(draft.ok()) << draft.status().ToString();
    // Seal: encode inside a throwaway message to get the layout, patch the ticket MAC.
    mikey::Message carrier;
    carrier.hdr.data_type = mikey::DataType::kRequestResp;
    carrier.payloads.emplace_back(mikey::Timestamp{mikey::TsType::kNtpUtc, kT0});
    carrier.payloads.emplace_back(draft->ticket);
    carrier.payloads.emplace_back(mikey::Verification{mikey::MacAlg::kHmacSha1_160, mikey::Bytes(20, 0)});
    auto enc = mikey::EncodeWithLayout(carrier);
    EXPECT_TRUE(enc.ok()) << enc.status().ToString();
    EXPECT_TRUE(FinishTicketMac(enc->wire, enc->layout, *draft).ok());
    mikey::Ticket sealed = draft->ticket;
    const auto& r = enc->layout.ticket->ticket_data;
    sealed.ticket_data.assign(enc->wire.begin() + static_cast<std::ptrdiff_t>(r.offset),
                              enc->wire.begin() + static_cast<std::ptrdiff_t>(r.end()));
    return sealed;
  }
  std::vector<uint8_t> mode3_key_;
};

TEST_F(Mode3Test, ResolvesOnlyWhenPolicyAllowsTheInitiator) {
  const mikey::Ticket t = InitiatorTicket(alice_.identity, "alice-mode3");
  ExpectError(Resolve(bob_, t, kT0 + kSecond, 20), mikey::ErrorNo::kAuthFailure);
  EXPECT_EQ(LastRule(), "mode3.not_allowed");
  FakePolicyStore::Rules r;
  r.mode3_allowed = true;
  policy_.SetRules(alice_id_, r);
  std::vector<uint8_t> req;
  auto ok = Resolve(bob_, t, kT0 + 2 * kSecond, 21, &req);
  ASSERT_FALSE(ok->is_error) << LastRule();
  auto keys = OpenResponse(ok->body, req, bob_);
  ASSERT_TRUE(keys.ok());
  EXPECT_TRUE(keys->back().key.ConstantTimeEqual(std::vector<uint8_t>(16, 0x02)));
}

// An initiator-built ticket is sealed by a UE and may carry anything its MAC covers: the KMS
// must not derive or fork keys shorter than 128 bits from it (spec §9.3, RFC 6043 §12.1),
// and a refusal is a MIKEY Error with an audit row, never an internal error.
TEST_F(Mode3Test, ShortKeysOrRandInAnInitiatorTicketAreRefused) {
  FakePolicyStore::Rules r;
  r.mode3_allowed = true;
  policy_.SetRules(alice_id_, r);
  struct Case {
    Lengths len;
    const char* what;
  };
  const Case cases[] = {{{.mpk = 1}, "1-byte MPK"},
                        {{.mpk = 0}, "empty MPK"},
                        {{.mpk = 32}, "MPK longer than the 128-bit suite"},
                        {{.tgk = 1}, "1-byte TGK"},
                        {{.tgk = 0}, "empty TGK"},
                        {{.tgk = 1025}, "TGK over 1 KiB"},
                        {{.rand = 16}, "RAND shorter than the 32-byte mode-3 key"}};
  uint8_t seed = 40;
  for (const Case& c : cases) {
    const mikey::Ticket t = InitiatorTicket(alice_.identity, "alice-mode3", c.len);
    const size_t rows = audit_.records().size();
    ExpectError(Resolve(bob_, t, kT0 + kSecond, seed++), mikey::ErrorNo::kAuthFailure);
    EXPECT_EQ(LastRule(), "ticket.contents") << c.what;
    EXPECT_EQ(audit_.records().size(), rows + 1) << c.what;
  }
  // The same ticket with compliant lengths resolves (the refusals above were the lengths).
  const mikey::Ticket ok = InitiatorTicket(alice_.identity, "alice-mode3", Lengths{});
  auto good = Resolve(bob_, ok, kT0 + kSecond, seed);
  ASSERT_TRUE(good.ok());
  EXPECT_FALSE(good->is_error) << LastRule();
}

TEST_F(Mode3Test, KeyMustBelongToTheInitiatorNamedInTheTicket) {
  FakePolicyStore::Rules r;
  r.mode3_allowed = true;
  policy_.SetRules(alice_id_, r);
  // Alice's key, but the ticket claims carol created it.
  const mikey::Ticket t = InitiatorTicket(carol_.identity, "alice-mode3");
  ExpectError(Resolve(bob_, t, kT0 + kSecond, 22), mikey::ErrorNo::kAuthFailure);
  EXPECT_EQ(LastRule(), "mode3.key_not_initiators");
  // A UE PSK is not a mode-3 key.
  const mikey::Ticket t2 = InitiatorTicket(alice_.identity, alice_.btid);
  ExpectError(Resolve(bob_, t2, kT0 + kSecond, 23), mikey::ErrorNo::kAuthFailure);
  EXPECT_EQ(LastRule(), "mode3.credential");
}

}  // namespace
}  // namespace kms::core::testing

namespace kms::core::testing {
namespace {

// A forking ticket carrying a TGK and a GTGK, reusable (J), with a rekey interval (TRr):
// the resolver gets TGK' (forked) but the GTGK unforked (RFC 6043 §4.2.3.4: TEKs and GTGKs
// are never forked); J and TRr are granted as asked.
TEST_F(ResolveTest, GtgkIsNeverForkedAndReuseAndRekeyIntervalAreGranted) {
  mikey::TicketPolicy tp = DefaultPolicy({bob_.identity}, kT0, 3600, /*forking=*/true);
  tp.flags.j = true;
  tp.tp_data.insert(tp.tp_data.begin() + 1,
                    mikey::TimestampR{mikey::TsRole::kRekeyingInterval, mikey::TsType::kNtpUtc32, 600});
  // Desired keys: a TGK and a GTGK.
  std::vector<mikey::KeyData> want;
  for (auto type : {mikey::KeyDataType::kTgk, mikey::KeyDataType::kGtgk}) {
    mikey::KeyData k;
    k.type = type;
    k.key = SecretBytes(16);
    k.spi = {0, 0, 0, 0};
    want.push_back(std::move(k));
  }
  auto plain = mikey::EncodeKeyDataChain(want);
  for (auto& p : tp.tp_data) {
    if (auto* kemac = std::get_if<mikey::Kemac>(&p)) {
      kemac->encr_data.assign(plain->Reveal().begin(), plain->Reveal().end());
    }
  }
  clock_.Push(Ntp(kT0));
  InitParams p;
  p.t_ntp = kT0;
  auto req = BuildRequestInit(alice_, p, tp);
  ASSERT_TRUE(req.ok());
  auto granted = Send(*req);
  ASSERT_FALSE(granted->is_error) << LastRule();
  auto alice_keys = OpenResponse(granted->body, *req, alice_);
  ASSERT_TRUE(alice_keys.ok());
  ASSERT_EQ(alice_keys->size(), 4u);  // MPKi, MPKr, TGK, GTGK
  const mikey::Ticket ticket = *mikey::Decode(granted->body)->FindTicket();
  EXPECT_TRUE(ticket.policy.flags.j);
  ASSERT_NE(ticket.policy.FindTr(mikey::TsRole::kRekeyingInterval), nullptr);
  EXPECT_EQ(ticket.policy.FindTr(mikey::TsRole::kRekeyingInterval)->value, 600u);

  // Bob resolves it with a hand-made Initiator Data (Vr keyed from MPKr, RFC 6043 §6.10).
  mikey::Ticket with_id = ticket;
  auto mpkr = crypto::SoftwareInKey::Create((*alice_keys)[1].key);
  auto vr_key = crypto::DeriveVrAuthKey(crypto::PrfFunc::kMikey1, mpkr->blocks(),
                                        crypto::MacAlgorithm::kHmacSha1_160);
  mikey::InitiatorData id;
  id.vi = mikey::Verification{mikey::MacAlg::kHmacSha1_160, mikey::Bytes(20, 0x77)};
  id.vr = mikey::Verification{mikey::MacAlg::kHmacSha1_160, mikey::Bytes(20, 0)};
  auto id_bytes = mikey::EncodeInitiatorData(id);
  ASSERT_TRUE(id_bytes.ok());
  const std::vector<uint8_t> vr_input(id_bytes->begin(), id_bytes->end() - 20);
  auto vr_mac = crypto::ComputeMac(crypto::MacAlgorithm::kHmacSha1_160, *vr_key, vr_input);
  std::copy(vr_mac->begin(), vr_mac->end(), id_bytes->end() - 20);
  with_id.initiator_data = *id_bytes;
  std::vector<uint8_t> rreq;
  auto resolved = Resolve(bob_, with_id, kT0 + kSecond, 30, &rreq);
  ASSERT_FALSE(resolved->is_error) << LastRule();
  auto bob_keys = OpenResponse(resolved->body, rreq, bob_);
  ASSERT_TRUE(bob_keys.ok());
  ASSERT_EQ(bob_keys->size(), 4u);  // MPKi, MPKr', TGK', GTGK
  EXPECT_FALSE((*bob_keys)[2].key.ConstantTimeEqual((*alice_keys)[2].key));  // TGK forked
  EXPECT_EQ((*bob_keys)[3].type, mikey::KeyDataType::kGtgk);
  EXPECT_TRUE((*bob_keys)[3].key.ConstantTimeEqual((*alice_keys)[3].key));  // GTGK not forked
}

}  // namespace
}  // namespace kms::core::testing
