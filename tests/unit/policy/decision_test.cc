// Table-driven tests of the pure policy decisions (policy/decision.h): every rule, default
// deny, and the interactions between adjustments (K flag, spec §11 A25).
#include "policy/decision.h"

#include <functional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace kms::policy {
namespace {

using ports::Decision;
using ports::EffectivePolicy;
using ports::ResolveFacts;
using ports::ResponderRule;
using ports::ResponderRuleKind;
using ports::Suite;
using ports::TicketRequestFacts;
using ports::Verdict;

EffectivePolicy BasePolicy() {
  EffectivePolicy p;
  p.user = ports::UserInfo{1, "alice", "alice@ims.example.org",
                           {"sip:alice@example.org", "tel:+15550001"}, true};
  ports::PolicyRules r;
  r.may_request = true;
  r.allowed_responders = {{ResponderRuleKind::kExact, "sip:bob@example.org"},
                          {ResponderRuleKind::kDomain, "*@partner.net"},
                          {ResponderRuleKind::kDomain, "*.corp.example"},
                          {ResponderRuleKind::kGroup, "sip:team@example.org"}};
  r.max_validity_s = 3600;
  r.reuse_allowed = true;
  r.max_reuse_window_s = 600;
  r.forking_required = false;
  r.mode3_allowed = false;
  r.allowed_suites = static_cast<uint8_t>(Suite::k128);
  r.rate_limit_per_min = 10;
  p.rules = r;
  p.source = ports::PolicySource::kSystemDefault;
  p.group_members["sip:team@example.org"] = {"sip:carol@example.org", "sip:dave@example.org"};
  return p;
}

TicketRequestFacts BaseFacts() {
  TicketRequestFacts f;
  f.initiator = "sip:alice@example.org";
  f.responders = {"sip:bob@example.org"};
  f.requested_validity_s = 1800;
  f.suite = Suite::k128;
  return f;
}

struct TicketCase {
  std::string name;
  std::function<void(EffectivePolicy&, TicketRequestFacts&)> mutate;
  Verdict verdict;
  std::string rule;
  std::vector<std::string> adjustments = {};
  uint32_t validity = 0;  // checked when the verdict is not deny
  bool reuse = false;
  bool forking = false;
};

class TicketDecisionTest : public ::testing::TestWithParam<TicketCase> {};

TEST_P(TicketDecisionTest, Decides) {
  const TicketCase& c = GetParam();
  EffectivePolicy p = BasePolicy();
  TicketRequestFacts f = BaseFacts();
  c.mutate(p, f);
  Decision d = DecideTicketRequest(p, f);
  EXPECT_EQ(d.verdict, c.verdict);
  EXPECT_EQ(d.rule, c.rule);
  EXPECT_EQ(d.adjustments, c.adjustments);
  EXPECT_EQ(d.k_flag, c.verdict == Verdict::kAdjust);
  if (c.verdict != Verdict::kDeny) {
    EXPECT_TRUE(d.allowed());
    EXPECT_EQ(d.granted_validity_s, c.validity);
    EXPECT_EQ(d.granted_reuse, c.reuse);
    EXPECT_EQ(d.granted_forking, c.forking);
  } else {
    EXPECT_FALSE(d.allowed());
    EXPECT_EQ(d.granted_validity_s, 0u);
    EXPECT_FALSE(d.granted_reuse);
  }
}

const auto kNoop = [](EffectivePolicy&, TicketRequestFacts&) {};

INSTANTIATE_TEST_SUITE_P(
    Rules, TicketDecisionTest,
    ::testing::Values(
        TicketCase{"Allow", kNoop, Verdict::kAllow, "ticket.allow", {}, 1800},
        // ---- default deny ----
        TicketCase{"NoUser", [](auto& p, auto&) { p.user.reset(); }, Verdict::kDeny,
                   "user.unknown"},
        TicketCase{"NoUserAndNoRules",
                   [](auto& p, auto&) {
                     p.user.reset();
                     p.rules.reset();
                   },
                   Verdict::kDeny, "user.unknown"},
        TicketCase{"DisabledUser", [](auto& p, auto&) { p.user->enabled = false; },
                   Verdict::kDeny, "user.disabled"},
        TicketCase{"NoSystemDefault", [](auto& p, auto&) { p.rules.reset(); }, Verdict::kDeny,
                   "policy.none"},
        TicketCase{"DefaultConstructedPolicy", [](auto& p, auto&) { p = EffectivePolicy{}; },
                   Verdict::kDeny, "user.unknown"},
        TicketCase{"InitiatorNotOwned",
                   [](auto&, auto& f) { f.initiator = "sip:mallory@example.org"; },
                   Verdict::kDeny, "identity.not_owned"},
        TicketCase{"SecondIdentityOwned", [](auto&, auto& f) { f.initiator = "tel:+15550001"; },
                   Verdict::kAllow, "ticket.allow", {}, 1800},
        TicketCase{"MayNotRequest", [](auto& p, auto&) { p.rules->may_request = false; },
                   Verdict::kDeny, "request.not_allowed"},
        // ---- rate limit ----
        TicketCase{"RateBelowLimit", [](auto&, auto& f) { f.requests_in_last_minute = 9; },
                   Verdict::kAllow, "ticket.allow", {}, 1800},
        TicketCase{"RateAtLimit", [](auto&, auto& f) { f.requests_in_last_minute = 10; },
                   Verdict::kDeny, "rate.exceeded"},
        TicketCase{"RateUnlimited",
                   [](auto& p, auto& f) {
                     p.rules->rate_limit_per_min = 0;
                     f.requests_in_last_minute = 100000;
                   },
                   Verdict::kAllow, "ticket.allow", {}, 1800},
        TicketCase{"DisabledBeatsRate",
                   [](auto& p, auto& f) {
                     p.user->enabled = false;
                     f.requests_in_last_minute = 100;
                   },
                   Verdict::kDeny, "user.disabled"},
        // ---- responders ----
        TicketCase{"NoResponder", [](auto&, auto& f) { f.responders.clear(); }, Verdict::kDeny,
                   "responder.missing"},
        TicketCase{"ResponderNotAllowed",
                   [](auto&, auto& f) { f.responders = {"sip:eve@example.org"}; },
                   Verdict::kDeny, "responder.not_allowed"},
        TicketCase{"OneOfTwoRespondersNotAllowed",
                   [](auto&, auto& f) {
                     f.responders = {"sip:bob@example.org", "sip:eve@example.org"};
                   },
                   Verdict::kDeny, "responder.not_allowed"},
        TicketCase{"ExactIsCaseSensitive",
                   [](auto&, auto& f) { f.responders = {"sip:Bob@example.org"}; },
                   Verdict::kDeny, "responder.not_allowed"},
        TicketCase{"DomainAtPattern",
                   [](auto&, auto& f) { f.responders = {"sip:x@PARTNER.net;transport=tls"}; },
                   Verdict::kAllow, "ticket.allow", {}, 1800},
        TicketCase{"DomainAtPatternNoSubdomain",
                   [](auto&, auto& f) { f.responders = {"sip:x@evil.partner.net"}; },
                   Verdict::kDeny, "responder.not_allowed"},
        TicketCase{"DomainAtPatternNotSuffixTrick",
                   [](auto&, auto& f) { f.responders = {"sip:x@notpartner.net"}; },
                   Verdict::kDeny, "responder.not_allowed"},
        TicketCase{"DomainDotPattern",
                   [](auto&, auto& f) { f.responders = {"sip:y@eu.corp.example"}; },
                   Verdict::kAllow, "ticket.allow", {}, 1800},
        TicketCase{"DomainDotPatternNotApex",
                   [](auto&, auto& f) { f.responders = {"sip:y@corp.example"}; },
                   Verdict::kDeny, "responder.not_allowed"},
        TicketCase{"TelHasNoDomain", [](auto&, auto& f) { f.responders = {"tel:+15559999"}; },
                   Verdict::kDeny, "responder.not_allowed"},
        TicketCase{"MalformedDomainPatternMatchesNothing",
                   [](auto& p, auto& f) {
                     p.rules->allowed_responders = {{ResponderRuleKind::kDomain, "partner.net"}};
                     f.responders = {"sip:x@partner.net"};
                   },
                   Verdict::kDeny, "responder.not_allowed"},
        TicketCase{"GroupIdentityItself",
                   [](auto&, auto& f) { f.responders = {"sip:team@example.org"}; },
                   Verdict::kAllow, "ticket.allow", {}, 1800},
        TicketCase{"GroupMember",
                   [](auto&, auto& f) { f.responders = {"sip:carol@example.org"}; },
                   Verdict::kAllow, "ticket.allow", {}, 1800},
        TicketCase{"GroupRuleWithoutMembersLoaded",
                   [](auto& p, auto& f) {
                     p.group_members.clear();
                     f.responders = {"sip:carol@example.org"};
                   },
                   Verdict::kDeny, "responder.not_allowed"},
        TicketCase{"EmptyResponderRules",
                   [](auto& p, auto&) { p.rules->allowed_responders.clear(); }, Verdict::kDeny,
                   "responder.not_allowed"},
        // ---- suites and apps ----
        TicketCase{"Suite256NotAllowed", [](auto&, auto& f) { f.suite = Suite::k256; },
                   Verdict::kDeny, "suite.not_allowed"},
        TicketCase{"Suite256Allowed",
                   [](auto& p, auto& f) {
                     p.rules->allowed_suites = 3;
                     f.suite = Suite::k256;
                   },
                   Verdict::kAllow, "ticket.allow", {}, 1800},
        TicketCase{"NoSuiteAllowed", [](auto& p, auto&) { p.rules->allowed_suites = 0; },
                   Verdict::kDeny, "suite.not_allowed"},
        TicketCase{"AppNotAllowed",
                   [](auto& p, auto& f) {
                     p.rules->allowed_apps = {"voice"};
                     f.apps = {"video"};
                   },
                   Verdict::kDeny, "app.not_allowed"},
        TicketCase{"AppAllowed",
                   [](auto& p, auto& f) {
                     p.rules->allowed_apps = {"voice", "video"};
                     f.apps = {"video"};
                   },
                   Verdict::kAllow, "ticket.allow", {}, 1800},
        TicketCase{"AppsUnrestrictedWhenPolicyEmpty", [](auto&, auto& f) { f.apps = {"any"}; },
                   Verdict::kAllow, "ticket.allow", {}, 1800},
        TicketCase{"AllAppsNarrowed", [](auto& p, auto&) { p.rules->allowed_apps = {"voice"}; },
                   Verdict::kAdjust, "apps.restricted", {"apps.restricted"}, 1800},
        // ---- validity ----
        TicketCase{"ValidityAtMax", [](auto&, auto& f) { f.requested_validity_s = 3600; },
                   Verdict::kAllow, "ticket.allow", {}, 3600},
        TicketCase{"ValidityClamped", [](auto&, auto& f) { f.requested_validity_s = 3601; },
                   Verdict::kAdjust, "validity.clamped", {"validity.clamped"}, 3600},
        TicketCase{"UnboundedValidityClamped",
                   [](auto&, auto& f) { f.requested_validity_s = 0; }, Verdict::kAdjust,
                   "validity.clamped", {"validity.clamped"}, 3600},
        TicketCase{"ZeroMaxValidityDenies", [](auto& p, auto&) { p.rules->max_validity_s = 0; },
                   Verdict::kDeny, "validity.zero_allowed"},
        // ---- reuse (J) ----
        TicketCase{"ReuseGrantedWithinWindow",
                   [](auto&, auto& f) {
                     f.reuse_requested = true;
                     f.requested_validity_s = 600;
                   },
                   Verdict::kAllow, "ticket.allow", {}, 600, true},
        TicketCase{"ReuseClampsValidityToWindow", [](auto&, auto& f) { f.reuse_requested = true; },
                   Verdict::kAdjust, "reuse.window_clamped", {"reuse.window_clamped"}, 600, true},
        TicketCase{"ReuseDenied",
                   [](auto& p, auto& f) {
                     p.rules->reuse_allowed = false;
                     f.reuse_requested = true;
                   },
                   Verdict::kAdjust, "reuse.denied", {"reuse.denied"}, 1800, false},
        TicketCase{"ReuseWindowZeroDenies",
                   [](auto& p, auto& f) {
                     p.rules->max_reuse_window_s = 0;
                     f.reuse_requested = true;
                   },
                   Verdict::kAdjust, "reuse.denied", {"reuse.denied"}, 1800, false},
        TicketCase{"ReuseNotRequestedNotGranted",
                   [](auto&, auto& f) { f.requested_validity_s = 100; }, Verdict::kAllow,
                   "ticket.allow", {}, 100, false},
        // ---- forking (I) ----
        TicketCase{"ForkingRequested", [](auto&, auto& f) { f.forking_requested = true; },
                   Verdict::kAllow, "ticket.allow", {}, 1800, false, true},
        TicketCase{"ForkingForced", [](auto& p, auto&) { p.rules->forking_required = true; },
                   Verdict::kAdjust, "forking.forced", {"forking.forced"}, 1800, false, true},
        TicketCase{"ForkingRequiredAndRequested",
                   [](auto& p, auto& f) {
                     p.rules->forking_required = true;
                     f.forking_requested = true;
                   },
                   Verdict::kAllow, "ticket.allow", {}, 1800, false, true},
        // ---- interactions: every adjustment listed in order, first one decides ----
        TicketCase{"AllAdjustmentsTogether",
                   [](auto& p, auto& f) {
                     p.rules->allowed_apps = {"voice"};
                     p.rules->forking_required = true;
                     f.requested_validity_s = 0;
                     f.reuse_requested = true;
                   },
                   Verdict::kAdjust,
                   "apps.restricted",
                   {"apps.restricted", "validity.clamped", "reuse.window_clamped",
                    "forking.forced"},
                   600,
                   true,
                   true},
        TicketCase{"ClampThenReuseDenied",
                   [](auto& p, auto& f) {
                     p.rules->reuse_allowed = false;
                     f.requested_validity_s = 7200;
                     f.reuse_requested = true;
                   },
                   Verdict::kAdjust, "validity.clamped", {"validity.clamped", "reuse.denied"},
                   3600, false},
        TicketCase{"DenyBeatsAdjust",
                   [](auto& p, auto& f) {
                     p.rules->forking_required = true;
                     f.requested_validity_s = 0;
                     f.suite = Suite::k256;
                   },
                   Verdict::kDeny, "suite.not_allowed"}),
    [](const ::testing::TestParamInfo<TicketCase>& pi) { return pi.param.name; });

// ---- Resolve ----

ResolveFacts BaseResolve() {
  ResolveFacts f;
  f.responder = "sip:alice@example.org";
  f.ticket_responders = {"sip:alice@example.org"};
  f.kms_generated = true;
  return f;
}

struct ResolveCase {
  std::string name;
  std::function<void(EffectivePolicy&, std::optional<EffectivePolicy>&, ResolveFacts&)> mutate;
  Verdict verdict;
  std::string rule;
};

class ResolveDecisionTest : public ::testing::TestWithParam<ResolveCase> {};

TEST_P(ResolveDecisionTest, Decides) {
  const ResolveCase& c = GetParam();
  EffectivePolicy resp = BasePolicy();
  std::optional<EffectivePolicy> init = BasePolicy();
  init->user->user_id = 2;
  init->user->public_identities = {"sip:bob@example.org"};
  ResolveFacts f = BaseResolve();
  c.mutate(resp, init, f);
  Decision d = DecideResolve(resp, init ? &*init : nullptr, f);
  EXPECT_EQ(d.verdict, c.verdict);
  EXPECT_EQ(d.rule, c.rule);
  EXPECT_FALSE(d.k_flag);
}

INSTANTIATE_TEST_SUITE_P(
    Rules, ResolveDecisionTest,
    ::testing::Values(
        ResolveCase{"Allow", [](auto&, auto&, auto&) {}, Verdict::kAllow, "resolve.allow"},
        ResolveCase{"NoUser", [](auto& r, auto&, auto&) { r.user.reset(); }, Verdict::kDeny,
                    "user.unknown"},
        ResolveCase{"Disabled", [](auto& r, auto&, auto&) { r.user->enabled = false; },
                    Verdict::kDeny, "user.disabled"},
        ResolveCase{"NoRules", [](auto& r, auto&, auto&) { r.rules.reset(); }, Verdict::kDeny,
                    "policy.none"},
        ResolveCase{"ResponderNotOwned",
                    [](auto&, auto&, auto& f) { f.responder = "sip:bob@example.org"; },
                    Verdict::kDeny, "identity.not_owned"},
        ResolveCase{"RateExceeded",
                    [](auto&, auto&, auto& f) { f.requests_in_last_minute = 10; },
                    Verdict::kDeny, "rate.exceeded"},
        ResolveCase{"NotNamed",
                    [](auto&, auto&, auto& f) { f.ticket_responders = {"sip:bob@example.org"}; },
                    Verdict::kDeny, "resolve.not_named"},
        ResolveCase{"NamedAmongSeveral",
                    [](auto&, auto&, auto& f) {
                      f.ticket_responders = {"sip:bob@example.org", "sip:alice@example.org"};
                    },
                    Verdict::kAllow, "resolve.allow"},
        ResolveCase{"NamedThroughGroup",
                    [](auto&, auto&, auto& f) {
                      f.ticket_responders = {"sip:team@example.org"};
                      f.responder_groups = {"sip:team@example.org"};
                    },
                    Verdict::kAllow, "resolve.allow"},
        ResolveCase{"OtherGroupDoesNotHelp",
                    [](auto&, auto&, auto& f) {
                      f.ticket_responders = {"sip:team@example.org"};
                      f.responder_groups = {"sip:other@example.org"};
                    },
                    Verdict::kDeny, "resolve.not_named"},
        ResolveCase{"EmptyTicketResponders",
                    [](auto&, auto&, auto& f) { f.ticket_responders.clear(); }, Verdict::kDeny,
                    "resolve.not_named"},
        ResolveCase{"Mode3InitiatorUnknown",
                    [](auto&, auto& i, auto& f) {
                      f.kms_generated = false;
                      i.reset();
                    },
                    Verdict::kDeny, "mode3.initiator_unknown"},
        ResolveCase{"Mode3InitiatorNoUserRow",
                    [](auto&, auto& i, auto& f) {
                      f.kms_generated = false;
                      i->user.reset();
                    },
                    Verdict::kDeny, "mode3.initiator_unknown"},
        ResolveCase{"Mode3NotAllowed", [](auto&, auto&, auto& f) { f.kms_generated = false; },
                    Verdict::kDeny, "mode3.not_allowed"},
        ResolveCase{"Mode3InitiatorDisabled",
                    [](auto&, auto& i, auto& f) {
                      f.kms_generated = false;
                      i->rules->mode3_allowed = true;
                      i->user->enabled = false;
                    },
                    Verdict::kDeny, "mode3.not_allowed"},
        ResolveCase{"Mode3Allowed",
                    [](auto&, auto& i, auto& f) {
                      f.kms_generated = false;
                      i->rules->mode3_allowed = true;
                    },
                    Verdict::kAllow, "resolve.allow"},
        ResolveCase{"Mode3OnlyInitiatorPolicyCounts",
                    [](auto& r, auto&, auto& f) {
                      f.kms_generated = false;
                      r.rules->mode3_allowed = true;  // the responder's flag is irrelevant
                    },
                    Verdict::kDeny, "mode3.not_allowed"},
        ResolveCase{"KmsTicketIgnoresInitiator",
                    [](auto&, auto& i, auto&) { i.reset(); }, Verdict::kAllow,
                    "resolve.allow"}),
    [](const ::testing::TestParamInfo<ResolveCase>& pi) { return pi.param.name; });

TEST(ResponderAllowedTest, NoRulesMatchesNothing) {
  EffectivePolicy p = BasePolicy();
  p.rules.reset();
  EXPECT_FALSE(ResponderAllowed(p, "sip:bob@example.org"));
}

// A domain rule without "*@" or "*." matched nothing, silently (review); kmsctl now
// refuses what ValidDomainPattern rejects, and such a rule still matches nothing.
TEST(ResponderAllowedTest, DomainPatternsMustBeWildcards) {
  for (const char* good : {"*@example.org", "*.example.org", "*@EXAMPLE.org"}) {
    EXPECT_TRUE(ValidDomainPattern(good)) << good;
  }
  for (const char* bad : {"example.org", "@example.org", "*@", "*.", "*", "", "*@*.org",
                          "*@a@b", "*.exa mple.org", "**.example.org"}) {
    EXPECT_FALSE(ValidDomainPattern(bad)) << bad;
  }
  EffectivePolicy p = BasePolicy();
  p.rules->allowed_responders = {{ResponderRuleKind::kDomain, "example.org"}};
  EXPECT_FALSE(ResponderAllowed(p, "sip:bob@example.org"));
  p.rules->allowed_responders = {{ResponderRuleKind::kDomain, "*@example.org"}};
  EXPECT_TRUE(ResponderAllowed(p, "sip:bob@example.org"));
  EXPECT_FALSE(ResponderAllowed(p, "sip:bob@evil.example.org"));
  p.rules->allowed_responders = {{ResponderRuleKind::kDomain, "*.example.org"}};
  EXPECT_TRUE(ResponderAllowed(p, "sip:bob@kms.example.org"));
  EXPECT_FALSE(ResponderAllowed(p, "sip:bob@example.org"));
}

}  // namespace
}  // namespace kms::policy
