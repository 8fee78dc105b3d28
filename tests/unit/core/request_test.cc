// Ticket Request at the KMS: authentication, replay, policy and fail-closed behaviour.
#include <chrono>
#include <optional>

#include "src/mikey/encoder.h"
#include "src/mikey/ticket_data.h"
#include "tests/unit/core/kms_fixture.h"

namespace kms::core::testing {
namespace {

constexpr uint64_t kT0 = 0xe8fe6f8000000000ULL;  // 1700000000 Unix as NTP-UTC

class RequestTest : public KmsFixture {
 protected:
  void SetUp() override {
    KmsFixture::SetUp();
    random_.set_fallback(true);
    clock_.Push(Ntp(kT0));
  }
  std::vector<uint8_t> Request(const UeIdentity& ue, const std::vector<std::string>& responders,
                               bool forking = true, InitParams p = {}) {
    if (p.t_ntp == 0) {
      p.t_ntp = kT0;
    }
    auto m = BuildRequestInit(ue, p, DefaultPolicy(responders, p.t_ntp, 3600, forking, p.suite256));
    EXPECT_TRUE(m.ok()) << m.status().ToString();
    return m.ok() ? *m : std::vector<uint8_t>{};
  }
};

TEST_F(RequestTest, GrantedTicketCarriesPolicyAndDecryptableKeys) {
  const auto req = Request(alice_, {bob_.identity});
  auto r = Send(req);
  ASSERT_TRUE(r.ok());
  ASSERT_FALSE(r->is_error) << LastRule();
  auto keys = OpenResponse(r->body, req, alice_);
  ASSERT_TRUE(keys.ok()) << keys.status().ToString();
  ASSERT_EQ(keys->size(), 3u);  // MPKi, MPKr (forking), TGK
  EXPECT_EQ((*keys)[0].type, mikey::KeyDataType::kMpk);
  EXPECT_EQ((*keys)[1].type, mikey::KeyDataType::kMpk);
  EXPECT_EQ((*keys)[2].type, mikey::KeyDataType::kTgk);
  EXPECT_EQ((*keys)[2].spi, (mikey::Bytes{0, 0, 0, 1}));
  auto resp = mikey::Decode(r->body);
  ASSERT_TRUE(resp.ok());
  const mikey::TicketPolicy& tp = resp->FindTicket()->policy;
  EXPECT_TRUE(tp.flags.d);
  EXPECT_TRUE(tp.flags.i);
  EXPECT_FALSE(tp.flags.k);
  ASSERT_NE(tp.FindIdr(mikey::IdRole::kInitiator), nullptr);
  EXPECT_EQ(Str(tp.FindIdr(mikey::IdRole::kInitiator)->id_data), alice_.identity);
  EXPECT_EQ(Str(tp.FindIdr(mikey::IdRole::kKms)->id_data), "https://kms.example.org");
  EXPECT_EQ(tp.FindKemac(), nullptr);  // the desired KEMAC never appears in a granted policy
  // The ticket names the TPK version that sealed it.
  auto td = mikey::DecodeBaseTicketData(resp->FindTicket()->ticket_data);
  ASSERT_TRUE(td.ok());
  EXPECT_EQ(Str(td->idr_psk->id_data), "tpk-0001");
}

TEST_F(RequestTest, NoOracleBetweenUnknownUserBadMacAndPolicyRefusal) {
  // Same HDR (CSB ID) and clock for each, so the replies must be byte-identical.
  auto bad_mac = Request(alice_, {bob_.identity});
  bad_mac[bad_mac.size() - 1] ^= 0x01;
  UeIdentity stranger{"sip:mallory@example.org", "bWFsbG9yeQ==@bsf.example.org",
                      std::vector<uint8_t>(32, 0x77)};
  auto unknown = Request(stranger, {bob_.identity});
  FakePolicyStore::Rules no;
  no.may_request = false;
  policy_.SetRules(alice_id_, no);
  InitParams p;
  p.rand = std::vector<uint8_t>(32, 0x11);  // a distinct message (not a replay)
  auto refused = Request(alice_, {bob_.identity}, true, p);

  std::vector<std::vector<uint8_t>> bodies;
  std::vector<std::string> rules;
  for (const auto* msg : {&bad_mac, &unknown, &refused}) {
    clock_.Push(Ntp(kT0));
    auto r = Send(*msg);
    ExpectError(r, mikey::ErrorNo::kAuthFailure);
    bodies.push_back(r->body);
    rules.push_back(LastRule());
  }
  EXPECT_EQ(bodies[0], bodies[1]);
  EXPECT_EQ(bodies[0], bodies[2]);
  // The audit row tells the true reason.
  EXPECT_EQ(rules[0], "mac.invalid");
  EXPECT_EQ(rules[1], "credential.unknown");
  EXPECT_EQ(rules[2], "user.may_not_request");
}

TEST_F(RequestTest, UnknownCredentialCostsTheSameTokenWork) {
  UeIdentity stranger{"sip:mallory@example.org", "unknown@bsf", std::vector<uint8_t>(32, 1)};
  const auto req_bad = Request(stranger, {bob_.identity});
  auto bad_mac = Request(alice_, {bob_.identity});
  bad_mac.back() ^= 0x80;
  size_t before = vault_.hmac_calls();
  ExpectError(Send(bad_mac), mikey::ErrorNo::kAuthFailure);
  const size_t known_cost = vault_.hmac_calls() - before;
  before = vault_.hmac_calls();
  ExpectError(Send(req_bad), mikey::ErrorNo::kAuthFailure);
  EXPECT_EQ(vault_.hmac_calls() - before, known_cost);
  EXPECT_EQ(known_cost, 2u);
}

TEST_F(RequestTest, DisabledUserAndRevokedCredentialAreRefused) {
  const int64_t dave = policy_.AddUser("dave", {"sip:dave@example.org"}, /*enabled=*/false);
  UeIdentity d{"sip:dave@example.org", "dave@bsf", std::vector<uint8_t>(32, 0xd)};
  policy_.AddCredential(dave, d.btid);
  vault_.SetCredential(d.btid, vault_.AddKey(d.psk));
  ExpectError(Send(Request(d, {bob_.identity})), mikey::ErrorNo::kAuthFailure);
  EXPECT_EQ(LastRule(), "user.disabled");

  policy_.AddCredential(carol_id_, carol_.btid, ports::CredentialKind::kUePsk,
                        ports::CredentialState::kRevoked);
  ExpectError(Send(Request(carol_, {bob_.identity})), mikey::ErrorNo::kAuthFailure);
  EXPECT_EQ(LastRule(), "credential.unusable");
}

TEST_F(RequestTest, IdentityMustBelongToTheCredential) {
  // Carol authenticates with her own PSK but claims to be Alice.
  UeIdentity fake_alice{alice_.identity, carol_.btid, carol_.psk};
  ExpectError(Send(Request(fake_alice, {bob_.identity})), mikey::ErrorNo::kAuthFailure);
  EXPECT_EQ(LastRule(), "identity.not_bound_to_credential");
}

TEST_F(RequestTest, ReplayIsRefusedAndTimestampWindowEnforced) {
  const auto req = Request(alice_, {bob_.identity});
  ASSERT_FALSE(Send(req)->is_error);
  ExpectError(Send(req), mikey::ErrorNo::kInvalidTs);
  EXPECT_EQ(LastRule(), "replay");

  InitParams old;
  old.t_ntp = kT0 - (uint64_t{301} << 32);
  old.rand = std::vector<uint8_t>(32, 0x22);
  ExpectError(Send(Request(alice_, {bob_.identity}, true, old)), mikey::ErrorNo::kInvalidTs);
  EXPECT_EQ(LastRule(), "timestamp.window");
  InitParams future = old;
  future.t_ntp = kT0 + (uint64_t{301} << 32);
  ExpectError(Send(Request(alice_, {bob_.identity}, true, future)), mikey::ErrorNo::kInvalidTs);
}

TEST_F(RequestTest, PolicyRefusesResponderNotAllowed) {
  FakePolicyStore::Rules r;
  r.allowed_responders = {carol_.identity};
  policy_.SetRules(alice_id_, r);
  ExpectError(Send(Request(alice_, {bob_.identity})), mikey::ErrorNo::kAuthFailure);
  EXPECT_EQ(LastRule(), "responder.not_allowed");
  EXPECT_EQ(audit_.records().back().outcome, ports::AuditOutcome::kDenied);
}

TEST_F(RequestTest, ForcedForkingSetsKFlag) {
  FakePolicyStore::Rules r;
  r.force_forking = true;
  policy_.SetRules(alice_id_, r);
  auto resp = Send(Request(alice_, {bob_.identity}, /*forking=*/false));
  ASSERT_FALSE(resp->is_error) << LastRule();
  auto m = mikey::Decode(resp->body);
  ASSERT_TRUE(m.ok());
  EXPECT_TRUE(m->FindTicket()->policy.flags.i);
  EXPECT_TRUE(m->FindTicket()->policy.flags.k);  // spec §11 A25: the KMS changed a flag
  EXPECT_EQ(audit_.records().back().outcome, ports::AuditOutcome::kAdjusted);
}

TEST_F(RequestTest, ValidityIsClampedByPolicy) {
  FakePolicyStore::Rules r;
  r.max_validity_s = 600;
  policy_.SetRules(alice_id_, r);
  auto resp = Send(Request(alice_, {bob_.identity}));
  ASSERT_FALSE(resp->is_error);
  auto m = mikey::Decode(resp->body);
  const mikey::TimestampR* tre = m->FindTicket()->policy.FindTr(mikey::TsRole::kEndOfValidity);
  ASSERT_NE(tre, nullptr);
  EXPECT_EQ(tre->value, (kT0 >> 32) + 600);
  EXPECT_TRUE(m->FindTicket()->policy.flags.k);
}

TEST_F(RequestTest, Suite256IsAllOrNothing) {
  UeIdentity a256 = alice_;
  InitParams p;
  p.suite256 = true;
  auto resp = Send(Request(a256, {bob_.identity}, true, p));
  ASSERT_FALSE(resp->is_error) << LastRule();
  auto req = Request(a256, {bob_.identity}, true, [] {
    InitParams q;
    q.suite256 = true;
    q.rand = std::vector<uint8_t>(32, 0x33);
    return q;
  }());
  auto ok = Send(req);
  auto keys = OpenResponse(ok->body, req, a256);
  ASSERT_TRUE(keys.ok()) << keys.status().ToString();
  EXPECT_EQ(keys->back().key.size(), 32u);  // 256-bit TGK
  auto m = mikey::Decode(ok->body);
  EXPECT_EQ(m->FindKemac()->encr_alg, mikey::EncrAlg::kAesCm256);

  // Mixed: PRF-HMAC-SHA-256 in the HDR but an HMAC-SHA-1 MAC.
  auto mixed = mikey::Decode(req);
  ASSERT_TRUE(mixed.ok());
  mixed->FindMutable<mikey::Verification>()->mac_alg = mikey::MacAlg::kHmacSha1_160;
  mixed->FindMutable<mikey::Verification>()->mac.assign(20, 0);
  auto bytes = mikey::Encode(*mixed);
  ASSERT_TRUE(bytes.ok());
  ExpectError(Send(*bytes), mikey::ErrorNo::kInvalidMac);
}

TEST_F(RequestTest, GarbageAndWrongMessageTypesGetMikeyErrors) {
  ExpectError(Send({0x01, 0x0b, 0x05}), mikey::ErrorNo::kUnsupportedMessageType);
  EXPECT_EQ(audit_.records().back().outcome, ports::AuditOutcome::kError);
  ExpectError(Send(V(6, "TRANSFER_INIT")), mikey::ErrorNo::kInvalidDt);
  EXPECT_EQ(LastRule(), "data_type.unsupported");
}

TEST_F(RequestTest, AuditFailureFailsClosed) {
  audit_.set_fail(true);
  auto r = Send(Request(alice_, {bob_.identity}));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  std::string why;
  EXPECT_FALSE(service_->Ready(&why));
  EXPECT_EQ(why, "audit writer unhealthy");
}

// HandleAsync (the HTTP front end's path): the reply is held until its audit row is
// durable, is then byte for byte what it would have been, and is withheld (kUnavailable)
// when the row cannot be made durable (architecture.md §5).
TEST_F(RequestTest, AsyncReplyIsReleasedOnlyOnceItsAuditRowIsDurable) {
  audit_.set_defer(true);
  std::optional<Result<Reply>> got;
  service_->HandleAsync(Request(alice_, {bob_.identity}), RequestContext{"127.0.0.1", "corr-2"},
                        [&](Result<Reply> r) { got = std::move(r); });
  EXPECT_FALSE(got.has_value()) << "answered before the audit row was durable";
  EXPECT_EQ(audit_.deferred(), 1u);
  EXPECT_TRUE(audit_.records().empty());
  audit_.Release(true);
  ASSERT_TRUE(got.has_value());
  ASSERT_TRUE(got->ok()) << got->status().ToString();
  EXPECT_FALSE((*got)->is_error);
  EXPECT_EQ((*got)->result, "granted");
  auto resp = mikey::Decode((*got)->body);
  ASSERT_TRUE(resp.ok());
  EXPECT_EQ(resp->hdr.data_type, mikey::DataType::kRequestResp);
  ASSERT_EQ(audit_.records().size(), 1u);
  EXPECT_EQ(audit_.records()[0].outcome, ports::AuditOutcome::kGranted);
  EXPECT_EQ(audit_.records()[0].correlation_id, "corr-2");

  // The same for a refusal, and a failed commit withholds the reply.
  got.reset();
  service_->HandleAsync(std::vector<uint8_t>{0x01, 0x0b, 0x05},
                        RequestContext{"127.0.0.1", "corr-3"},
                        [&](Result<Reply> r) { got = std::move(r); });
  EXPECT_FALSE(got.has_value());
  audit_.Release(false);
  ASSERT_TRUE(got.has_value());
  ASSERT_FALSE(got->ok());
  EXPECT_EQ(got->status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(audit_.records().size(), 1u);
  // Each decision was bracketed for the sink's batch window, and closed before its row was
  // appended (so a lone message is committed without waiting out the window).
  EXPECT_EQ(audit_.open_decisions(), 0);
  EXPECT_EQ(audit_.open_at_append(), (std::vector<int>{0, 0}));
}

TEST_F(RequestTest, AsyncTokenLossAnswersAtOnceWithoutAnAuditRow) {
  audit_.set_defer(true);
  vault_.set_unavailable(true);
  std::optional<Result<Reply>> got;
  service_->HandleAsync(Request(alice_, {bob_.identity}), RequestContext{"127.0.0.1", "c"},
                        [&](Result<Reply> r) { got = std::move(r); });
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(audit_.deferred(), 0u);
  EXPECT_EQ(audit_.open_decisions(), 0);  // closed on the early-answer path too
}

TEST_F(RequestTest, TokenLossIsUnavailableNotARefusal) {
  vault_.set_unavailable(true);
  auto r = Send(Request(alice_, {bob_.identity}));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  std::string why;
  EXPECT_FALSE(service_->Ready(&why));
  vault_.set_unavailable(false);
  EXPECT_TRUE(service_->Ready(&why));
}

TEST_F(RequestTest, TokenRngFailureMintsNothing) {
  random_.set_fallback(false);  // scripted RNG empty: every draw fails
  auto r = Send(Request(alice_, {bob_.identity}));
  EXPECT_FALSE(r.ok());
  for (const auto& rec : audit_.records()) {
    EXPECT_NE(rec.outcome, ports::AuditOutcome::kGranted);
  }
}

}  // namespace
}  // namespace kms::core::testing
