// Known-answer tests from tests/vectors/mikey-ticket-mode1-fork.txt (spec §10.2), produced by
// an implementation independent of this code. Fixed inputs (RANDs, T, CSB IDs, identities)
// are taken from the messages via their layout lines; every label, key, IV, ciphertext and
// MAC of the file that kms::crypto computes is rebuilt and compared. The last test checks
// that no entry of the file goes unchecked.
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "src/crypto/kemac_cipher.h"
#include "src/crypto/key_derivation.h"
#include "src/crypto/labels.h"
#include "src/crypto/mac.h"
#include "src/crypto/openssl_key_ops.h"
#include "src/crypto/prf.h"
#include "tests/testing/vector_file.h"
#include "tests/unit/crypto/test_util.h"
#include "tests/unit/crypto/vector_messages.h"

namespace kms::crypto {
namespace {

using testing::VectorFile;
using namespace test;  // NOLINT(google-build-using-namespace): test helpers

constexpr char kFile[] = "mikey-ticket-mode1-fork.txt";

std::optional<VectorFile> Load() {
  auto r = VectorFile::Load(testing::VectorPath(kFile));
  if (!r.ok()) {
    ADD_FAILURE() << r.status().ToString();
    return std::nullopt;
  }
  return std::move(r).value();
}

std::vector<uint8_t> B(const VectorFile& vf, int section, std::string_view name) {
  auto r = vf.Bytes(section, name);
  if (!r.ok()) {
    ADD_FAILURE() << r.status().ToString();
    return {};
  }
  return std::move(r).value();
}
SecretBytes SB(const VectorFile& vf, int section, std::string_view name) {
  return SecretBytes::CopyFrom(B(vf, section, name));
}
std::vector<PayloadPos> Layout(const VectorFile& vf, int section,
                               std::string_view name = "layout") {
  auto r = vf.Text(section, name);
  if (!r.ok()) {
    ADD_FAILURE() << r.status().ToString();
    return {};
  }
  return ParseLayout(*r);
}
SoftwareInKey InKey(const SecretBytes& k) {
  auto r = SoftwareInKey::Create(k);
  KMS_CHECK(r.ok());
  return std::move(r).value();
}
PrfFunc HdrPrf(std::span<const uint8_t> msg) {  // HDR byte 3: V(1) | PRF func(7)
  auto r = PrfFuncFromCode(static_cast<uint8_t>(Sub(msg, 3, 1).empty() ? 0xFF : msg[3] & 0x7F));
  EXPECT_TRUE(r.ok());
  return r.ok() ? *r : PrfFunc::kMikey1;
}
uint32_t HdrCsbId(std::span<const uint8_t> msg) { return U32At(msg, 4); }
MacAlgorithm VAlg(std::span<const uint8_t> v_payload) {
  auto r = MacAlgorithmFromCode(Sub(v_payload, 1, 1).empty() ? 0xFF : v_payload[1]);
  EXPECT_TRUE(r.ok());
  return r.ok() ? *r : MacAlgorithm::kNull;
}
EncrAlgorithm KemacAlg(const KemacView& k) {
  auto r = EncrAlgorithmFromCode(k.encr_alg);
  EXPECT_TRUE(r.ok());
  return r.ok() ? *r : EncrAlgorithm::kNull;
}
std::span<const uint8_t> WithoutMac(std::span<const uint8_t> msg, size_t mac_len) {
  return Sub(msg, 0, msg.size() - mac_len);
}
std::span<const uint8_t> MacOf(std::span<const uint8_t> msg, size_t mac_len) {
  return Sub(msg, msg.size() - mac_len, mac_len);
}

// Fixed inputs picked from the messages.
std::vector<uint8_t> RequestInitRandRi(const VectorFile& vf) {
  const auto msg = B(vf, 3, "REQUEST_INIT_PSK");
  return RandrValue(PayloadBytes(msg, Nth(Layout(vf, 3), "RANDR")), 1);
}
std::vector<uint8_t> TransferInitRandRi(const VectorFile& vf) {
  const auto msg = B(vf, 6, "TRANSFER_INIT");
  return RandrValue(PayloadBytes(msg, Nth(Layout(vf, 6), "RANDR")), 1);
}
std::vector<uint8_t> ResolveInitRandRr(const VectorFile& vf) {
  const auto msg = B(vf, 7, "RESOLVE_INIT_PSK");
  return RandrValue(PayloadBytes(msg, Nth(Layout(vf, 7), "RANDR")), 2);
}
std::vector<uint8_t> TransferRespRandRr(const VectorFile& vf) {
  const auto msg = B(vf, 9, "TRANSFER_RESP");
  return RandrValue(PayloadBytes(msg, Nth(Layout(vf, 9), "RANDR", 0)), 2);
}
PrfFunc TicketPrf(const VectorFile& vf) {
  const auto msg = B(vf, 5, "REQUEST_RESP");
  const TicketView tv = ParseTicket(PayloadBytes(msg, Nth(Layout(vf, 5), "TICKET")));
  auto r = PrfFuncFromCode(tv.tp_prf);
  EXPECT_TRUE(r.ok());
  return r.ok() ? *r : PrfFunc::kMikey1;
}
std::vector<uint8_t> TicketTgk(const VectorFile& vf) {
  uint8_t type = 0xFF;
  auto tgk = KeyDataValue(B(vf, 4, "ticket KEMAC plaintext"), 1, &type);
  EXPECT_EQ(type, 0) << "second key of the ticket must be a TGK";
  return tgk;
}
constexpr char kMpki[] = "MPKi = PRF(MPK, 220E99A2||FF||FFFFFFFF||06||len||RAND)";
constexpr char kMpkr[] = "MPKr = PRF(MPK, 1F4D675B||FF||FFFFFFFF||06||len||RAND)";

// ---- Section 1 -------------------------------------------------------------------------
void CheckPrf(const VectorFile& vf) {
  const auto label = B(vf, 1, "label");
  struct Case {
    const char* name;
    PrfFunc f;
    const char* inkey;
    size_t bits;
  };
  for (const Case& c :
       {Case{"PRF MIKEY-1(inkey16,label,160)", PrfFunc::kMikey1, "inkey16", 160},
        Case{"PRF MIKEY-1(inkey16,label,336)", PrfFunc::kMikey1, "inkey16", 336},
        Case{"PRF MIKEY-1(inkey40,label,128)", PrfFunc::kMikey1, "inkey40", 128},
        Case{"PRF HMAC-SHA-256(inkey32,label,256)", PrfFunc::kHmacSha256, "inkey32", 256},
        Case{"PRF HMAC-SHA-256(inkey32,label,512)", PrfFunc::kHmacSha256, "inkey32", 512}}) {
    auto got = PrfDerive(c.f, SB(vf, 1, c.inkey), label, c.bits / 8);
    ASSERT_TRUE(got.ok()) << c.name;
    EXPECT_EQ(Hex(*got), Hex(B(vf, 1, c.name))) << c.name;
  }
}

// ---- Sections 2 and 3: REQUEST_INIT_PSK ------------------------------------------------
void CheckRequestInit(const VectorFile& vf) {
  const auto msg = B(vf, 3, "REQUEST_INIT_PSK");
  const auto layout = Layout(vf, 3);
  const auto ri = RequestInitRandRi(vf);
  EXPECT_EQ(ri.size(), 32U);  // spec §4.4: RANDRi ≥ 32 bytes with a 256-bit PSK
  // RFC 6043 §5.1.2, Ticket Request: RANDRi only.
  auto label = MessageKeyLabel(kLabelAuth, HdrCsbId(msg), MessageRole::kInitial, ri, {});
  ASSERT_TRUE(label.ok());
  EXPECT_EQ(Hex(*label), Hex(B(vf, 3, "auth_key label")));
  // The PSK is named by IDRpsk (B-TID).
  EXPECT_EQ(Hex(IdrData(PayloadBytes(msg, Nth(layout, "IDR", 2)), 4)), Hex(B(vf, 2, "B-TID(A)")));
  const SoftwareInKey psk = InKey(SB(vf, 2, "PSK_A"));
  const auto v = PayloadBytes(msg, Nth(layout, "V"));
  auto auth = DeriveMessageAuthKey(HdrPrf(msg), psk.blocks(),
                                   {HdrCsbId(msg), MessageRole::kInitial, ri, {}}, VAlg(v));
  ASSERT_TRUE(auth.ok());
  EXPECT_EQ(Hex(*auth), Hex(B(vf, 3, "auth_key")));
  // RFC 6043 §5.5: MAC over msg || Identity_i || Identity_kms.
  const auto covered = Concat({WithoutMac(msg, 20), B(vf, 2, "IDi"), B(vf, 2, "IDkms")});
  EXPECT_EQ(Hex(covered), Hex(B(vf, 3, "MAC input = msg-without-MAC || IDi || IDkms")));
  const auto mac = B(vf, 3, "MAC");
  EXPECT_EQ(Hex(MacOf(msg, 20)), Hex(mac));
  EXPECT_TRUE(VerifyMac(VAlg(v), *auth, covered, mac).ok());
  auto computed = ComputeMac(VAlg(v), *auth, covered);
  ASSERT_TRUE(computed.ok());
  EXPECT_EQ(Hex(*computed), Hex(mac));
  // Without the identities the MAC must not verify.
  EXPECT_EQ(VerifyMac(VAlg(v), *auth, WithoutMac(msg, 20), mac).code(), StatusCode::kAuthFailed);
}

// ---- Section 4: the base ticket ----------------------------------------------------------
void CheckTicket(const VectorFile& vf) {
  const auto resp = B(vf, 5, "REQUEST_RESP");
  const auto ticket = PayloadBytes(resp, Nth(Layout(vf, 5), "TICKET"));
  const TicketView tv = ParseTicket(ticket);
  const auto td = Sub(ticket, tv.ticket_data_off, tv.ticket_data_len);
  const TicketDataView tdv = ParseTicketData(td);
  // The generator's layouts agree with this walk (types, lengths, spacing).
  const auto td_layout = Layout(vf, 4, "Ticket Data layout (after THDR)");
  ASSERT_EQ(td_layout.size(), tdv.walked.size());
  for (size_t i = 0; i < td_layout.size(); ++i) {
    EXPECT_EQ(td_layout[i].type, tdv.walked[i].type);
    EXPECT_EQ(td_layout[i].len, tdv.walked[i].len);
    EXPECT_EQ(td_layout[i].off - td_layout[0].off, tdv.walked[i].off - tdv.walked[0].off);
  }
  const auto tp_layout = Layout(vf, 4, "granted TP Data layout");
  ASSERT_FALSE(tp_layout.empty());
  EXPECT_EQ(tp_layout.back().off + tp_layout.back().len, U16At(ticket, 8));
  EXPECT_EQ(Hex(tdv.idr_psk), Hex(B(vf, 2, "TPK id")));

  const PrfFunc tp_prf = TicketPrf(vf);
  const EncrAlgorithm encr = KemacAlg(tdv.kemac);
  const MacAlgorithm mac_alg = VAlg(Sub(td, tdv.walked.back().off, 22));
  const SoftwareInKey tpk = InKey(SB(vf, 2, "TPK"));
  // RFC 6043 App. A.2.1: label 0x05 with the Ticket Data RAND.
  auto keys = DeriveTicketKeys(tp_prf, tpk.blocks(), tdv.rand, encr, mac_alg);
  ASSERT_TRUE(keys.ok()) << keys.status().ToString();
  EXPECT_EQ(Hex(keys->encr_key), Hex(B(vf, 4, "TPK encr_key")));
  EXPECT_EQ(Hex(keys->salt_key), Hex(B(vf, 4, "TPK salt_key")));
  EXPECT_EQ(Hex(keys->auth_key), Hex(B(vf, 4, "TPK auth_key")));
  auto auth_only = DeriveTicketAuthKey(tp_prf, tpk.blocks(), tdv.rand, mac_alg);
  ASSERT_TRUE(auth_only.ok());
  EXPECT_TRUE(auth_only->ConstantTimeEqual(keys->auth_key));

  // RFC 6043 App. A.1: IV with CSB ID 0xFFFFFFFF and the Ticket Data T.
  auto iv = KemacIv(keys->salt_key, kTicketKemacCsbId, tdv.t64);
  ASSERT_TRUE(iv.ok());
  EXPECT_EQ(Hex(*iv), Hex(B(vf, 4, "ticket KEMAC IV (CSB ID=0xFFFFFFFF, T from Ticket Data)")));
  const auto pt = B(vf, 4, "ticket KEMAC plaintext");
  auto ct = KemacEncrypt(encr, keys->encr_key, keys->salt_key, kTicketKemacCsbId, tdv.t64, pt);
  ASSERT_TRUE(ct.ok());
  EXPECT_EQ(Hex(*ct), Hex(tdv.kemac.encr_data));
  auto dec = KemacDecrypt(encr, keys->encr_key, keys->salt_key, kTicketKemacCsbId, tdv.t64,
                          tdv.kemac.encr_data);
  ASSERT_TRUE(dec.ok());
  EXPECT_EQ(Hex(*dec), Hex(pt));

  // Ticket MAC: TICKET minus Next Payload, minus Initiator Data length/data, minus MAC.
  const auto mac_input = Sub(ticket, 1, tv.init_data_len_off - 1 - 20);
  EXPECT_EQ(Hex(mac_input),
            Hex(B(vf, 4,
                  "ticket MAC input (TICKET minus Next Payload, minus Initiator Data len/data, "
                  "minus MAC)")));
  EXPECT_EQ(Hex(tdv.mac), Hex(B(vf, 4, "ticket MAC")));
  EXPECT_TRUE(VerifyMac(mac_alg, keys->auth_key, mac_input, tdv.mac).ok());

  // RFC 6043 App. A.2.2: MPKi / MPKr from the MPK carried first in the ticket KEMAC.
  uint8_t type = 0xFF;
  const auto mpk_bytes = KeyDataValue(pt, 0, &type);
  EXPECT_EQ(type, 6);
  EXPECT_EQ(Hex(mpk_bytes), Hex(B(vf, 4, "MPK")));
  const SoftwareInKey mpk = InKey(SecretBytes::CopyFrom(mpk_bytes));
  auto pair = DeriveMpkPair(tp_prf, mpk.blocks(), tdv.rand);
  ASSERT_TRUE(pair.ok());
  EXPECT_EQ(Hex(pair->mpki), Hex(B(vf, 4, kMpki)));
  EXPECT_EQ(Hex(pair->mpkr), Hex(B(vf, 4, kMpkr)));
}

// ---- Section 5: REQUEST_RESP -------------------------------------------------------------
struct RespParts {
  std::vector<uint8_t> msg;
  std::vector<PayloadPos> layout;
  KemacView kemac;
  size_t kemac_off = 0;
  uint64_t t64 = 0;
  MacAlgorithm mac = MacAlgorithm::kNull;
};
RespParts Resp(const VectorFile& vf, int section, const char* name) {
  RespParts p;
  p.msg = B(vf, section, name);
  p.layout = Layout(vf, section);
  p.kemac_off = Nth(p.layout, "KEMAC").off;
  p.kemac = ParseKemac(PayloadBytes(p.msg, Nth(p.layout, "KEMAC")));
  p.t64 = TimestampNtp64(PayloadBytes(p.msg, Nth(p.layout, "T")));
  p.mac = VAlg(PayloadBytes(p.msg, Nth(p.layout, "V")));
  return p;
}

void CheckRequestResp(const VectorFile& vf) {
  const RespParts r = Resp(vf, 5, "REQUEST_RESP");
  const SoftwareInKey psk = InKey(SB(vf, 2, "PSK_A"));
  const EncrAlgorithm encr = KemacAlg(r.kemac);
  // RFC 6043 §5.1.2: response keys, label 0x02, REQUEST_INIT's RANDRi, no RANDRr.
  auto keys = DeriveMessageKeys(
      HdrPrf(r.msg), psk.blocks(),
      {HdrCsbId(r.msg), MessageRole::kResponse, RequestInitRandRi(vf), {}}, encr, r.mac);
  ASSERT_TRUE(keys.ok()) << keys.status().ToString();
  EXPECT_EQ(Hex(keys->encr_key), Hex(B(vf, 5, "encr_key (label ...02...)")));
  EXPECT_EQ(Hex(keys->salt_key), Hex(B(vf, 5, "salt_key")));
  EXPECT_EQ(Hex(keys->auth_key), Hex(B(vf, 5, "auth_key")));
  // Spec §11 A3: the IV uses REQUEST_RESP's own T.
  auto iv = KemacIv(keys->salt_key, HdrCsbId(r.msg), r.t64);
  ASSERT_TRUE(iv.ok());
  EXPECT_EQ(Hex(*iv), Hex(B(vf, 5, "KEMAC IV")));
  const auto pt = B(vf, 5, "KEMAC plaintext (MPKi, MPKr, TGK)");
  auto ct = KemacEncrypt(encr, keys->encr_key, keys->salt_key, HdrCsbId(r.msg), r.t64, pt);
  ASSERT_TRUE(ct.ok());
  EXPECT_EQ(Hex(*ct), Hex(r.kemac.encr_data));
  auto dec =
      KemacDecrypt(encr, keys->encr_key, keys->salt_key, HdrCsbId(r.msg), r.t64, r.kemac.encr_data);
  ASSERT_TRUE(dec.ok());
  EXPECT_EQ(Hex(*dec), Hex(pt));
  // Order: MPKi, MPKr, TGK (spec §4.11).
  EXPECT_EQ(Hex(KeyDataValue(pt, 0)), Hex(B(vf, 4, kMpki)));
  EXPECT_EQ(Hex(KeyDataValue(pt, 1)), Hex(B(vf, 4, kMpkr)));
  EXPECT_EQ(Hex(KeyDataValue(pt, 2)), Hex(TicketTgk(vf)));
  // RFC 6043 §5.5: MAC over REQUEST_RESP || REQUEST_INIT.
  const auto covered = Concat({WithoutMac(r.msg, 20), B(vf, 3, "REQUEST_INIT_PSK")});
  EXPECT_TRUE(VerifyMac(r.mac, keys->auth_key, covered, MacOf(r.msg, 20)).ok());
  EXPECT_EQ(VerifyMac(r.mac, keys->auth_key, WithoutMac(r.msg, 20), MacOf(r.msg, 20)).code(),
            StatusCode::kAuthFailed);
}

// ---- Section 6: TRANSFER_INIT, Initiator Data -------------------------------------------
void CheckTransferInit(const VectorFile& vf) {
  const auto msg = B(vf, 6, "TRANSFER_INIT");
  const auto layout = Layout(vf, 6);
  const MacAlgorithm mac_alg = VAlg(PayloadBytes(msg, Nth(layout, "V")));
  const SoftwareInKey mpki = InKey(SB(vf, 4, kMpki));
  // Spec §11 A23 / RFC 6043 §5.1.2: keys from MPKi, label 0x01, TRANSFER_INIT's RANDRi.
  auto auth = DeriveMessageAuthKey(
      HdrPrf(msg), mpki.blocks(),
      {HdrCsbId(msg), MessageRole::kInitial, TransferInitRandRi(vf), {}}, mac_alg);
  ASSERT_TRUE(auth.ok());
  EXPECT_EQ(Hex(*auth), Hex(B(vf, 6, "TRANSFER_INIT auth_key (from MPKi)")));

  const PayloadPos tpos = Nth(layout, "TICKET");
  const auto ticket = PayloadBytes(msg, tpos);
  const TicketView tv = ParseTicket(ticket);
  const auto init = Sub(ticket, tv.init_data_len_off + 2, tv.init_data_len);
  EXPECT_EQ(Hex(init), Hex(B(vf, 6, "Initiator Data")));
  // RFC 6043 §5.5: the MAC skips the Initiator Data length and data, then IDi || IDr.
  const size_t cut = tpos.off + tv.init_data_len_off;
  const auto without_mac = WithoutMac(msg, 20);
  const auto covered = Concat({Sub(msg, 0, cut), without_mac.subspan(cut + 2 + tv.init_data_len),
                               B(vf, 2, "IDi"), B(vf, 2, "IDr")});
  const auto mac = B(vf, 6, "TRANSFER_INIT MAC (also Vi)");
  EXPECT_EQ(Hex(MacOf(msg, 20)), Hex(mac));
  EXPECT_TRUE(VerifyMac(mac_alg, *auth, covered, mac).ok());

  // Initiator Data = first-payload byte, Vi, Vr (RFC 6043 §6.10).
  const auto ilayout = Layout(vf, 6, "Initiator Data layout");
  const PayloadPos vi = Nth(ilayout, "V", 0);
  const PayloadPos vr = Nth(ilayout, "V", 1);
  EXPECT_EQ(Hex(Sub(init, vi.off + 2, 20)), Hex(mac));
  const SoftwareInKey mpkr = InKey(SB(vf, 4, kMpkr));
  // Spec §11 A6: the Vr key uses the Ticket Policy PRF.
  auto vr_key = DeriveVrAuthKey(TicketPrf(vf), mpkr.blocks(), VAlg(Sub(init, vr.off, vr.len)));
  ASSERT_TRUE(vr_key.ok());
  EXPECT_EQ(Hex(*vr_key), Hex(B(vf, 6, "Vr auth_key = PRF(MPKr, 2D22AC75||FF||FFFFFFFF||04)")));
  const auto vr_covered = Sub(init, 0, vr.off + 2);
  const auto vr_mac = Sub(init, vr.off + 2, 20);
  EXPECT_TRUE(VerifyMac(MacAlgorithm::kHmacSha1_160, *vr_key, vr_covered, vr_mac).ok());
  // MPKi (known to every responder) must not produce a valid Vr.
  auto wrong = DeriveVrAuthKey(TicketPrf(vf), mpki.blocks(), MacAlgorithm::kHmacSha1_160);
  ASSERT_TRUE(wrong.ok());
  EXPECT_EQ(VerifyMac(MacAlgorithm::kHmacSha1_160, *wrong, vr_covered, vr_mac).code(),
            StatusCode::kAuthFailed);
}

// ---- Section 7: RESOLVE_INIT_PSK --------------------------------------------------------
void CheckResolveInit(const VectorFile& vf) {
  const auto msg = B(vf, 7, "RESOLVE_INIT_PSK");
  const auto layout = Layout(vf, 7);
  const auto rr = ResolveInitRandRr(vf);
  // RFC 6043 §5.1.2, Ticket Resolve: no RANDRi, RESOLVE_INIT's RANDRr.
  auto label = MessageKeyLabel(kLabelAuth, HdrCsbId(msg), MessageRole::kInitial, {}, rr);
  ASSERT_TRUE(label.ok());
  EXPECT_EQ(Hex(*label), Hex(B(vf, 7, "auth_key label")));
  EXPECT_EQ(Hex(IdrData(PayloadBytes(msg, Nth(layout, "IDR", 2)), 4)), Hex(B(vf, 2, "B-TID(B)")));
  const SoftwareInKey psk = InKey(SB(vf, 2, "PSK_B"));
  const MacAlgorithm mac_alg = VAlg(PayloadBytes(msg, Nth(layout, "V")));
  auto auth = DeriveMessageAuthKey(HdrPrf(msg), psk.blocks(),
                                   {HdrCsbId(msg), MessageRole::kInitial, {}, rr}, mac_alg);
  ASSERT_TRUE(auth.ok());
  EXPECT_EQ(Hex(*auth), Hex(B(vf, 7, "auth_key")));
  const auto covered = Concat({WithoutMac(msg, 20), B(vf, 2, "IDr"), B(vf, 2, "IDkms")});
  EXPECT_TRUE(VerifyMac(mac_alg, *auth, covered, MacOf(msg, 20)).ok());
  // PSK_A (the wrong user) does not verify.
  const SoftwareInKey other = InKey(SB(vf, 2, "PSK_A"));
  auto wrong = DeriveMessageAuthKey(HdrPrf(msg), other.blocks(),
                                    {HdrCsbId(msg), MessageRole::kInitial, {}, rr}, mac_alg);
  ASSERT_TRUE(wrong.ok());
  EXPECT_EQ(VerifyMac(mac_alg, *wrong, covered, MacOf(msg, 20)).code(), StatusCode::kAuthFailed);
}

// ---- Section 8: forking and RESOLVE_RESP -------------------------------------------------
Result<MessageKeys> ResolveRespKeys(const VectorFile& vf, const RespParts& r) {
  const SoftwareInKey psk = InKey(SB(vf, 2, "PSK_B"));
  return DeriveMessageKeys(HdrPrf(r.msg), psk.blocks(),
                           {HdrCsbId(r.msg), MessageRole::kResponse, {}, ResolveInitRandRr(vf)},
                           KemacAlg(r.kemac), r.mac);
}

void CheckResolveResp(const VectorFile& vf) {
  const RespParts r = Resp(vf, 8, "RESOLVE_RESP");
  const auto id_data = IdrData(PayloadBytes(r.msg, Nth(r.layout, "IDR", 1)), 2);
  EXPECT_EQ(Hex(id_data), Hex(B(vf, 2, "IDr")));
  const auto rand_kms = RandrValue(PayloadBytes(r.msg, Nth(r.layout, "RANDR")), 3);
  // RFC 6043 §5.1.1: fork labels and forked keys (Ticket Policy PRF).
  auto lm = ForkLabel(kLabelForkMpkr, id_data, rand_kms);
  auto lt = ForkLabel(kLabelForkTgk, id_data, rand_kms);
  ASSERT_TRUE(lm.ok());
  ASSERT_TRUE(lt.ok());
  EXPECT_EQ(Hex(*lm), Hex(B(vf, 8, "fork label MPKr'")));
  EXPECT_EQ(Hex(*lt), Hex(B(vf, 8, "fork label TGK'")));
  const SoftwareInKey mpkr = InKey(SB(vf, 4, kMpkr));
  const SoftwareInKey tgk = InKey(SecretBytes::CopyFrom(TicketTgk(vf)));
  auto mpkr_f = ForkKey(TicketPrf(vf), ForkedKey::kMpkr, mpkr.blocks(), id_data, rand_kms);
  auto tgk_f = ForkKey(TicketPrf(vf), ForkedKey::kTgk, tgk.blocks(), id_data, rand_kms);
  ASSERT_TRUE(mpkr_f.ok());
  ASSERT_TRUE(tgk_f.ok());
  EXPECT_EQ(Hex(*mpkr_f), Hex(B(vf, 8, "MPKr'")));
  EXPECT_EQ(Hex(*tgk_f), Hex(B(vf, 8, "TGK'")));
  // Another responder identity gives another key (spec §5.7).
  const auto other_id = B(vf, 2, "IDi");
  auto other = ForkKey(TicketPrf(vf), ForkedKey::kTgk, tgk.blocks(), other_id, rand_kms);
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(other->ConstantTimeEqual(*tgk_f));

  // RESOLVE_RESP: keys from PSK_B (label 0x02, RANDRr of RESOLVE_INIT), KEMAC with its own T.
  auto keys = ResolveRespKeys(vf, r);
  ASSERT_TRUE(keys.ok());
  const EncrAlgorithm encr = KemacAlg(r.kemac);
  auto pt =
      KemacDecrypt(encr, keys->encr_key, keys->salt_key, HdrCsbId(r.msg), r.t64, r.kemac.encr_data);
  ASSERT_TRUE(pt.ok());
  EXPECT_EQ(Hex(KeyDataValue(pt->Reveal(), 0)), Hex(B(vf, 4, kMpki)));
  EXPECT_EQ(Hex(KeyDataValue(pt->Reveal(), 1)), Hex(*mpkr_f));
  EXPECT_EQ(Hex(KeyDataValue(pt->Reveal(), 2)), Hex(*tgk_f));
  auto ct =
      KemacEncrypt(encr, keys->encr_key, keys->salt_key, HdrCsbId(r.msg), r.t64, pt->Reveal());
  ASSERT_TRUE(ct.ok());
  EXPECT_EQ(Hex(*ct), Hex(r.kemac.encr_data));
  const auto covered = Concat({WithoutMac(r.msg, 20), B(vf, 7, "RESOLVE_INIT_PSK")});
  EXPECT_TRUE(VerifyMac(r.mac, keys->auth_key, covered, MacOf(r.msg, 20)).ok());
}

// ---- Section 9: TRANSFER_RESP ------------------------------------------------------------
void CheckTransferResp(const VectorFile& vf) {
  const auto msg = B(vf, 9, "TRANSFER_RESP");
  const auto layout = Layout(vf, 9);
  // The initiator forks MPKr itself with the modifier carried in TRANSFER_RESP (spec §5.6).
  const auto id_data = IdrData(PayloadBytes(msg, Nth(layout, "IDR")), 2);
  const auto rand_kms = RandrValue(PayloadBytes(msg, Nth(layout, "RANDR", 1)), 3);
  const SoftwareInKey mpkr = InKey(SB(vf, 4, kMpkr));
  auto mpkr_f = ForkKey(TicketPrf(vf), ForkedKey::kMpkr, mpkr.blocks(), id_data, rand_kms);
  ASSERT_TRUE(mpkr_f.ok());
  EXPECT_EQ(Hex(*mpkr_f), Hex(B(vf, 8, "MPKr'")));
  const SoftwareInKey key = InKey(*mpkr_f);
  const MacAlgorithm mac_alg = VAlg(PayloadBytes(msg, Nth(layout, "V")));
  const auto ri = TransferInitRandRi(vf);
  const auto rr = TransferRespRandRr(vf);
  // RFC 6043 §5.1.2, TRANSFER_RESP with G=1: RANDRi of TRANSFER_INIT and its own RANDRr.
  const MessageLabelInput in{HdrCsbId(msg), MessageRole::kResponse, ri, rr};
  auto auth = DeriveMessageAuthKey(HdrPrf(msg), key.blocks(), in, mac_alg);
  ASSERT_TRUE(auth.ok());
  EXPECT_EQ(Hex(*auth), Hex(B(vf, 9, "TRANSFER_RESP auth_key (from MPKr')")));
  const auto covered = Concat({WithoutMac(msg, 20), B(vf, 6, "TRANSFER_INIT")});
  EXPECT_TRUE(VerifyMac(mac_alg, *auth, covered, MacOf(msg, 20)).ok());
  // Un-forked MPKr does not verify.
  auto wrong = DeriveMessageAuthKey(HdrPrf(msg), mpkr.blocks(), in, mac_alg);
  ASSERT_TRUE(wrong.ok());
  EXPECT_EQ(VerifyMac(mac_alg, *wrong, covered, MacOf(msg, 20)).code(), StatusCode::kAuthFailed);
}

// ---- Section 10: SRTP master keys --------------------------------------------------------
void CheckSrtpKeys(const VectorFile& vf) {
  const auto ri = TransferInitRandRi(vf);  // H = 1
  const auto rr = TransferRespRandRr(vf);  // G = 1
  const PrfFunc prf = HdrPrf(B(vf, 6, "TRANSFER_INIT"));
  const SoftwareInKey tgk = InKey(SB(vf, 8, "TGK'"));
  for (int cs : {1, 2}) {
    const std::string p = "CS " + std::to_string(cs) + " ";
    auto label = TgkDerivedLabel(kLabelTek, static_cast<uint8_t>(cs), ri, rr);
    ASSERT_TRUE(label.ok());
    EXPECT_EQ(Hex(*label), Hex(B(vf, 10, p + "TEK label")));
    auto keys = DeriveTekFromTgk(prf, tgk.blocks(), static_cast<uint8_t>(cs), ri, rr, 16, 14);
    ASSERT_TRUE(keys.ok());
    EXPECT_EQ(Hex(keys->master_key), Hex(B(vf, 10, p + "SRTP master key")));
    EXPECT_EQ(Hex(keys->master_salt), Hex(B(vf, 10, p + "SRTP master salt")));
    // Salt carried in the key data sub-payload: no salt derived (RFC 6043 §5.1.3).
    auto no_salt = DeriveTekFromTgk(prf, tgk.blocks(), static_cast<uint8_t>(cs), ri, rr, 16, 0);
    ASSERT_TRUE(no_salt.ok());
    EXPECT_TRUE(no_salt->master_salt.empty());
    EXPECT_TRUE(no_salt->master_key.ConstantTimeEqual(keys->master_key));
  }
}

// ---- Section 11: plain RFC 3830 ----------------------------------------------------------
void CheckRfc3830(const VectorFile& vf) {
  const auto l1 = B(vf, 1, "label");  // 2d22ac75 ff 11223344 || RAND
  const uint32_t csb = U32At(l1, 5);
  const auto rand = Sub(l1, 9, l1.size() - 9);
  const auto auth_label = Rfc3830TransportKeyLabel(kLabelAuth, csb, rand);
  EXPECT_EQ(Hex(auth_label), Hex(B(vf, 11, "RFC3830 auth label")));
  auto auth = PrfDerive(PrfFunc::kMikey1, SB(vf, 1, "inkey16"), auth_label, 20);
  ASSERT_TRUE(auth.ok());
  EXPECT_EQ(Hex(*auth), Hex(B(vf, 11, "RFC3830 auth_key(inkey16)")));
  const auto tek_label = Rfc3830TekLabel(kLabelTek, 1, csb, rand);
  EXPECT_EQ(Hex(tek_label), Hex(B(vf, 11, "RFC3830 TEK label (cs 1)")));
  auto tek = PrfDerive(PrfFunc::kMikey1, SB(vf, 1, "inkey16"), tek_label, 16);
  ASSERT_TRUE(tek.ok());
  EXPECT_EQ(Hex(*tek), Hex(B(vf, 11, "RFC3830 TEK(inkey16, cs1)")));
}

// ---- Section 12: the alternative reading of spec §11 A3 ---------------------------------
void CheckAlternativeIv(const VectorFile& vf) {
  {
    RespParts r = Resp(vf, 5, "REQUEST_RESP");
    const auto init = B(vf, 3, "REQUEST_INIT_PSK");
    const uint64_t t_init = TimestampNtp64(PayloadBytes(init, Nth(Layout(vf, 3), "T")));
    const SecretBytes encr_key = SB(vf, 5, "encr_key (label ...02...)");
    const SecretBytes salt = SB(vf, 5, "salt_key");
    auto iv = KemacIv(salt, HdrCsbId(r.msg), t_init);
    ASSERT_TRUE(iv.ok());
    EXPECT_EQ(Hex(*iv), Hex(B(vf, 12, "REQUEST_RESP KEMAC IV (T of REQUEST_INIT)")));
    const auto pt = B(vf, 5, "KEMAC plaintext (MPKi, MPKr, TGK)");
    const EncrAlgorithm encr = KemacAlg(r.kemac);
    auto ct = KemacEncrypt(encr, encr_key, salt, HdrCsbId(r.msg), t_init, pt);
    ASSERT_TRUE(ct.ok());
    EXPECT_EQ(Hex(*ct), Hex(B(vf, 12, "REQUEST_RESP KEMAC ciphertext, alternative")));
    // A receiver using the primary reading gets garbage: the fallback of §11 A3 is needed.
    auto wrong = KemacDecrypt(encr, encr_key, salt, HdrCsbId(r.msg), r.t64, *ct);
    ASSERT_TRUE(wrong.ok());
    EXPECT_NE(Hex(*wrong), Hex(pt));
    std::copy(ct->begin(), ct->end(),
              r.msg.begin() + static_cast<long>(r.kemac_off + r.kemac.encr_data_off));
    auto mac = ComputeMac(r.mac, SB(vf, 5, "auth_key"), Concat({WithoutMac(r.msg, 20), init}));
    ASSERT_TRUE(mac.ok());
    EXPECT_EQ(Hex(*mac), Hex(B(vf, 12, "REQUEST_RESP V MAC, alternative")));
  }
  {
    RespParts r = Resp(vf, 8, "RESOLVE_RESP");
    const auto init = B(vf, 7, "RESOLVE_INIT_PSK");
    const uint64_t t_init = TimestampNtp64(PayloadBytes(init, Nth(Layout(vf, 7), "T")));
    auto keys = ResolveRespKeys(vf, r);
    ASSERT_TRUE(keys.ok());
    auto iv = KemacIv(keys->salt_key, HdrCsbId(r.msg), t_init);
    ASSERT_TRUE(iv.ok());
    EXPECT_EQ(Hex(*iv), Hex(B(vf, 12, "RESOLVE_RESP KEMAC IV (T of RESOLVE_INIT)")));
    const EncrAlgorithm encr = KemacAlg(r.kemac);
    auto pt = KemacDecrypt(encr, keys->encr_key, keys->salt_key, HdrCsbId(r.msg), r.t64,
                           r.kemac.encr_data);
    ASSERT_TRUE(pt.ok());
    auto ct =
        KemacEncrypt(encr, keys->encr_key, keys->salt_key, HdrCsbId(r.msg), t_init, pt->Reveal());
    ASSERT_TRUE(ct.ok());
    EXPECT_EQ(Hex(*ct), Hex(B(vf, 12, "RESOLVE_RESP KEMAC ciphertext, alternative")));
    std::copy(ct->begin(), ct->end(),
              r.msg.begin() + static_cast<long>(r.kemac_off + r.kemac.encr_data_off));
    auto mac = ComputeMac(r.mac, keys->auth_key, Concat({WithoutMac(r.msg, 20), init}));
    ASSERT_TRUE(mac.ok());
    EXPECT_EQ(Hex(*mac), Hex(B(vf, 12, "RESOLVE_RESP V MAC, alternative")));
  }
}

#define KMS_VECTOR_TEST(Name, Fn)      \
  TEST(MikeyTicketVectorsTest, Name) { \
    auto vf = Load();                  \
    ASSERT_TRUE(vf.has_value());       \
    Fn(*vf);                           \
  }

KMS_VECTOR_TEST(Section1Prf, CheckPrf)
KMS_VECTOR_TEST(Section3RequestInit, CheckRequestInit)
KMS_VECTOR_TEST(Section4Ticket, CheckTicket)
KMS_VECTOR_TEST(Section5RequestResp, CheckRequestResp)
KMS_VECTOR_TEST(Section6TransferInit, CheckTransferInit)
KMS_VECTOR_TEST(Section7ResolveInit, CheckResolveInit)
KMS_VECTOR_TEST(Section8ForkingAndResolveResp, CheckResolveResp)
KMS_VECTOR_TEST(Section9TransferResp, CheckTransferResp)
KMS_VECTOR_TEST(Section10SrtpKeys, CheckSrtpKeys)
KMS_VECTOR_TEST(Section11Rfc3830, CheckRfc3830)
KMS_VECTOR_TEST(Section12AlternativeIv, CheckAlternativeIv)

TEST(MikeyTicketVectorsTest, EveryEntryIsChecked) {
  auto vf = Load();
  ASSERT_TRUE(vf.has_value());
  for (auto* fn : {&CheckPrf, &CheckRequestInit, &CheckTicket, &CheckRequestResp,
                   &CheckTransferInit, &CheckResolveInit, &CheckResolveResp, &CheckTransferResp,
                   &CheckSrtpKeys, &CheckRfc3830, &CheckAlternativeIv}) {
    fn(*vf);
  }
  EXPECT_EQ(vf->Unconsumed(), std::vector<std::string>{});
}

}  // namespace
}  // namespace kms::crypto
