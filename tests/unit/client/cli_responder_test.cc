// kms-client's responder side (src/cli/kms_client, compiled into this test): the verdict
// on a `call` party that got no keys (UnansweredExit), from the offer (AnswerOffer) on.
#include <gtest/gtest.h>

#include <functional>

#include "src/cli/kms_client/call_parts.h"
#include "src/cli/kms_client/commands.h"
#include "src/client/sdp.h"
#include "src/mikey/encoder.h"
#include "tests/unit/client/client_test_util.h"

namespace kms::cli {
namespace {

using client::testing::At;
using client::testing::CsbOf;
using client::testing::RandOf;
using client::testing::Vec;

// FakeKms: answers every exchange with `answer(request)`.
class FakeKms final : public client::KmsTransport {
 public:
  explicit FakeKms(std::function<Result<std::vector<uint8_t>>(std::span<const uint8_t>)> f)
      : answer_(std::move(f)) {}
  Result<std::vector<uint8_t>> Exchange(std::span<const uint8_t> req) override {
    ++calls;
    return answer_(req);
  }
  int calls = 0;

 private:
  std::function<Result<std::vector<uint8_t>>(std::span<const uint8_t>)> answer_;
};

std::vector<uint8_t> MikeyError() {
  mikey::Message e;  // what a KMS sends when it refuses (RFC 3830 §6.12)
  e.hdr.data_type = mikey::DataType::kError;
  e.payloads.push_back(mikey::Timestamp{mikey::TsType::kNtpUtc, 1});
  e.payloads.push_back(mikey::ErrorPayload{mikey::ErrorNo::kAuthFailure, 0});
  auto wire = mikey::Encode(e);
  KMS_CHECK(wire.ok());
  return std::move(wire).value();
}

class AnswerOfferTest : public ::testing::Test {
 protected:
  // Party: B's vector credentials under `role`.
  static std::unique_ptr<Party> MakeParty(const std::string& role) {
    auto p = std::make_unique<Party>();
    p->label = role + "#1";
    p->role = role;
    p->creds = client::testing::CredsB();
    p->answers_for = {p->creds.identity};
    return p;
  }
  // Answer: the vector TRANSFER_INIT offered to `p`, with the draws and clock that make its
  // RESOLVE_INIT_PSK the vector's (section 7), then, if `resp_draws`, those of the
  // vector's TRANSFER_RESP (section 9).
  Result<DeviceResult> Answer(client::KmsTransport& kms, Party& p, bool resp_draws = false) {
    const auto ri = Vec(7, "RESOLVE_INIT_PSK");
    rng_.PushU32(CsbOf(ri));
    rng_.Push(RandOf(ri, mikey::RandRole::kResponder));
    if (resp_draws) {
      rng_.Push(RandOf(Vec(9, "TRANSFER_RESP"), mikey::RandRole::kResponder));
      rng_.PushU32(0xbbbb0002);
    }
    const std::string offer = client::AudioSdp("alice", 49170, Vec(6, "TRANSFER_INIT"));
    return AnswerOffer(kms, "https://kms.example.org", p, offer, env_);
  }
  client::testing::ScriptedRandom rng_;
  FakeClock clock_{At(3)};
  client::Env env_{rng_, clock_};
};

// Before the fix, `call` reported every outsider without keys as "refused as expected",
// also when its KMS exchange never happened.
TEST_F(AnswerOfferTest, OutsiderWhoseKmsFailedIsNotAnExpectedRefusal) {
  FakeKms down([](std::span<const uint8_t>) -> Result<std::vector<uint8_t>> {
    return UnavailableError("connection refused");
  });
  auto outsider = MakeParty("outsider");
  auto d = Answer(down, *outsider);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_FALSE(d->answered());
  EXPECT_EQ(UnansweredExit(*d), kExitTransport);

  FakeKms refusing(
      [](std::span<const uint8_t>) -> Result<std::vector<uint8_t>> { return MikeyError(); });
  auto d2 = Answer(refusing, *outsider);
  ASSERT_TRUE(d2.ok()) << d2.status().ToString();
  EXPECT_FALSE(d2->answered());
  EXPECT_EQ(UnansweredExit(*d2), kExitOk);  // the KMS refused it: what the scenario expects
  // A member refused by the KMS fails the call.
  auto member = MakeParty("member");
  auto d3 = Answer(refusing, *member);
  ASSERT_TRUE(d3.ok());
  EXPECT_EQ(UnansweredExit(*d3), kExitRefused);
}

TEST(UnansweredExitTest, OnlyTheRefusedClassIsExpectedOfAnOutsider) {
  DeviceResult d;
  d.role = "outsider";
  const std::pair<Status, int> cases[] = {{FailedPreconditionError("MIKEY Error 12"), kExitOk},
                                          {AuthFailedError("RESOLVE_RESP MAC"), kExitOk},
                                          {PermissionDeniedError("policy"), kExitOk},
                                          {UnavailableError("HTTP status 503"), kExitTransport},
                                          {DecodeError("truncated"), kExitBadInput},
                                          {InvalidArgumentError("bad"), kExitBadInput}};
  for (const auto& [refusal, want] : cases) {
    d.refusal = refusal;
    EXPECT_EQ(UnansweredExit(d), want) << refusal.ToString();
  }
  d.role = "device";
  d.refusal = FailedPreconditionError("MIKEY Error 12");
  EXPECT_EQ(UnansweredExit(d), kExitRefused);
}

}  // namespace
}  // namespace kms::cli
