// Negative tests: every decoder rule (spec mikey-ticket.md §3, §4.12.1, §9.3) fails with
// kDecodeError and the exact MIKEY error number to send back.
#include <gtest/gtest.h>

#include <vector>

#include "src/mikey/decoder.h"
#include "src/mikey/encoder.h"
#include "tests/unit/mikey/test_util.h"

namespace kms::mikey {
namespace {

using testing::ExpectDecodeError;
using testing::VectorBytes;

// Offsets in the REQUEST_INIT_PSK vector (layout line of section 3).
constexpr size_t kRiTp = 109;          // TP payload
constexpr size_t kRiTpB5 = kRiTp + 5;  // PRF | D
constexpr size_t kRiTpB6 = kRiTp + 6;  // E F G H I J K L
constexpr size_t kRiTpB7 = kRiTp + 7;  // M N O
constexpr size_t kRiIdri = 55;
constexpr size_t kRiV = 218;
// TRANSFER_INIT: TICKET at 146, 266 bytes.
constexpr size_t kTiTicket = 146;

std::vector<uint8_t> RequestInit() { return VectorBytes(3, "REQUEST_INIT_PSK"); }
std::vector<uint8_t> TransferInit() { return VectorBytes(6, "TRANSFER_INIT"); }

std::vector<uint8_t> Patched(std::vector<uint8_t> w, size_t at, uint8_t v) {
  w.at(at) = v;
  return w;
}

// ReEncoded: decode a vector, let `edit` change the model, encode again.
template <typename F>
std::vector<uint8_t> ReEncoded(const std::vector<uint8_t>& wire, F edit) {
  auto m = Decode(wire);
  EXPECT_TRUE(m.ok());
  edit(*m);
  auto e = Encode(*m);
  EXPECT_TRUE(e.ok()) << e.status().ToString();
  return e.ok() ? *e : std::vector<uint8_t>();
}

TEST(DecoderRules, VectorsDecodeUnmodified) {
  ASSERT_TRUE(Decode(RequestInit()).ok());
  ASSERT_TRUE(Decode(TransferInit()).ok());
}

TEST(DecoderRules, UnknownPayloadTypeIs13) {
  ExpectDecodeError(Patched(RequestInit(), 2, 18), 13);  // HDR next = unassigned 18
  ExpectDecodeError(Patched(RequestInit(), 2, 20), 13);  // key data outside a KEMAC
  ExpectDecodeError(Patched(RequestInit(), 2, 26), 13);  // SAKKE: not supported
  ExpectDecodeError(Patched(RequestInit(), kRiIdri, 0xff), 13);
}

TEST(DecoderRules, TrailingBytesAndSecondHdrAre13) {
  auto w = RequestInit();
  auto twice = w;
  twice.insert(twice.end(), w.begin(), w.end());  // a second HDR after the last payload
  ExpectDecodeError(twice, 13);
  w.push_back(0x00);
  ExpectDecodeError(w, 13);
}

TEST(DecoderRules, DuplicateSingletonsAre13) {
  ExpectDecodeError(
      ReEncoded(RequestInit(),
                [](Message& m) { m.payloads.insert(m.payloads.begin(), *m.FindT()); }),
      13);
  ExpectDecodeError(
      ReEncoded(RequestInit(),
                [](Message& m) { m.payloads.insert(m.payloads.end() - 1, *m.FindV()); }),
      13);
  ExpectDecodeError(
      ReEncoded(RequestInit(),
                [](Message& m) { m.payloads.insert(m.payloads.end() - 1, *m.FindTp()); }),
      13);
  ExpectDecodeError(
      ReEncoded(VectorBytes(5, "REQUEST_RESP"),
                [](Message& m) { m.payloads.insert(m.payloads.end() - 1, *m.FindKemac()); }),
      13);
  ExpectDecodeError(
      ReEncoded(VectorBytes(5, "REQUEST_RESP"),
                [](Message& m) { m.payloads.insert(m.payloads.end() - 1, *m.FindTicket()); }),
      13);
}

TEST(DecoderRules, RepeatedIdrOrRandrRoleIs13) {
  ExpectDecodeError(ReEncoded(RequestInit(),
                              [](Message& m) {
                                m.payloads.insert(m.payloads.begin() + 2,
                                                  *m.FindIdr(IdRole::kInitiator));
                              }),
                    13);
  ExpectDecodeError(ReEncoded(VectorBytes(9, "TRANSFER_RESP"),
                              [](Message& m) {
                                m.payloads.insert(m.payloads.begin() + 1,
                                                  *m.FindRandR(RandRole::kKms));
                              }),
                    13);
  // A different role is fine (IDRr in a REQUEST_INIT is merely unexpected).
  auto ok = ReEncoded(RequestInit(), [](Message& m) {
    Idr r = *m.FindIdr(IdRole::kInitiator);
    r.role = IdRole::kResponder;
    m.payloads.insert(m.payloads.begin() + 2, r);
  });
  EXPECT_TRUE(Decode(ok).ok());
}

TEST(DecoderRules, MissingMandatoryPayloadIs13) {
  ExpectDecodeError(
      ReEncoded(RequestInit(), [](Message& m) { m.payloads.erase(m.payloads.begin() + 1); }),
      13);  // no RANDRi
  ExpectDecodeError(ReEncoded(RequestInit(), [](Message& m) { m.payloads.pop_back(); }),
                    13);  // no V
  ExpectDecodeError(ReEncoded(VectorBytes(8, "RESOLVE_RESP"),
                              [](Message& m) { m.payloads.erase(m.payloads.begin() + 2); }),
                    13);  // no KEMAC
}

TEST(DecoderRules, VNotLastIs13) {
  ExpectDecodeError(ReEncoded(RequestInit(),
                              [](Message& m) {
                                std::swap(m.payloads[m.payloads.size() - 1],
                                          m.payloads[m.payloads.size() - 2]);
                              }),
                    13);
}

TEST(DecoderRules, LengthOverrunsAre13) {
  auto w = RequestInit();
  // IDRi ID len (bytes 3-4 of the payload) pointing past the end.
  w[kRiIdri + 3] = 0xff;
  ExpectDecodeError(w, 13);
  // RANDRi length larger than what remains in the message.
  ExpectDecodeError(Patched(RequestInit(), 20 + 2, 0xff), 13);
  // TP Data length one too long / one too short.
  ExpectDecodeError(Patched(RequestInit(), kRiTp + 9, 0x3f), 13);
  ExpectDecodeError(Patched(RequestInit(), kRiTp + 9, 0x3d), 13);
  // KEMAC encrypted data length overrun in RESOLVE_RESP (KEMAC at 48).
  ExpectDecodeError(Patched(VectorBytes(8, "RESOLVE_RESP"), 48 + 2, 0x10), 13);
}

TEST(DecoderRules, NestedTicketWithBadLengthsIs13) {
  const auto w = TransferInit();
  auto m = Decode(w);
  ASSERT_TRUE(m.ok());
  const TicketLayout& t = *m->layout.ticket;
  for (const size_t field : {t.ticket_data_length_field, t.initiator_data_length_field}) {
    for (const int delta : {-1, +1}) {
      auto bad = w;
      bad[field + 1] = static_cast<uint8_t>(bad[field + 1] + delta);
      SCOPED_TRACE(::testing::Message() << "field " << field << " delta " << delta);
      ExpectDecodeError(bad, 13);
    }
    auto huge = w;
    huge[field] = 0xff;
    ExpectDecodeError(huge, 13);
  }
  // TP Data length inside the TICKET.
  auto bad_tp = w;
  bad_tp[kTiTicket + 9] = static_cast<uint8_t>(bad_tp[kTiTicket + 9] + 1);
  ExpectDecodeError(bad_tp, 13);
  // THDR Data length inside the Ticket Data.
  auto bad_thdr = w;
  bad_thdr[t.ticket_data.offset + 1] = 0xff;
  ExpectDecodeError(bad_thdr, 13);
  // Initiator Data: Vi's Next Payload must be 0 or 9.
  auto vi_next = w;
  vi_next[t.initiator_data.offset + 1] = 0x05;
  ExpectDecodeError(vi_next, 13);
  auto vi_zero = w;
  vi_zero[t.initiator_data.offset + 1] = 0x00;  // accepted (spec §11 A5)
  EXPECT_TRUE(Decode(vi_zero).ok());
  // Vr with another MAC alg than Vi.
  auto vr_alg = w;
  vr_alg[t.initiator->vr.offset + 1] = 0x02;
  ExpectDecodeError(vr_alg, 13);
}

TEST(DecoderRules, InitiatorDataRulesAre13) {
  // I flag cleared but Initiator Data present.
  ExpectDecodeError(Patched(TransferInit(), kTiTicket + 6, 0xf0), 13);
  // REQUEST_RESP must carry no Initiator Data; TRANSFER_INIT with I needs it.
  auto rr = ReEncoded(VectorBytes(5, "REQUEST_RESP"), [](Message& m) {
    m.FindMutable<Ticket>()->initiator_data =
        Decode(VectorBytes(6, "TRANSFER_INIT"))->FindTicket()->initiator_data;
  });
  ExpectDecodeError(rr, 13);
  ExpectDecodeError(ReEncoded(TransferInit(),
                              [](Message& m) { m.FindMutable<Ticket>()->initiator_data.clear(); }),
                    13);
}

TEST(DecoderRules, TpFlagViolationsAre15) {
  const auto w = RequestInit();
  ASSERT_EQ(w[kRiTpB5], 0x01);                                               // PRF 0, D=1
  ASSERT_EQ(w[kRiTpB6], 0xf8);                                               // E F G H I
  ASSERT_EQ(w[kRiTpB7], 0x60);                                               // N O
  ExpectDecodeError(Patched(w, kRiTpB5, 0x00), 15);                          // not D => L
  ExpectDecodeError(Patched(w, kRiTpB6, 0xb8), 15);                          // G => F
  ExpectDecodeError(Patched(w, kRiTpB6, 0xc8), 15);                          // not G and not H
  ExpectDecodeError(Patched(w, kRiTpB6, 0x78), 15);                          // I => E
  ExpectDecodeError(Patched(Patched(w, kRiTpB5, 0x00), kRiTpB6, 0xfb), 15);  // K => D
  ExpectDecodeError(Patched(Patched(w, kRiTpB6, 0x98), kRiTpB7, 0xe0), 15);  // M => F
  // Consistent alternatives decode: no F/G (H only), and D=0 with L=1.
  EXPECT_TRUE(Decode(Patched(w, kRiTpB6, 0x98)).ok());
  EXPECT_TRUE(Decode(Patched(Patched(w, kRiTpB5, 0x00), kRiTpB6, 0xf9)).ok());
  // The same rules apply to the TICKET's policy.
  ExpectDecodeError(Patched(TransferInit(), kTiTicket + 6, 0x78), 15);
}

TEST(DecoderRules, TpDataWithoutResponderIs15) {
  // Turn the TP Data's IDRr into an IDRapp: no responder left.
  auto w = RequestInit();
  const size_t idrr = kRiTp + 10 + 1 + 7 + 30;  // First Payload, TRe, KEMAC, then IDRr
  ASSERT_EQ(w[idrr + 1], 0x02);
  w[idrr + 1] = 0x05;
  ExpectDecodeError(w, 15);
  // A second IDRkms in TP Data is a repeated role.
  auto twice = RequestInit();
  twice[idrr + 1] = 0x03;
  EXPECT_TRUE(Decode(twice).ok() == false);
}

TEST(DecoderRules, UnsupportedTicketTypeIs14) {
  ExpectDecodeError(Patched(RequestInit(), kRiTp + 2, 0x02), 14);  // 3GPP base ticket
  ExpectDecodeError(Patched(RequestInit(), kRiTp + 3, 0x02), 14);  // subtype
  ExpectDecodeError(Patched(RequestInit(), kRiTp + 4, 0x02), 14);  // version
  ExpectDecodeError(Patched(TransferInit(), kTiTicket + 1, 0xf0), 14);
}

TEST(DecoderRules, UnsupportedAlgorithmsAndTypesHaveTheirErrorNumbers) {
  ExpectDecodeError(Patched(RequestInit(), 3, 0x82), 2);                        // HDR PRF 2
  ExpectDecodeError(Patched(RequestInit(), kRiTpB5, 0x05), 2);                  // TP PRF 2
  ExpectDecodeError(Patched(RequestInit(), kRiV + 1, 0x03), 3);                 // V MAC alg 3
  ExpectDecodeError(Patched(VectorBytes(8, "RESOLVE_RESP"), 48 + 1, 0x04), 4);  // encr alg
  ExpectDecodeError(Patched(RequestInit(), 1, 19), 11);                         // data type 19
  ExpectDecodeError(Patched(RequestInit(), 1, 26), 11);                         // SAKKE data type
  ExpectDecodeError(Patched(RequestInit(), 10 + 1, 0x04), 1);                   // T type 4
  ExpectDecodeError(Patched(RequestInit(), kRiIdri + 2, 0x03), 7);              // ID type 3
  ExpectDecodeError(Patched(RequestInit(), 0, 0x02), 13);                       // version 2
}

TEST(DecoderRules, LimitsAre13) {
  const auto w = RequestInit();
  DecodeLimits size_limit;
  size_limit.max_message_size = w.size() - 1;
  ExpectDecodeError(w, 13, size_limit);
  size_limit.max_message_size = w.size();
  EXPECT_TRUE(Decode(w, size_limit).ok());
  // 7 message-level payloads + 3 in TP Data (TRe, KEMAC, IDRr) = 10.
  DecodeLimits count_limit;
  count_limit.max_payloads = 9;
  ExpectDecodeError(w, 13, count_limit);
  count_limit.max_payloads = 10;
  EXPECT_TRUE(Decode(w, count_limit).ok());
  // The default limit (64) stops a message of 65 General Extensions.
  Message m = *Decode(w);
  m.payloads.insert(m.payloads.begin(), 60, GeneralExtension::MakeSdpIds("mikey"));
  auto big = Encode(m);
  ASSERT_TRUE(big.ok());
  ExpectDecodeError(*big, 13);
}

TEST(DecoderRules, BadMapInfoLengthsAre13) {
  const auto w = TransferInit();  // GENERIC-ID map, #CS = 2, HDR 32 bytes
  ASSERT_EQ(w[8], 0x02);
  ExpectDecodeError(Patched(w, 8, 0x03), 13);          // one block more than present
  ExpectDecodeError(Patched(w, 8 + 2 + 2, 0x7f), 13);  // #P = 127 runs into the payloads
  ExpectDecodeError(Patched(w, 8 + 2 + 4, 0xff), 13);  // Session Data length overrun
  // SRTP-ID map in a TRANSFER_INIT is forbidden (RFC 6043 §4.2.2.1).
  ExpectDecodeError(Patched(w, 9, 0x00), 13);
  // Unknown map type.
  ExpectDecodeError(Patched(w, 9, 0x03), 13);
  // Request/Resolve initial messages need #CS = 0 with the Empty map.
  ExpectDecodeError(Patched(RequestInit(), 8, 0x01), 13);
  // SRTP-ID with 200 CSs overruns any short message.
  auto srtp = Patched(Patched(VectorBytes(9, "TRANSFER_RESP"), 9, 0x00), 8, 200);
  ExpectDecodeError(srtp, 13);
}

TEST(DecoderRules, SpWithEmptyMapIs13) {
  auto ti = Decode(TransferInit());
  ASSERT_TRUE(ti.ok());
  ASSERT_NE(ti->Find<SecurityPolicy>(), nullptr);
  SecurityPolicy copy = *ti->Find<SecurityPolicy>();
  ExpectDecodeError(
      ReEncoded(RequestInit(), [&](Message& m) { m.payloads.insert(m.payloads.begin(), copy); }),
      13);
}

TEST(DecoderRules, GenericIdAndSrtpAccessors) {
  auto m = Decode(TransferInit());
  ASSERT_TRUE(m.ok());
  ASSERT_EQ(m->hdr.generic_map.size(), 2u);
  const GenericIdBlock& b = m->hdr.generic_map[0];
  EXPECT_EQ(b.cs_id, 1);
  EXPECT_EQ(b.policy_nos, (std::vector<uint8_t>{0}));  // refers to SP policy no 0
  EXPECT_EQ(b.spi, (std::vector<uint8_t>{0, 0, 0, 1}));
  auto sd = b.ParseSrtpSessionData();
  ASSERT_TRUE(sd.ok());
  EXPECT_EQ(sd->ssrc, 0xaaaa0001u);
  EXPECT_FALSE(sd->roc.has_value());
  GenericIdBlock c = b;
  c.SetSrtpSessionData(SrtpSessionData{7, 1, 2});
  EXPECT_TRUE(c.s_flag);
  EXPECT_EQ(c.session_data.size(), 10u);
  auto back = c.ParseSrtpSessionData();
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->roc, std::optional<uint32_t>(1));
  c.session_data.pop_back();
  EXPECT_FALSE(c.ParseSrtpSessionData().ok());
  const SecurityPolicy* sp = m->Find<SecurityPolicy>();
  ASSERT_NE(sp, nullptr);
  auto enc = sp->SrtpU8(SrtpParam::kEncrAlg);
  ASSERT_TRUE(enc.ok());
  EXPECT_EQ(*enc, std::optional<uint8_t>(1));
  auto tag = sp->SrtpU8(SrtpParam::kAuthTagLength);
  ASSERT_TRUE(tag.ok());
  EXPECT_EQ(*tag, std::optional<uint8_t>(10));
  // The vector's SP is exactly the default SRTP profile (spec §3.1).
  EXPECT_EQ(*sp, SecurityPolicy::MakeSrtpDefault(0));
  SecurityPolicy roc = *sp;
  roc.SetParam(static_cast<uint8_t>(SrtpParam::kRocTransmissionRate), Bytes{0x01, 0x00});
  EXPECT_EQ(*roc.SrtpUint(SrtpParam::kRocTransmissionRate), std::optional<uint32_t>(256));
  EXPECT_EQ(roc.SrtpU8(SrtpParam::kRocTransmissionRate).status().detail(),
            std::optional<uint8_t>(10));
  EXPECT_EQ(*roc.SrtpUint(SrtpParam::kFecOrder), std::nullopt);
  roc.SetParam(static_cast<uint8_t>(SrtpParam::kKeyDerivationRate), Bytes(5, 1));
  EXPECT_FALSE(roc.SrtpUint(SrtpParam::kKeyDerivationRate).ok());
}

}  // namespace
}  // namespace kms::mikey
