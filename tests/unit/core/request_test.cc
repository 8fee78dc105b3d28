// Ticket Request at the KMS: authentication, replay, policy and fail-closed behaviour.
#include <chrono>
#include <optional>
#include <variant>
#include <vector>

#include "src/core/error_reply.h"
#include "src/crypto/digest.h"
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
  // GrantedWithoutRequestedEnd: alice asks for a ticket with no TRe (the KMS picks the
  // end); returns the granted policy.
  std::optional<mikey::TicketPolicy> GrantedWithoutRequestedEnd(bool forking) {
    mikey::TicketPolicy desired = DefaultPolicy({bob_.identity}, kT0, 3600, forking);
    std::erase_if(desired.tp_data, [](const mikey::InnerPayload& p) {
      return std::holds_alternative<mikey::TimestampR>(p);
    });
    InitParams p;
    p.t_ntp = kT0;
    auto req = BuildRequestInit(alice_, p, desired);
    auto resp = req.ok() ? Send(*req) : Result<Reply>(req.status());
    if (!resp.ok() || resp->is_error) {
      ADD_FAILURE() << (resp.ok() ? LastRule() : resp.status().ToString());
      return std::nullopt;
    }
    auto m = mikey::Decode(resp->body);
    if (!m.ok() || m->FindTicket() == nullptr) {
      ADD_FAILURE() << "undecodable REQUEST_RESP";
      return std::nullopt;
    }
    return m->FindTicket()->policy;
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
  std::vector<ports::AuditRecord> rows;
  for (const auto* msg : {&bad_mac, &unknown, &refused}) {
    clock_.Push(Ntp(kT0));
    auto r = Send(*msg);
    ExpectError(r, mikey::ErrorNo::kAuthFailure);
    bodies.push_back(r->body);
    rows.push_back(audit_.records().back());
  }
  EXPECT_EQ(bodies[0], bodies[1]);
  EXPECT_EQ(bodies[0], bodies[2]);
  // The audit row tells the true reason.
  EXPECT_EQ(rows[0].rule, "mac.invalid");
  EXPECT_EQ(rows[1].rule, "credential.unknown");
  EXPECT_EQ(rows[2].rule, "user.may_not_request");
  // Whoever failed to authenticate is not named as the actor: the identity is only claimed
  // (anyone can write sip:alice@ into IDRi); the claim is kept in the detail, marked as such.
  EXPECT_EQ(rows[0].actor, "ue:unauthenticated");
  EXPECT_NE(rows[0].detail.find("claimed identity " + alice_.identity), std::string::npos);
  EXPECT_EQ(rows[1].actor, "ue:unauthenticated");
  EXPECT_NE(rows[1].detail.find("claimed identity sip:mallory@example.org"), std::string::npos);
  EXPECT_EQ(rows[2].actor, "ue:" + alice_.identity);  // authenticated, then refused
  EXPECT_EQ(rows[2].detail.find("claimed"), std::string::npos);
}

TEST_F(RequestTest, UnknownCredentialAndPolicyRefusalCostTheSameTokenWork) {
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
  // A policy refusal (the MAC verified) costs the same: nothing is derived or drawn for a
  // message the policy refuses.
  FakePolicyStore::Rules r;
  r.allowed_responders = {carol_.identity};
  policy_.SetRules(alice_id_, r);
  before = vault_.hmac_calls();
  ExpectError(Send(Request(alice_, {bob_.identity})), mikey::ErrorNo::kAuthFailure);
  EXPECT_EQ(LastRule(), "responder.not_allowed");
  EXPECT_EQ(vault_.hmac_calls() - before, known_cost);
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
  // The row must not say Alice did it.
  EXPECT_EQ(audit_.records().back().actor, "ue:unauthenticated");
  EXPECT_EQ(audit_.records().back().credential_id, carol_.btid);
}

