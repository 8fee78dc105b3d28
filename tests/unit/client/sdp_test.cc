// SDP a=key-mgmt attributes (RFC 4567 §3.1, §4.1.4): encoding, strict parsing, levels.
#include "src/client/sdp.h"

#include <gtest/gtest.h>

#include "src/base/encoding.h"
#include "src/mikey/decoder.h"
#include "tests/unit/client/client_test_util.h"

namespace kms::client {
namespace {

using testing::Vec;

TEST(SdpTest, AttributeRoundTripOfVectorTransferInit) {
  const auto ti = Vec(6, "TRANSFER_INIT");
  const std::string line = KeyMgmtAttribute(ti);
  EXPECT_TRUE(line.starts_with("a=key-mgmt:mikey AQ4F"));  // spec §8.3: 01 0E -> "AQ4"
  auto km = ParseKeyMgmtAttribute(line + "\r\n");
  ASSERT_TRUE(km.ok()) << km.status().ToString();
  EXPECT_EQ(km->protocol_id, "mikey");
  EXPECT_EQ(km->data, ti);
  // Without "a=" and with the optional space after the colon.
  auto km2 = ParseKeyMgmtAttribute("key-mgmt: mikey " + Base64Encode(ti));
  ASSERT_TRUE(km2.ok());
  EXPECT_EQ(km2->data, ti);
}

TEST(SdpTest, ParseErrors) {
  const std::string b64 = Base64Encode(Vec(6, "TRANSFER_INIT"));
  const std::vector<std::string> bad = {
      "",
      "a=key-mgmt:",
      "a=key-mgmt:mikey",                                            // no data
      "a=key-mgmt:mikey ",                                           // empty data
      "a=key-mgmt: " + b64,                                          // no protocol id
      "a=key-mgmt:mi/key " + b64,                                    // not a token
      "a=key-mgmt:mikey  " + b64,                                    // two spaces
      "a=key-mgmt:mikey " + b64 + " ",                               // trailing space
      "a=key-mgmt:mikey " + b64.substr(1),                           // bad length
      "a=key-mgmt:mikey " + b64.substr(0, b64.size() - 4) + "A=A=",  // padding inside
      "a=key-mgmt:mikey AQ4F*AAA",                                   // outside the alphabet
      "a=key-mgmt:mikey AR==",                                       // non-zero unused bits
      "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:xyz",
  };
  for (const std::string& s : bad) {
    auto r = ParseKeyMgmtAttribute(s);
    EXPECT_FALSE(r.ok()) << s;
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), StatusCode::kDecodeError) << s;
    }
  }
}

TEST(SdpTest, SessionAndMediaLevels) {
  const std::vector<uint8_t> a = {1, 2, 3}, b = {4, 5, 6};
  const std::string sdp =
      "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\n"
      "a=key-mgmt:mikey " +
      Base64Encode(a) +
      "\r\n"
      "a=key-mgmt:other " +
      Base64Encode(b) +
      "\r\n"
      "m=audio 4000 RTP/SAVP 0\r\n"
      "m=video 4002 RTP/SAVP 96\n"
      "a=key-mgmt:mikey " +
      Base64Encode(b) + "\n";
  auto p = ParseSdpKeyMgmt(sdp);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  ASSERT_EQ(p->media.size(), 2u);
  EXPECT_EQ(*MikeyForMedia(*p, 0), a);  // session level applies
  EXPECT_EQ(*MikeyForMedia(*p, 1), b);  // media level overrides
  EXPECT_EQ(OfferedIds(*p, 0), "mikey;other");
  EXPECT_EQ(OfferedIds(*p, 1), "mikey");
  // A media index beyond the m-lines falls back to the session level.
  EXPECT_EQ(*MikeyForMedia(*p, 5), a);
}

TEST(SdpTest, SdpErrors) {
  // Repeated protocol at one level and a malformed attribute are errors.
  EXPECT_FALSE(ParseSdpKeyMgmt("a=key-mgmt:mikey AQID\r\na=key-mgmt:mikey AQID\r\n").ok());
  EXPECT_FALSE(ParseSdpKeyMgmt("m=audio 1 RTP/SAVP 0\r\na=key-mgmt:mikey A\r\n").ok());
  // No mikey attribute at all.
  auto p = ParseSdpKeyMgmt("v=0\r\nm=audio 1 RTP/SAVP 0\r\n");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(MikeyForMedia(*p, 0).status().code(), StatusCode::kNotFound);
}

TEST(SdpTest, SdpIdsExtensionChecked) {
  auto m = mikey::Decode(Vec(6, "TRANSFER_INIT"));
  ASSERT_TRUE(m.ok());
  EXPECT_TRUE(CheckSdpIds(*m, "mikey").ok());  // absent: accepted (spec §11 A11)
  m->payloads.insert(m->payloads.end() - 1, mikey::GeneralExtension::MakeSdpIds("mikey"));
  EXPECT_TRUE(CheckSdpIds(*m, "mikey").ok());
  EXPECT_EQ(CheckSdpIds(*m, "mikey;sdes").code(), StatusCode::kPermissionDenied);
}

TEST(SdpTest, AudioSdpCarriesTheMessage) {
  const auto ti = Vec(6, "TRANSFER_INIT");
  auto p = ParseSdpKeyMgmt(AudioSdp("alice", 49170, ti));
  ASSERT_TRUE(p.ok());
  ASSERT_EQ(p->media.size(), 1u);
  EXPECT_EQ(*MikeyForMedia(*p, 0), ti);
}

}  // namespace
}  // namespace kms::client
