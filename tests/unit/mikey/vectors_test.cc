// Known-answer tests: the six messages of tests/vectors/mikey-ticket-mode1-fork.txt (made by
// an implementation independent of this code) and the RFC 4567 §5.1 examples.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "src/base/encoding.h"
#include "src/mikey/decoder.h"
#include "src/mikey/encoder.h"
#include "src/mikey/key_data.h"
#include "src/mikey/mac_coverage.h"
#include "src/mikey/ticket_data.h"
#include "tests/unit/mikey/test_util.h"

namespace kms::mikey {
namespace {

using testing::LayoutEntry;
using testing::ParseLayout;
using testing::VectorBytes;
using testing::VectorMessages;
using testing::Vectors;

std::vector<LayoutEntry> ToEntries(const std::vector<PayloadSpan>& spans, size_t base) {
  std::vector<LayoutEntry> out;
  for (const PayloadSpan& s : spans) {
    out.emplace_back(PayloadTypeName(s.type), s.range.offset - base, s.range.length);
  }
  return out;
}

class VectorMessageTest : public ::testing::TestWithParam<testing::VectorMessage> {};

TEST_P(VectorMessageTest, DecodesWithVectorLayoutAndReencodesIdentically) {
  const auto wire = VectorBytes(GetParam().section, GetParam().name);
  ASSERT_FALSE(wire.empty());
  auto m = Decode(wire);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  // The vector's layout line lists HDR then every payload as (type, offset, length).
  auto text = Vectors().Text(GetParam().section, "layout");
  ASSERT_TRUE(text.ok());
  const auto expected = ParseLayout(*text);
  std::vector<LayoutEntry> actual{{"HDR", m->layout.hdr.offset, m->layout.hdr.length}};
  const auto rest = ToEntries(m->layout.payloads, 0);
  actual.insert(actual.end(), rest.begin(), rest.end());
  EXPECT_EQ(actual, expected);
  ASSERT_EQ(m->payloads.size(), m->layout.payloads.size());
  for (size_t i = 0; i < m->payloads.size(); ++i) {
    EXPECT_EQ(TypeOf(m->payloads[i]), m->layout.payloads[i].type);
  }
  EXPECT_EQ(m->layout.total_length, wire.size());
  // Round trip, including the layout the encoder reports.
  auto enc = EncodeWithLayout(*m);
  ASSERT_TRUE(enc.ok()) << enc.status().ToString();
  EXPECT_EQ(enc->wire, wire);
  EXPECT_EQ(ToEntries(enc->layout.payloads, 0), rest);
  EXPECT_EQ(enc->layout.v_mac, m->layout.v_mac);
  ASSERT_EQ(enc->layout.ticket.has_value(), m->layout.ticket.has_value());
  if (m->layout.ticket) {
    EXPECT_EQ(enc->layout.ticket->initiator_data, m->layout.ticket->initiator_data);
    ASSERT_TRUE(enc->layout.ticket->base_ticket.has_value());
    EXPECT_EQ(enc->layout.ticket->base_ticket->v_mac, m->layout.ticket->base_ticket->v_mac);
  }
}

TEST_P(VectorMessageTest, TruncationAtEveryOffsetFailsCleanly) {
  const auto wire = VectorBytes(GetParam().section, GetParam().name);
  for (size_t n = 0; n < wire.size(); ++n) {
    auto r = Decode(std::span<const uint8_t>(wire.data(), n));
    ASSERT_FALSE(r.ok()) << "prefix of " << n << " bytes decoded";
    EXPECT_EQ(r.status().code(), StatusCode::kDecodeError);
    EXPECT_TRUE(r.status().detail().has_value());
  }
}

TEST_P(VectorMessageTest, TrailingByteIsRejected) {
  auto wire = VectorBytes(GetParam().section, GetParam().name);
  wire.push_back(0);
  testing::ExpectDecodeError(wire, 13);
}

TEST_P(VectorMessageTest, SingleByteFlipsNeverCrashAndNeverAliasTheOriginal) {
  const auto wire = VectorBytes(GetParam().section, GetParam().name);
  auto original = Decode(wire);
  ASSERT_TRUE(original.ok());
  for (size_t i = 0; i < wire.size(); ++i) {
    for (const uint8_t mask : {uint8_t{0x01}, uint8_t{0x80}, uint8_t{0xff}}) {
      auto flipped = wire;
      flipped[i] = static_cast<uint8_t>(flipped[i] ^ mask);
      auto r = Decode(flipped);
      if (!r.ok()) {
        EXPECT_EQ(r.status().code(), StatusCode::kDecodeError);
        continue;
      }
      // Whatever decodes must re-encode to exactly the flipped bytes (so the content
      // differs from the original's).
      auto enc = Encode(*r);
      ASSERT_TRUE(enc.ok()) << "offset " << i << ": " << enc.status().ToString();
      EXPECT_EQ(*enc, flipped) << "offset " << i;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(ModeOneFork, VectorMessageTest, ::testing::ValuesIn(VectorMessages()),
                         [](const auto& param_info) { return std::string(param_info.param.name); });

TEST(VectorMacCoverage, RequestInitMacInputMatchesVector) {
  const auto wire = VectorBytes(3, "REQUEST_INIT_PSK");
  auto m = Decode(wire);
  ASSERT_TRUE(m.ok());
  auto input = RequestInitMacInput(wire, m->layout, IdentityData(*m, IdRole::kInitiator),
                                   IdentityData(*m, IdRole::kKms));
  ASSERT_TRUE(input.ok()) << input.status().ToString();
  EXPECT_EQ(*input, VectorBytes(3, "MAC input = msg-without-MAC || IDi || IDkms"));
  EXPECT_EQ(input->size(), 264u);
  // The identities appended are the ID Data of IDRi / IDRkms, equal to the fixed inputs.
  EXPECT_EQ(std::vector<uint8_t>(IdentityData(*m, IdRole::kInitiator).begin(),
                                 IdentityData(*m, IdRole::kInitiator).end()),
            VectorBytes(2, "IDi"));
  EXPECT_EQ(std::vector<uint8_t>(IdentityData(*m, IdRole::kKms).begin(),
                                 IdentityData(*m, IdRole::kKms).end()),
            VectorBytes(2, "IDkms"));
  auto dispatched = MessageMacInput(
      m->hdr.data_type, wire, m->layout,
      MacContext{IdentityData(*m, IdRole::kInitiator), {}, IdentityData(*m, IdRole::kKms), {}});
  ASSERT_TRUE(dispatched.ok());
  EXPECT_EQ(*dispatched, *input);
  auto mac = MessageMac(wire, m->layout);
  ASSERT_TRUE(mac.ok());
  EXPECT_EQ(std::vector<uint8_t>(mac->begin(), mac->end()), VectorBytes(3, "MAC"));
}

TEST(VectorMacCoverage, TicketMacInputMatchesVectorInEveryCarrier) {
  const auto expected = VectorBytes(4,
                                    "ticket MAC input (TICKET minus Next Payload, minus "
                                    "Initiator Data len/data, minus MAC)");
  ASSERT_EQ(expected.size(), 198u);
  // The same ticket travels in REQUEST_RESP (no Initiator Data), TRANSFER_INIT and
  // RESOLVE_INIT (with Initiator Data): the ticket MAC input is the same in all three.
  for (const auto& [section, name] :
       {std::pair{5, "REQUEST_RESP"}, {6, "TRANSFER_INIT"}, {7, "RESOLVE_INIT_PSK"}}) {
    const auto wire = VectorBytes(section, name);
    auto m = Decode(wire);
    ASSERT_TRUE(m.ok()) << name;
    auto input = TicketMacInput(wire, m->layout);
    ASSERT_TRUE(input.ok()) << input.status().ToString();
    EXPECT_EQ(*input, expected) << name;
    auto mac = TicketMac(wire, m->layout);
    ASSERT_TRUE(mac.ok());
    EXPECT_EQ(std::vector<uint8_t>(mac->begin(), mac->end()), VectorBytes(4, "ticket MAC"));
  }
}

TEST(VectorTicket, PolicyTicketDataAndInitiatorDataLayouts) {
  const auto wire = VectorBytes(5, "REQUEST_RESP");
  auto m = Decode(wire);
  ASSERT_TRUE(m.ok());
  ASSERT_TRUE(m->layout.ticket.has_value());
  const TicketLayout& tl = *m->layout.ticket;
  // Granted TP Data layout: offsets from the TP Data's First Payload byte.
  const PayloadSpan& ticket_span = m->layout.payloads[2];  // T, IDRkms, TICKET
  ASSERT_EQ(ticket_span.type, PayloadType::kTicket);
  EXPECT_EQ(ToEntries(ticket_span.children, tl.tp_data.offset),
            ParseLayout(*Vectors().Text(4, "granted TP Data layout")));
  // Ticket Data layout "(after THDR)": the vector counts offsets as if the THDR were a one
  // byte First Payload field, i.e. from the THDR's last byte.
  ASSERT_TRUE(tl.base_ticket.has_value());
  EXPECT_EQ(ToEntries(tl.base_ticket->payloads, tl.base_ticket->thdr.end() - 1),
            ParseLayout(*Vectors().Text(4, "Ticket Data layout (after THDR)")));
  const Ticket* t = m->FindTicket();
  ASSERT_NE(t, nullptr);
  EXPECT_TRUE(t->initiator_data.empty());
  EXPECT_TRUE(t->policy.flags.d && t->policy.flags.e && t->policy.flags.f && t->policy.flags.g &&
              t->policy.flags.h && t->policy.flags.i);
  EXPECT_FALSE(t->policy.flags.k);
  EXPECT_EQ(t->policy.Responders().size(), 1u);
  ASSERT_NE(t->policy.FindIdr(IdRole::kInitiator), nullptr);
  EXPECT_EQ(t->policy.FindIdr(IdRole::kInitiator)->id_data, VectorBytes(2, "IDi"));
  ASSERT_NE(t->policy.FindTr(TsRole::kEndOfValidity), nullptr);
  EXPECT_EQ(t->policy.FindTr(TsRole::kEndOfValidity)->value, 0xe8fe7d90u);
  // Base ticket Ticket Data decodes standalone and re-encodes identically.
  auto td = DecodeBaseTicketData(t->ticket_data);
  ASSERT_TRUE(td.ok()) << td.status().ToString();
  ASSERT_TRUE(td->idr_psk.has_value());
  EXPECT_EQ(td->idr_psk->id_data, VectorBytes(2, "TPK id"));
  EXPECT_EQ(td->v.mac, VectorBytes(4, "ticket MAC"));
  EXPECT_EQ(td->kemac.encr_alg, EncrAlg::kAesCm128);
  EXPECT_EQ(td->kemac.mac_alg, MacAlg::kNull);
  auto re = EncodeBaseTicketData(*td);
  ASSERT_TRUE(re.ok());
  EXPECT_EQ(*re, t->ticket_data);

  // TRANSFER_INIT: Initiator Data = 09 | Vi | Vr.
  const auto ti = VectorBytes(6, "TRANSFER_INIT");
  auto tm = Decode(ti);
  ASSERT_TRUE(tm.ok());
  const Ticket* tt = tm->FindTicket();
  ASSERT_NE(tt, nullptr);
  EXPECT_EQ(tt->initiator_data, VectorBytes(6, "Initiator Data"));
  InitiatorDataLayout il;
  auto init = DecodeInitiatorData(tt->initiator_data, &il);
  ASSERT_TRUE(init.ok()) << init.status().ToString();
  EXPECT_EQ((std::vector<LayoutEntry>{{"V", il.vi.offset, il.vi.length},
                                      {"V", il.vr.offset, il.vr.length}}),
            ParseLayout(*Vectors().Text(6, "Initiator Data layout")));
  EXPECT_EQ(init->vi.mac, VectorBytes(6, "TRANSFER_INIT MAC (also Vi)"));
  EXPECT_EQ(tm->FindV()->mac, init->vi.mac);  // RFC 6043 §4.2.3.6 check R performs
  EXPECT_EQ(init->vi_next, 9);
  auto reinit = EncodeInitiatorData(*init);
  ASSERT_TRUE(reinit.ok());
  EXPECT_EQ(*reinit, tt->initiator_data);
}

TEST(VectorMacCoverage, TransferInitExcludesInitiatorDataAndVrCoversInitiatorData) {
  const auto wire = VectorBytes(6, "TRANSFER_INIT");
  auto m = Decode(wire);
  ASSERT_TRUE(m.ok());
  const TicketLayout& tl = *m->layout.ticket;
  auto input = TransferInitMacInput(wire, m->layout, IdentityData(*m, IdRole::kInitiator),
                                    IdentityData(*m, IdRole::kResponder));
  ASSERT_TRUE(input.ok());
  // Expected: bytes before the Initiator Data length field, bytes after Initiator Data up
  // to the V MAC, then IDi || IDr.
  std::vector<uint8_t> expected(wire.begin(),
                                wire.begin() + static_cast<long>(tl.initiator_data_length_field));
  expected.insert(expected.end(), wire.begin() + static_cast<long>(tl.initiator_data.end()),
                  wire.begin() + static_cast<long>(m->layout.v_mac->offset));
  const auto idi = VectorBytes(2, "IDi");
  const auto idr = VectorBytes(2, "IDr");
  expected.insert(expected.end(), idi.begin(), idi.end());
  expected.insert(expected.end(), idr.begin(), idr.end());
  EXPECT_EQ(*input, expected);
  EXPECT_EQ(input->size(), wire.size() - 2 - 45 - 20 + idi.size() + idr.size());
  auto vr = VrMacInput(wire, m->layout);
  ASSERT_TRUE(vr.ok());
  const auto init = VectorBytes(6, "Initiator Data");
  EXPECT_EQ(*vr, std::vector<uint8_t>(init.begin(), init.end() - 20));
}

TEST(VectorMacCoverage, ResponsesAppendTheCompleteInitialMessage) {
  for (const auto& [rs, rn, is, in] : {std::tuple{5, "REQUEST_RESP", 3, "REQUEST_INIT_PSK"},
                                       {8, "RESOLVE_RESP", 7, "RESOLVE_INIT_PSK"},
                                       {9, "TRANSFER_RESP", 6, "TRANSFER_INIT"}}) {
    const auto resp = VectorBytes(rs, rn);
    const auto init = VectorBytes(is, in);
    auto m = Decode(resp);
    ASSERT_TRUE(m.ok());
    auto input = MessageMacInput(m->hdr.data_type, resp, m->layout, MacContext{{}, {}, {}, init});
    ASSERT_TRUE(input.ok());
    std::vector<uint8_t> expected(resp.begin(), resp.end() - 20);
    expected.insert(expected.end(), init.begin(), init.end());
    EXPECT_EQ(*input, expected) << rn;
  }
}

TEST(VectorKeyData, KemacPlaintextsDecodeAndReencode) {
  const auto ticket_pt = VectorBytes(4, "ticket KEMAC plaintext");
  auto keys = DecodeKeyDataChain(ticket_pt);
  ASSERT_TRUE(keys.ok()) << keys.status().ToString();
  ASSERT_EQ(keys->size(), 2u);
  EXPECT_EQ((*keys)[0].type, KeyDataType::kMpk);
  EXPECT_TRUE((*keys)[0].key.ConstantTimeEqual(VectorBytes(4, "MPK")));
  EXPECT_EQ((*keys)[0].kv_type, KvType::kSpi);
  EXPECT_EQ((*keys)[1].type, KeyDataType::kTgk);
  EXPECT_EQ((*keys)[1].spi, (std::vector<uint8_t>{0, 0, 0, 1}));
  auto re = EncodeKeyDataChain(*keys);
  ASSERT_TRUE(re.ok());
  EXPECT_TRUE(re->ConstantTimeEqual(ticket_pt));

  const auto resp_pt = VectorBytes(5, "KEMAC plaintext (MPKi, MPKr, TGK)");
  auto rkeys = DecodeKeyDataChain(resp_pt);
  ASSERT_TRUE(rkeys.ok());
  ASSERT_EQ(rkeys->size(), 3u);
  // MPKi and MPKr are both type MPK, told apart only by position (spec §4.11).
  EXPECT_TRUE((*rkeys)[0].key.ConstantTimeEqual(
      VectorBytes(4, "MPKi = PRF(MPK, 220E99A2||FF||FFFFFFFF||06||len||RAND)")));
  EXPECT_TRUE((*rkeys)[1].key.ConstantTimeEqual(
      VectorBytes(4, "MPKr = PRF(MPK, 1F4D675B||FF||FFFFFFFF||06||len||RAND)")));
  auto rre = EncodeKeyDataChain(*rkeys);
  ASSERT_TRUE(rre.ok());
  EXPECT_TRUE(rre->ConstantTimeEqual(resp_pt));
}

TEST(Rfc4567Examples, OfferAndAnswerDecodeAndReencode) {
  // RFC 4567 §5.1 (spec §10.1): RFC 3830 PSK-mode init (data type 0) and verify (1).
  const char* kOffer =
      "AQAFgM0XflABAAAAAAAAAAAAAAsAyONQ6gAAAAAGEEoo2pee4hp2UaDX8ZE22YwKAAAPZG9uYWxkQGR1Y2suY2"
      "9tAQAAAAAAAQAk0JKpgaVkDaawi9whVBtBt0KZ14ymNuu62+Nv3ozPLygwK/GbAV9iemnGUIZ19fWQUOSrzKTA"
      "v9zV";
  const char* kAnswer =
      "AQEFgM0XflABAAAAAAAAAAAAAAYAyONQ6gAAAAAJAAAQbWlja2V5QG1vdXNlLmNvbQABn8HdGE5BMDXFIuGEga"
      "+62AgY5cc=";
  auto offer = Base64Decode(kOffer);
  ASSERT_TRUE(offer.ok());
  ASSERT_EQ(offer->size(), 132u);
  auto m = Decode(*offer);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->hdr.data_type, DataType::kPskInit);
  EXPECT_EQ(m->hdr.map_type, CsIdMapType::kSrtpId);
  ASSERT_EQ(m->hdr.srtp_map.size(), 1u);
  EXPECT_EQ(m->hdr.csb_id, 0xcd177e50u);
  std::vector<PayloadType> types;
  for (const auto& s : m->layout.payloads) types.push_back(s.type);
  EXPECT_EQ(types, (std::vector<PayloadType>{PayloadType::kT, PayloadType::kRand, PayloadType::kId,
                                             PayloadType::kSp, PayloadType::kKemac}));
  ASSERT_NE(m->Find<Id>(), nullptr);
  EXPECT_EQ(std::string(m->Find<Id>()->id_data.begin(), m->Find<Id>()->id_data.end()),
            "donald@duck.com");
  EXPECT_EQ(m->FindKemac()->encr_data.size(), 36u);
  EXPECT_EQ(m->FindKemac()->mac.size(), 20u);
  auto enc = Encode(*m);
  ASSERT_TRUE(enc.ok());
  EXPECT_EQ(*enc, *offer);

  auto answer = Base64Decode(kAnswer);
  ASSERT_TRUE(answer.ok());
  ASSERT_EQ(answer->size(), 71u);
  auto a = Decode(*answer);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->hdr.data_type, DataType::kPskVerify);
  EXPECT_EQ(a->FindT()->value, m->FindT()->value);  // the answer echoes the offer's T
  ASSERT_TRUE(a->layout.v_mac.has_value());
  EXPECT_EQ(a->layout.v_mac->end(), answer->size());
  auto aenc = Encode(*a);
  ASSERT_TRUE(aenc.ok());
  EXPECT_EQ(*aenc, *answer);
}

}  // namespace
}  // namespace kms::mikey