// Checklist item 18: the audit row of every message the replay cache accepted carries its
// mark (SHA-256 of the message and its timestamp), persisted in the row's commit so that a
// restarted kmsd reloads it; refused and unauthenticated messages carry none.
TEST_F(RequestTest, AcceptedMessagesLeaveAReplayMarkWithTheirAuditRow) {
  const auto req = Request(alice_, {bob_.identity});
  ASSERT_FALSE(Send(req)->is_error);
  const ports::AuditRecord granted = audit_.records().back();  // records() returns a copy
  ASSERT_TRUE(granted.replay.has_value());
  EXPECT_EQ(granted.replay->digest, crypto::Sha256(req));
  EXPECT_EQ(granted.replay->sent, FromNtp64(kT0));
  ExpectError(Send(req), mikey::ErrorNo::kInvalidTs);  // the replay: no new mark
  EXPECT_FALSE(audit_.records().back().replay.has_value());
  auto bad_mac = Request(alice_, {bob_.identity});
  bad_mac.back() ^= 0x01;
  ExpectError(Send(bad_mac), mikey::ErrorNo::kAuthFailure);
  EXPECT_FALSE(audit_.records().back().replay.has_value());
  // A policy refusal of an authenticated message keeps its mark: it was answered.
  FakePolicyStore::Rules r;
  r.allowed_responders = {carol_.identity};
  policy_.SetRules(alice_id_, r);
  InitParams fresh;
  fresh.rand = std::vector<uint8_t>(32, 0x6b);  // another message than `req`
  ExpectError(Send(Request(alice_, {bob_.identity}, true, fresh)), mikey::ErrorNo::kAuthFailure);
  EXPECT_EQ(LastRule(), "responder.not_allowed");
  EXPECT_TRUE(audit_.records().back().replay.has_value());
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

// Without a TRe the KMS sets the end itself; that must not clear the K flag the policy's
// adjustment set (spec §11 A25).
TEST_F(RequestTest, ForcedForkingSetsKFlagWhenNoEndWasRequested) {
  FakePolicyStore::Rules r;
  r.force_forking = true;
  policy_.SetRules(alice_id_, r);
  auto granted = GrantedWithoutRequestedEnd(/*forking=*/false);
  ASSERT_TRUE(granted.has_value());
  EXPECT_TRUE(granted->flags.i);
  EXPECT_TRUE(granted->flags.k);
  EXPECT_NE(granted->FindTr(mikey::TsRole::kEndOfValidity), nullptr);
}

// Nothing changed, no end requested: the KMS's own TRe alone does not set K.
TEST_F(RequestTest, KFlagStaysClearWhenOnlyTheKmsChoseTheEnd) {
  auto granted = GrantedWithoutRequestedEnd(/*forking=*/true);
  ASSERT_TRUE(granted.has_value());
  EXPECT_FALSE(granted->flags.k);
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

// A message whose HDR parsed but whose body did not: the Error copies version, PRF and
// CSB ID (spec §2.9, §11 A12), so the UE can match it to its pending request.
TEST_F(RequestTest, ErrorForAnUndecodableBodyCopiesTheHdr) {
  InitParams p;
  p.csb_id = 0xc0ffee01;
  p.suite256 = true;
  p.t_ntp = kT0;
  auto req = Request(alice_, {bob_.identity}, true, p);
  ASSERT_GT(req.size(), 12u);
  req.pop_back();  // the V MAC now overruns the message
  auto r = Send(req);
  ExpectError(r, mikey::ErrorNo::kUnsupportedMessageType);
  auto m = mikey::Decode(r->body);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->hdr.csb_id, 0xc0ffee01u);
  EXPECT_EQ(m->hdr.prf, mikey::PrfFunc::kPrfHmacSha256);
  EXPECT_EQ(m->hdr.map_type, mikey::CsIdMapType::kEmpty);
  EXPECT_EQ(r->request_data_type, 0xff);  // the message itself did not decode
  EXPECT_EQ(audit_.records().back().outcome, ports::AuditOutcome::kError);
  // An unreadable HDR leaves nothing to copy: CSB ID 0.
  auto garbage = Send({0x01, 0x0b, 0x05});
  ExpectError(garbage, mikey::ErrorNo::kUnsupportedMessageType);
  EXPECT_EQ(mikey::Decode(garbage->body)->hdr.csb_id, 0u);
}

// Spec §2.9: Errors are never sent in response to Error messages. The message is audited
// and refused at the transport level (kInvalidArgument: HTTP 400), without a MIKEY body.
TEST_F(RequestTest, AMikeyErrorMessageIsNotAnsweredWithAnError) {
  mikey::Hdr hdr;
  hdr.csb_id = 0x01020304;
  auto err = BuildErrorMessage(hdr, mikey::ErrorNo::kUnspecified, kT0);
  ASSERT_TRUE(err.ok());
  auto r = Send(*err);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(LastRule(), "data_type.error_not_answered");
  EXPECT_EQ(audit_.records().back().actor, "ue:unauthenticated");
}

// HandleAsync: an error after the decision (token RNG down) is released only once its
// Error row is durable, like any reply.
TEST_F(RequestTest, AsyncErrorAfterTheDecisionIsAuditedFirst) {
  audit_.set_defer(true);
  random_.set_fallback(false);
  std::optional<Result<Reply>> got;
  service_->HandleAsync(Request(alice_, {bob_.identity}), RequestContext{"127.0.0.1", "corr-3"},
                        [&](Result<Reply> r) { got = std::move(r); });
  EXPECT_FALSE(got.has_value());
  EXPECT_EQ(audit_.deferred(), 1u);
  audit_.Release(true);
  ASSERT_TRUE(got.has_value());
  EXPECT_FALSE(got->ok());
  ASSERT_EQ(audit_.records().size(), 1u);
  EXPECT_EQ(audit_.records()[0].outcome, ports::AuditOutcome::kError);
  EXPECT_EQ(audit_.records()[0].rule, "error.after_decision");
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
  const size_t rows = audit_.records().size();
  auto r = Send(Request(alice_, {bob_.identity}));
  EXPECT_FALSE(r.ok());
  for (const auto& rec : audit_.records()) {
    EXPECT_NE(rec.outcome, ports::AuditOutcome::kGranted);
  }
  // The policy had allowed the request when the RNG failed: the decision still leaves
  // exactly one row, an Error naming the authenticated caller (architecture.md §5).
  ASSERT_EQ(audit_.records().size(), rows + 1);
  const ports::AuditRecord row = audit_.records().back();
  EXPECT_EQ(row.outcome, ports::AuditOutcome::kError);
  EXPECT_EQ(row.rule, "error.after_decision");
  EXPECT_EQ(row.actor, "ue:" + alice_.identity);
}

}  // namespace
}  // namespace kms::core::testing
