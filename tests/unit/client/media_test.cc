// Real media (issue 8 §3): SRTP over loopback UDP with keys from the A-side and B-side
// derivations of the vector flow; a forked sibling's keys fail SRTP authentication.
#include <gtest/gtest.h>
#include <srtp2/srtp.h>

#include "src/client/srtp_session.h"
#include "src/client/udp_socket.h"
#include "src/crypto/key_derivation.h"
#include "src/crypto/openssl_key_ops.h"
#include "tests/unit/client/client_test_util.h"
#include "tests/unit/client/vector_call.h"

namespace kms::client {
namespace {

std::vector<uint8_t> Payload(int i) {
  const std::string s = "voice frame " + std::to_string(i);
  return {s.begin(), s.end()};
}

TEST(MediaTest, SrtpOverLoopbackUdpBothDirections) {
  const testing::VectorCall call = testing::RunVectorCall();
  auto a_sock = UdpSocket::BindLoopback();
  auto b_sock = UdpSocket::BindLoopback();
  ASSERT_TRUE(a_sock.ok() && b_sock.ok());
  // CS 1: A -> B; CS 2: B -> A (RFC 4567 §7.1 numbering).
  auto a_tx = SrtpSession::Create(*FindSession(call.a, 1), SrtpDirection::kSend);
  auto b_rx = SrtpSession::Create(*FindSession(call.b, 1), SrtpDirection::kReceive);
  auto b_tx = SrtpSession::Create(*FindSession(call.b, 2), SrtpDirection::kSend);
  auto a_rx = SrtpSession::Create(*FindSession(call.a, 2), SrtpDirection::kReceive);
  ASSERT_TRUE(a_tx.ok() && b_rx.ok() && b_tx.ok() && a_rx.ok());
  for (int i = 0; i < 10; ++i) {
    const auto rtp = MakeRtpPacket(0, static_cast<uint16_t>(i), static_cast<uint32_t>(160 * i),
                                   0xaaaa0001, Payload(i));
    auto srtp = (*a_tx)->Protect(rtp);
    ASSERT_TRUE(srtp.ok());
    EXPECT_EQ(srtp->size(), rtp.size() + 10);  // 80-bit tag
    EXPECT_NE(
        std::vector<uint8_t>(srtp->begin() + 12, srtp->begin() + static_cast<long>(rtp.size())),
        std::vector<uint8_t>(rtp.begin() + 12, rtp.end()));  // payload encrypted
    ASSERT_TRUE((*a_sock)->SendTo((*b_sock)->port(), *srtp).ok());
    auto got = (*b_sock)->Receive(std::chrono::seconds(2));
    ASSERT_TRUE(got.ok());
    auto plain = (*b_rx)->Unprotect(*got);
    ASSERT_TRUE(plain.ok()) << plain.status().ToString();
    EXPECT_EQ(*plain, rtp);

    const auto back = MakeRtpPacket(0, static_cast<uint16_t>(i), 0, 0xbbbb0002, Payload(100 + i));
    auto sback = (*b_tx)->Protect(back);
    ASSERT_TRUE(sback.ok());
    ASSERT_TRUE((*b_sock)->SendTo((*a_sock)->port(), *sback).ok());
    auto got_back = (*a_sock)->Receive(std::chrono::seconds(2));
    ASSERT_TRUE(got_back.ok());
    auto pback = (*a_rx)->Unprotect(*got_back);
    ASSERT_TRUE(pback.ok());
    EXPECT_EQ(*pback, back);
  }
}

TEST(MediaTest, ForkedSiblingCannotDecrypt) {
  const testing::VectorCall call = testing::RunVectorCall();
  // A sibling device of Bob resolved the same ticket: the KMS forked the TGK with another
  // RANDRkms, and the sibling drew its own RANDRr (spec §5.7).
  const mikey::KeyData& tgk = call.ticket->session_keys.front();
  auto in = crypto::SoftwareInKey::Create(tgk.key);
  ASSERT_TRUE(in.ok());
  const std::vector<uint8_t> other_rand_kms(16, 0x42);
  auto sibling_tgk = crypto::ForkKey(crypto::PrfFunc::kMikey1, crypto::ForkedKey::kTgk,
                                     in->blocks(), testing::Vec(2, "IDr"), other_rand_kms);
  ASSERT_TRUE(sibling_tgk.ok());
  // The answering device's TGK' (from the same derivation with its real RANDRkms) differs.
  auto sib_in = crypto::SoftwareInKey::Create(*sibling_tgk);
  ASSERT_TRUE(sib_in.ok());
  const std::vector<uint8_t> rand_ri = call.a.csb.rand_ri;
  const std::vector<uint8_t> sibling_rr(16, 0x17);
  auto sib = crypto::DeriveTekFromTgk(crypto::PrfFunc::kMikey1, sib_in->blocks(), 1, rand_ri,
                                      sibling_rr, 16, 14);
  ASSERT_TRUE(sib.ok());
  CryptoSessionKeys sib_keys;
  sib_keys.cs_id = 1;
  sib_keys.ssrc = 0xaaaa0001;
  sib_keys.master_key = std::move(sib->master_key);
  sib_keys.master_salt = std::move(sib->master_salt);
  EXPECT_FALSE(sib_keys.master_key.ConstantTimeEqual(FindSession(call.b, 1)->master_key));

  auto a_tx = SrtpSession::Create(*FindSession(call.a, 1), SrtpDirection::kSend);
  auto sib_rx = SrtpSession::Create(sib_keys, SrtpDirection::kReceive);
  auto b_rx = SrtpSession::Create(*FindSession(call.b, 1), SrtpDirection::kReceive);
  auto a_sock = UdpSocket::BindLoopback();
  auto s_sock = UdpSocket::BindLoopback();
  ASSERT_TRUE(a_tx.ok() && sib_rx.ok() && b_rx.ok() && a_sock.ok() && s_sock.ok());
  const auto rtp = MakeRtpPacket(0, 7, 1120, 0xaaaa0001, Payload(7));
  auto srtp = (*a_tx)->Protect(rtp);
  ASSERT_TRUE(srtp.ok());
  ASSERT_TRUE((*a_sock)->SendTo((*s_sock)->port(), *srtp).ok());
  auto got = (*s_sock)->Receive(std::chrono::seconds(2));
  ASSERT_TRUE(got.ok());
  auto r = (*sib_rx)->Unprotect(*got);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kAuthFailed);
  EXPECT_EQ(r.status().detail(),
            std::optional<uint8_t>(static_cast<uint8_t>(srtp_err_status_auth_fail)));
  // The answering device decrypts the same datagram.
  EXPECT_TRUE((*b_rx)->Unprotect(*got).ok());
}

TEST(MediaTest, SrtpSessionRejectsMisuse) {
  CryptoSessionKeys k;
  k.master_key = SecretBytes(15);
  k.master_salt = SecretBytes(14);
  EXPECT_EQ(SrtpSession::Create(k, SrtpDirection::kSend).status().code(),
            StatusCode::kInvalidArgument);
  k.master_key = SecretBytes(16);
  auto tx = SrtpSession::Create(k, SrtpDirection::kSend);
  ASSERT_TRUE(tx.ok());
  EXPECT_FALSE((*tx)->Unprotect(std::vector<uint8_t>(40, 0)).ok());
  EXPECT_FALSE((*tx)->Protect(std::vector<uint8_t>(5, 0)).ok());
}

}  // namespace
}  // namespace kms::client
