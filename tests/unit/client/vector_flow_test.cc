// The UE library reproduces the shared vectors byte for byte on both sides (sections 3, 5,
// 6, 7, 8, 9, 10) and accepts the section-12 alternative-IV responses (spec §11 A3).
#include <gtest/gtest.h>

#include "src/base/encoding.h"
#include "src/mikey/decoder.h"
#include "src/mikey/key_data.h"
#include "tests/unit/client/client_test_util.h"

namespace kms::client {
namespace {

using testing::At;
using testing::CsbOf;
using testing::RandOf;
using testing::ScriptedRandom;
using testing::Text;
using testing::Vec;

std::string Hex(const SecretBytes& s) { return HexEncode(s.Reveal()); }
std::string Hex(const std::vector<uint8_t>& s) { return HexEncode(s); }

class VectorFlowTest : public ::testing::Test {
 protected:
  ScriptedRandom rng_;
  FakeClock clock_{At(0, true)};
  Env env_{rng_, clock_};
  Credentials a_ = testing::CredsA();
  Credentials b_ = testing::CredsB();

  Result<PendingRequest> Request() {
    const auto req = Vec(3, "REQUEST_INIT_PSK");
    rng_.PushU32(CsbOf(req));
    rng_.Push(RandOf(req, mikey::RandRole::kInitiator));
    clock_.Set(At(0, true));
    return BuildRequestInit(a_, testing::VectorRequestOptions(), env_);
  }

  Result<std::shared_ptr<const InitiatorTicket>> Ticket(std::span<const uint8_t> resp) {
    KMS_ASSIGN_OR_RETURN(PendingRequest req, Request());
    KMS_ASSIGN_OR_RETURN(InitiatorTicket t, ProcessRequestResp(resp, req, a_, At(1)));
    return std::make_shared<const InitiatorTicket>(std::move(t));
  }

  Result<PendingTransfer> Transfer(std::shared_ptr<const InitiatorTicket> t) {
    const auto ti = Vec(6, "TRANSFER_INIT");
    rng_.PushU32(CsbOf(ti));
    rng_.Push(RandOf(ti, mikey::RandRole::kInitiator));
    rng_.PushU32(0xaaaa0001);
    clock_.Set(At(2));
    TransferInitOptions o;
    o.responder = Text(2, "IDr");
    return BuildTransferInit(std::move(t), a_.identity, o, env_);
  }

  ResponderPolicy BPolicy() { return ResponderPolicy{{Text(2, "IDr")}, std::chrono::seconds(300)}; }

