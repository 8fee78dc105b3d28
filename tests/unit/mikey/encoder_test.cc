// Encoder and sender-side MAC flow: build messages from the model, compute MAC inputs on the
// encoded bytes, patch MACs in, and compare with the independent vectors.
#include "src/mikey/encoder.h"

#include <gtest/gtest.h>

#include <vector>

#include "src/mikey/decoder.h"
#include "src/mikey/key_data.h"
#include "src/mikey/mac_coverage.h"
#include "src/mikey/ticket_data.h"
#include "tests/unit/mikey/test_util.h"

namespace kms::mikey {
namespace {

using testing::VectorBytes;

// RequestInitModel: REQUEST_INIT_PSK of vector section 3, built field by field from the
// annotated layout in spec §10.2, with a zero MAC.
Message RequestInitModel() {
  Message m;
  m.hdr.data_type = DataType::kRequestInitPsk;
  m.hdr.v_flag = true;
  m.hdr.prf = PrfFunc::kMikey1;
  m.hdr.csb_id = 0x11223344;
  m.hdr.cs_count = 0;
  m.hdr.map_type = CsIdMapType::kEmpty;
  m.payloads.emplace_back(Timestamp{TsType::kNtpUtc, 0xe8fe6f8080000000ull});
  const auto wire = VectorBytes(3, "REQUEST_INIT_PSK");
  m.payloads.emplace_back(RandR{RandRole::kInitiator, Bytes(wire.begin() + 23, wire.begin() + 55)});
  m.payloads.emplace_back(Idr{IdRole::kInitiator, IdType::kUri, VectorBytes(2, "IDi")});
  m.payloads.emplace_back(Idr{IdRole::kKms, IdType::kUri, VectorBytes(2, "IDkms")});
  Tp tp;
  tp.policy.prf = PrfFunc::kMikey1;
  tp.policy.flags = TpFlags{
      .d = true, .e = true, .f = true, .g = true, .h = true, .i = true, .n = true, .o = true};
  tp.policy.tp_data.emplace_back(TimestampR{TsRole::kEndOfValidity, TsType::kNtpUtc32, 0xe8fe7d90});
  // Desired keys: one 128-bit TGK with zero key bytes and a zero SPI (spec §4.12.2).
  std::vector<KeyData> desired(1);
  desired[0].type = KeyDataType::kTgk;
  desired[0].kv_type = KvType::kSpi;
  desired[0].key = SecretBytes(16);
  desired[0].spi = Bytes(4, 0);
  auto chain = EncodeKeyDataChain(desired);
  EXPECT_TRUE(chain.ok());
  tp.policy.tp_data.emplace_back(Kemac{
      EncrAlg::kNull, Bytes(chain->Reveal().begin(), chain->Reveal().end()), MacAlg::kNull, {}});
  tp.policy.tp_data.emplace_back(Idr{IdRole::kResponder, IdType::kUri, VectorBytes(2, "IDr")});
  m.payloads.emplace_back(std::move(tp));
  m.payloads.emplace_back(
      Idr{IdRole::kPreSharedKey, IdType::kByteString, VectorBytes(2, "B-TID(A)")});
  m.payloads.emplace_back(Verification{MacAlg::kHmacSha1_160, Bytes(20, 0)});
  return m;
}

TEST(Encoder, BuildsRequestInitAndPatchesTheMac) {
  auto enc = EncodeWithLayout(RequestInitModel());
  ASSERT_TRUE(enc.ok()) << enc.status().ToString();
  const auto expected = VectorBytes(3, "REQUEST_INIT_PSK");
  ASSERT_EQ(enc->wire.size(), expected.size());
  // The MAC input does not depend on the placeholder MAC.
  auto input =
      RequestInitMacInput(enc->wire, enc->layout, VectorBytes(2, "IDi"), VectorBytes(2, "IDkms"));
  ASSERT_TRUE(input.ok());
  EXPECT_EQ(*input, VectorBytes(3, "MAC input = msg-without-MAC || IDi || IDkms"));
  ASSERT_TRUE(PatchMessageMac(enc->wire, enc->layout, VectorBytes(3, "MAC")).ok());
  EXPECT_EQ(enc->wire, expected);
  // Patching with a wrong-length MAC is refused.
  EXPECT_EQ(PatchMessageMac(enc->wire, enc->layout, Bytes(32, 0)).code(),
            StatusCode::kInvalidArgument);
  // A layout of another buffer is refused.
  std::vector<uint8_t> shorter(enc->wire.begin(), enc->wire.end() - 1);
  EXPECT_EQ(ErrorMacInput(shorter, enc->layout).status().code(), StatusCode::kInvalidArgument);
}

TEST(Encoder, RebuildsTransferInitFromZeroedMacs) {
  const auto wire = VectorBytes(6, "TRANSFER_INIT");
  auto m = Decode(wire);
  ASSERT_TRUE(m.ok());
  const Bytes v_mac = m->FindV()->mac;
  const auto vector_input =
      TransferInitMacInput(wire, m->layout, VectorBytes(2, "IDi"), VectorBytes(2, "IDr"));
  ASSERT_TRUE(vector_input.ok());
  // Zero every MAC in the model: ticket V, Vi, Vr, message V.
  Ticket* t = m->FindMutable<Ticket>();
  auto td = DecodeBaseTicketData(t->ticket_data);
  ASSERT_TRUE(td.ok());
  const Bytes ticket_mac = td->v.mac;
  td->v.mac.assign(20, 0);
  t->ticket_data = *EncodeBaseTicketData(*td);
  auto init = DecodeInitiatorData(t->initiator_data);
  ASSERT_TRUE(init.ok());
  const Bytes vr_mac = init->vr.mac;
  init->vi.mac.assign(20, 0);
  init->vr.mac.assign(20, 0);
  t->initiator_data = *EncodeInitiatorData(*init);
  m->FindMutable<Verification>()->mac.assign(20, 0);

  auto enc = EncodeWithLayout(*m);
  ASSERT_TRUE(enc.ok());
  ASSERT_TRUE(enc->layout.ticket && enc->layout.ticket->base_ticket &&
              enc->layout.ticket->initiator);
  // Sender order: ticket MAC (KMS, earlier), then message MAC, then Vi = V MAC and Vr.
  ASSERT_TRUE(PatchTicketMac(enc->wire, enc->layout, ticket_mac).ok());
  auto input =
      TransferInitMacInput(enc->wire, enc->layout, VectorBytes(2, "IDi"), VectorBytes(2, "IDr"));
  ASSERT_TRUE(input.ok());
  EXPECT_EQ(*input, *vector_input);  // Initiator Data (zeroed here) is not covered
  ASSERT_TRUE(PatchMessageMac(enc->wire, enc->layout, v_mac).ok());
  auto vr_input = VrMacInput(enc->wire, enc->layout);
  ASSERT_TRUE(vr_input.ok());
  ASSERT_TRUE(PatchInitiatorDataMacs(enc->wire, enc->layout, v_mac, vr_mac).ok());
  EXPECT_EQ(enc->wire, wire);
  // Vr covers the Initiator Data with Vi's MAC in place, so it must be computed after the
  // Vi patch: the input taken before differs exactly in those bytes.
  auto vr_after = VrMacInput(enc->wire, enc->layout);
  ASSERT_TRUE(vr_after.ok());
  EXPECT_NE(*vr_input, *vr_after);
}

TEST(Encoder, RejectsValuesThatDoNotFitTheWire) {
  Message m = RequestInitModel();
  m.FindMutable<Verification>()->mac.resize(19);
  EXPECT_EQ(Encode(m).status().code(), StatusCode::kInvalidArgument);

  m = RequestInitModel();
  m.FindMutable<RandR>()->rand.resize(256);
  EXPECT_EQ(Encode(m).status().code(), StatusCode::kInvalidArgument);

  m = RequestInitModel();
  m.FindMutable<Timestamp>()->ts_type = TsType::kCounter;  // value needs 64 bits
  EXPECT_EQ(Encode(m).status().code(), StatusCode::kInvalidArgument);

  m = RequestInitModel();
  m.FindMutable<Tp>()->policy.flags.f = false;  // G => F violated
  EXPECT_EQ(Encode(m).status().code(), StatusCode::kInvalidArgument);

  m = RequestInitModel();
  m.hdr.cs_count = 1;  // #CS with an Empty map is fine on the wire ...
  EXPECT_TRUE(Encode(m).ok());
  m.hdr.map_type = CsIdMapType::kGenericId;  // ... but GENERIC-ID needs one block per CS
  EXPECT_EQ(Encode(m).status().code(), StatusCode::kInvalidArgument);

  m = RequestInitModel();
  m.payloads.insert(m.payloads.begin(), Sign{SignType::kRsaPss, Bytes(8, 1)});
  EXPECT_EQ(Encode(m).status().code(), StatusCode::kInvalidArgument);  // SIGN not last
}

TEST(Encoder, PkVariantWithSignRoundTripsAndCoversTheSignatureHeader) {
  Message m = RequestInitModel();
  m.hdr.data_type = DataType::kRequestInitPk;
  m.payloads.pop_back();  // no V
  m.payloads.emplace_back(Pke{1, Bytes(128, 0x5a)});
  m.payloads.emplace_back(Sign{SignType::kRsaPkcs1v15, Bytes(256, 0xa5)});
  auto enc = EncodeWithLayout(m);
  ASSERT_TRUE(enc.ok());
  auto d = Decode(enc->wire);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(*Encode(*d), enc->wire);
  ASSERT_TRUE(d->layout.signature.has_value());
  EXPECT_EQ(d->layout.signature->end(), enc->wire.size());
  auto input = RequestInitMacInput(enc->wire, d->layout, {}, {});
  ASSERT_TRUE(input.ok());
  EXPECT_EQ(input->size(), enc->wire.size() - 256);  // SIGN's 2-byte header is covered
  EXPECT_EQ(d->Find<Pke>()->c, 1);
}

TEST(Encoder, ErrorMessageRoundTrip) {
  Message m;
  m.hdr.data_type = DataType::kError;
  m.hdr.csb_id = 0x0badcafe;
  m.payloads.emplace_back(Timestamp{TsType::kNtpUtc32, 0xe8fe6f80});
  m.payloads.emplace_back(ErrorPayload{ErrorNo::kInvalidTicket, 0});
  m.payloads.emplace_back(ErrorPayload{ErrorNo::kInvalidTpPar, 0});
  m.payloads.emplace_back(Verification{MacAlg::kHmacSha256_256, Bytes(32, 7)});
  auto enc = Encode(m);
  ASSERT_TRUE(enc.ok());
  auto d = Decode(*enc);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  ASSERT_EQ(d->Errors().size(), 2u);
  EXPECT_EQ(d->Errors()[1]->error_no, ErrorNo::kInvalidTpPar);
  auto input = ErrorMacInput(*enc, d->layout);
  ASSERT_TRUE(input.ok());
  EXPECT_EQ(*input, Bytes(enc->begin(), enc->end() - 32));
  // An Error message without ERR is not an Error message.
  m.payloads.erase(m.payloads.begin() + 1, m.payloads.begin() + 3);
  testing::ExpectDecodeError(*Encode(m), 13);
}

TEST(GeneralExtensionHelpers, SdpIdsAndKeyIds) {
  auto g = GeneralExtension::MakeSdpIds("mikey;sdescriptions");
  EXPECT_EQ(*g.SdpIds(), "mikey;sdescriptions");
  EXPECT_FALSE(g.KeyIds().ok());
  auto k = GeneralExtension::MakeKeyId(
      {{KeyIdType::kMbmsServiceKeyId, Bytes{1, 2, 3}}, {KeyIdType::kMbmsTrafficKeyId, {}}});
  ASSERT_TRUE(k.ok());
  EXPECT_EQ(k->data, (Bytes{1, 3, 1, 2, 3, 2, 0}));
  auto ids = k->KeyIds();
  ASSERT_TRUE(ids.ok());
  ASSERT_EQ(ids->size(), 2u);
  EXPECT_EQ((*ids)[0].key_id, (Bytes{1, 2, 3}));
  k->data.pop_back();
  EXPECT_EQ(k->KeyIds().status().detail(), std::optional<uint8_t>(13));
  EXPECT_FALSE(k->SdpIds().ok());
}

TEST(KeyDataChain, SaltsIntervalsAndRejections) {
  std::vector<KeyData> keys(2);
  keys[0].type = KeyDataType::kTekSalt;
  keys[0].key = SecretBytes::CopyFrom(Bytes(16, 0x11));
  keys[0].salt = SecretBytes::CopyFrom(Bytes(14, 0x22));
  keys[0].kv_type = KvType::kInterval;
  keys[0].valid_from = Bytes(6, 0);
  keys[0].valid_to = Bytes(6, 0xff);
  keys[1].type = KeyDataType::kGtgk;
  keys[1].kv_type = KvType::kNull;
  keys[1].key = SecretBytes::CopyFrom(Bytes(32, 0x33));
  auto pt = EncodeKeyDataChain(keys);
  ASSERT_TRUE(pt.ok());
  auto back = DecodeKeyDataChain(pt->Reveal());
  ASSERT_TRUE(back.ok());
  ASSERT_EQ(back->size(), 2u);
  ASSERT_TRUE((*back)[0].salt.has_value());
  EXPECT_TRUE((*back)[0].salt->ConstantTimeEqual(Bytes(14, 0x22)));
  EXPECT_EQ((*back)[0].valid_to, Bytes(6, 0xff));
  EXPECT_FALSE((*back)[1].salt.has_value());
  // Every truncation fails.
  const auto bytes = pt->Reveal();
  for (size_t n = 0; n < bytes.size(); ++n) {
    auto r = DecodeKeyDataChain(bytes.first(n));
    ASSERT_FALSE(r.ok()) << n;
    EXPECT_EQ(r.status().detail(), std::optional<uint8_t>(13));
  }
  // Trailing byte, bad next, unknown type, too many keys.
  Bytes trailing(bytes.begin(), bytes.end());
  trailing.push_back(0);
  EXPECT_FALSE(DecodeKeyDataChain(trailing).ok());
  Bytes bad_next(bytes.begin(), bytes.end());
  bad_next[0] = 5;
  EXPECT_FALSE(DecodeKeyDataChain(bad_next).ok());
  Bytes bad_type(bytes.begin(), bytes.end());
  bad_type[1] = 0x72;
  EXPECT_FALSE(DecodeKeyDataChain(bad_type).ok());
  EXPECT_FALSE(DecodeKeyDataChain(bytes, 1).ok());
  // Encoder consistency checks.
  std::vector<KeyData> bad(1);
  bad[0].type = KeyDataType::kTgkSalt;  // salt missing
  bad[0].key = SecretBytes(16);
  EXPECT_EQ(EncodeKeyDataChain(bad).status().code(), StatusCode::kInvalidArgument);
  bad[0].type = KeyDataType::kTgk;
  bad[0].kv_type = KvType::kNull;
  bad[0].spi = Bytes{1};
  EXPECT_EQ(EncodeKeyDataChain(bad).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(EncodeKeyDataChain({}).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace kms::mikey