  Result<PendingResolve> Resolve(const ReceivedTransferInit& rti) {
    const auto ri = Vec(7, "RESOLVE_INIT_PSK");
    rng_.PushU32(CsbOf(ri));
    rng_.Push(RandOf(ri, mikey::RandRole::kResponder));
    clock_.Set(At(3));
    return BuildResolveInit(rti, b_, "https://kms.example.org", Suite{}, env_);
  }
};

TEST_F(VectorFlowTest, RequestInitMatchesSection3) {
  auto req = Request();
  ASSERT_TRUE(req.ok()) << req.status().ToString();
  EXPECT_EQ(Hex(req->wire), Hex(Vec(3, "REQUEST_INIT_PSK")));
  EXPECT_TRUE(rng_.empty());
}

TEST_F(VectorFlowTest, FullFlowBothSides) {
  // Section 5: the UE accepts REQUEST_RESP and gets MPKi, MPKr and the TGK.
  auto ticket = Ticket(Vec(5, "REQUEST_RESP"));
  ASSERT_TRUE(ticket.ok()) << ticket.status().ToString();
  EXPECT_EQ(Hex((*ticket)->mpki),
            Hex(Vec(4, "MPKi = PRF(MPK, 220E99A2||FF||FFFFFFFF||06||len||RAND)")));
  ASSERT_TRUE((*ticket)->mpkr.has_value());
  EXPECT_EQ(Hex(*(*ticket)->mpkr),
            Hex(Vec(4, "MPKr = PRF(MPK, 1F4D675B||FF||FFFFFFFF||06||len||RAND)")));
  ASSERT_EQ((*ticket)->session_keys.size(), 1u);
  EXPECT_EQ((*ticket)->session_keys[0].type, mikey::KeyDataType::kTgk);

  // Section 6: TRANSFER_INIT byte for byte (no SDP IDs extension in the vectors).
  auto pt = Transfer(*ticket);
  ASSERT_TRUE(pt.ok()) << pt.status().ToString();
  EXPECT_EQ(Hex(pt->wire), Hex(Vec(6, "TRANSFER_INIT")));

  // Section 7: the responder early-checks and resolves.
  auto rti = ReceiveTransferInit(pt->wire, BPolicy(), At(2));
  ASSERT_TRUE(rti.ok()) << rti.status().ToString();
  auto pr = Resolve(*rti);
  ASSERT_TRUE(pr.ok()) << pr.status().ToString();
  EXPECT_EQ(Hex(pr->wire), Hex(Vec(7, "RESOLVE_INIT_PSK")));

  // Section 8: RESOLVE_RESP gives MPKr' and TGK'.
  auto resolved = ProcessResolveResp(Vec(8, "RESOLVE_RESP"), *pr, b_);
  ASSERT_TRUE(resolved.ok()) << resolved.status().ToString();
  ASSERT_TRUE(resolved->mpkr_prime.has_value());
  EXPECT_EQ(Hex(*resolved->mpkr_prime), Hex(Vec(8, "MPKr'")));
  ASSERT_EQ(resolved->session_keys.size(), 1u);
  EXPECT_EQ(Hex(resolved->session_keys[0].key), Hex(Vec(8, "TGK'")));

  auto session = AuthenticateTransferInit(std::move(*rti), std::move(*resolved));
  ASSERT_TRUE(session.ok()) << session.status().ToString();
  EXPECT_EQ(session->identity_i, Text(2, "IDi"));

  // Section 9: TRANSFER_RESP byte for byte.
  const auto tr_vec = Vec(9, "TRANSFER_RESP");
  rng_.Push(RandOf(tr_vec, mikey::RandRole::kResponder));
  rng_.PushU32(0xbbbb0002);
  clock_.Set(At(5));
  TransferRespOptions ro;
  ro.identity = b_.identity;
  auto tr = BuildTransferResp(*session, ro, env_);
  ASSERT_TRUE(tr.ok()) << tr.status().ToString();
  EXPECT_EQ(Hex(tr->wire), Hex(tr_vec));

  // Section 10: both sides derive the same SRTP master keys and salts.
  auto a_keys = ProcessTransferResp(tr->wire, *pt, At(5));
  ASSERT_TRUE(a_keys.ok()) << a_keys.status().ToString();
  EXPECT_EQ(a_keys->peer_identity, Text(2, "IDr"));
  for (const CallKeys* k : {&*a_keys, &tr->keys}) {
    ASSERT_EQ(k->sessions.size(), 2u);
    const CryptoSessionKeys* cs1 = FindSession(*k, 1);
    const CryptoSessionKeys* cs2 = FindSession(*k, 2);
    ASSERT_NE(cs1, nullptr);
    ASSERT_NE(cs2, nullptr);
    EXPECT_EQ(Hex(cs1->master_key), Hex(Vec(10, "CS 1 SRTP master key")));
    EXPECT_EQ(Hex(cs1->master_salt), Hex(Vec(10, "CS 1 SRTP master salt")));
    EXPECT_EQ(Hex(cs2->master_key), Hex(Vec(10, "CS 2 SRTP master key")));
    EXPECT_EQ(Hex(cs2->master_salt), Hex(Vec(10, "CS 2 SRTP master salt")));
    EXPECT_EQ(cs1->ssrc, 0xaaaa0001u);
    EXPECT_EQ(cs2->ssrc, 0xbbbb0002u);
    EXPECT_EQ(HexEncode(cs1->mki), "00000001");
  }
  EXPECT_TRUE(rng_.empty());
}

// Patches a KEMAC ciphertext and the V MAC of a vector response (same lengths).
std::vector<uint8_t> Patch(std::vector<uint8_t> msg, const std::vector<uint8_t>& ct,
                           const std::vector<uint8_t>& mac) {
  auto m = mikey::Decode(msg);
  KMS_CHECK(m.ok());
  const mikey::Kemac* k = m->FindKemac();
  KMS_CHECK(k != nullptr && k->encr_data.size() == ct.size());
  // The KEMAC encrypted data begins 4 bytes after the KEMAC payload start.
  for (size_t i = 0; i < m->payloads.size(); ++i) {
    if (std::holds_alternative<mikey::Kemac>(m->payloads[i])) {
      std::copy(ct.begin(), ct.end(),
                msg.begin() + static_cast<long>(m->layout.payloads[i].range.offset + 4));
    }
  }
  std::copy(mac.begin(), mac.end(), msg.begin() + static_cast<long>(m->layout.v_mac->offset));
  return msg;
}

TEST_F(VectorFlowTest, AcceptsAlternativeIvRequestResp) {
  const auto resp =
      Patch(Vec(5, "REQUEST_RESP"), Vec(12, "REQUEST_RESP KEMAC ciphertext, alternative"),
            Vec(12, "REQUEST_RESP V MAC, alternative"));
  auto ticket = Ticket(resp);
  ASSERT_TRUE(ticket.ok()) << ticket.status().ToString();
  EXPECT_EQ(Hex((*ticket)->mpki),
            Hex(Vec(4, "MPKi = PRF(MPK, 220E99A2||FF||FFFFFFFF||06||len||RAND)")));
  EXPECT_EQ(Hex((*ticket)->session_keys[0].key), "f6b7c3ecf1d05d8ac6baf0003dd9c9db");
}

TEST_F(VectorFlowTest, AcceptsAlternativeIvResolveResp) {
  auto rti = ReceiveTransferInit(Vec(6, "TRANSFER_INIT"), BPolicy(), At(2));
  ASSERT_TRUE(rti.ok()) << rti.status().ToString();
  auto pr = Resolve(*rti);
  ASSERT_TRUE(pr.ok());
  const auto resp =
      Patch(Vec(8, "RESOLVE_RESP"), Vec(12, "RESOLVE_RESP KEMAC ciphertext, alternative"),
            Vec(12, "RESOLVE_RESP V MAC, alternative"));
  auto resolved = ProcessResolveResp(resp, *pr, b_);
  ASSERT_TRUE(resolved.ok()) << resolved.status().ToString();
  EXPECT_EQ(Hex(resolved->session_keys[0].key), Hex(Vec(8, "TGK'")));
}

}  // namespace
}  // namespace kms::client
