#include "policy/decision.h"

#include <algorithm>
#include <cctype>
#include <string>

namespace kms::policy {
namespace {

using ports::Decision;
using ports::EffectivePolicy;
using ports::ResponderRuleKind;
using ports::Verdict;

Decision Deny(std::string_view rule_id) {
  Decision d;
  d.verdict = Verdict::kDeny;
  d.rule = std::string(rule_id);
  return d;
}

bool Contains(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

// DomainOf: the host part of "sip:user@host;params" (empty if there is no '@').
std::string_view DomainOf(std::string_view identity) {
  size_t at = identity.rfind('@');
  if (at == std::string_view::npos) return {};
  std::string_view host = identity.substr(at + 1);
  size_t end = host.find_first_of(";:?>");
  return host.substr(0, end);
}

bool DomainMatches(std::string_view pattern, std::string_view identity) {
  std::string_view host = DomainOf(identity);
  if (host.empty() || !ValidDomainPattern(pattern)) {
    return false;  // malformed pattern: matches nothing (default deny)
  }
  if (pattern.substr(0, 2) == "*@") {
    return EqualsIgnoreCase(host, pattern.substr(2));
  }
  std::string_view suffix = pattern.substr(1);  // "*.example.org" -> ".example.org"
  return host.size() > suffix.size() &&
         EqualsIgnoreCase(host.substr(host.size() - suffix.size()), suffix);
}

// CheckSubject: the deny rules shared by request and resolve: user, enabled, rules exist,
// the authenticated identity belongs to the user.
std::optional<std::string_view> CheckSubject(const EffectivePolicy& p, std::string_view identity) {
  if (!p.user) return rule::kUserUnknown;
  if (!p.user->enabled) return rule::kUserDisabled;
  if (!p.rules) return rule::kPolicyNone;
  if (!Contains(p.user->public_identities, identity)) return rule::kIdentityNotOwned;
  return std::nullopt;
}

bool RateExceeded(const ports::PolicyRules& r, uint32_t requests_in_last_minute) {
  return r.rate_limit_per_min != 0 && requests_in_last_minute >= r.rate_limit_per_min;
}

}  // namespace

bool ValidDomainPattern(std::string_view pattern) {
  if (pattern.size() <= 2 || (pattern.substr(0, 2) != "*@" && pattern.substr(0, 2) != "*.")) {
    return false;
  }
  return pattern.substr(2).find_first_of("*@ \t") == std::string_view::npos;
}

bool ResponderAllowed(const EffectivePolicy& policy, std::string_view responder) {
  if (!policy.rules) return false;
  for (const ports::ResponderRule& r : policy.rules->allowed_responders) {
    switch (r.kind) {
      case ResponderRuleKind::kExact:
        if (r.value == responder) return true;
        break;
      case ResponderRuleKind::kDomain:
        if (DomainMatches(r.value, responder)) return true;
        break;
      case ResponderRuleKind::kGroup: {
        // RFC 6043 §9: a group identity may be named as responder (group ticket); a member
        // of the group may also be named individually.
        if (r.value == responder) return true;
        auto it = policy.group_members.find(r.value);
        if (it != policy.group_members.end() && it->second.count(std::string(responder)) != 0) {
          return true;
        }
        break;
      }
    }
  }
  return false;
}

Decision DecideTicketRequest(const EffectivePolicy& policy,
                             const ports::TicketRequestFacts& facts) {
  if (auto deny = CheckSubject(policy, facts.initiator)) {
    return Deny(*deny);
  }
  const ports::PolicyRules& r = *policy.rules;
  if (!r.may_request) return Deny(rule::kRequestNotAllowed);
  if (RateExceeded(r, facts.requests_in_last_minute)) return Deny(rule::kRateExceeded);
  // RFC 6043 §6.10: the TP data carries at least one IDRr.
  if (facts.responders.empty()) return Deny(rule::kResponderMissing);
  for (const std::string& resp : facts.responders) {
    if (!ResponderAllowed(policy, resp)) return Deny(rule::kResponderNotAllowed);
  }
  if ((r.allowed_suites & static_cast<uint8_t>(facts.suite)) == 0) {
    return Deny(rule::kSuiteNotAllowed);
  }
  if (!r.allowed_apps.empty()) {
    for (const std::string& app : facts.apps) {
      if (!Contains(r.allowed_apps, app)) return Deny(rule::kAppNotAllowed);
    }
  }
  if (r.max_validity_s == 0) return Deny(rule::kValidityZero);

  Decision d;
  d.verdict = Verdict::kAllow;
  auto adjust = [&d](std::string_view rule_id) { d.adjustments.emplace_back(rule_id); };

  // RFC 6043 §6.10: no IDRapp means "all applications"; a restricted user gets the list.
  d.granted_apps = facts.apps;
  if (!r.allowed_apps.empty() && facts.apps.empty()) {
    d.granted_apps = r.allowed_apps;
    adjust(rule::kAppsRestricted);
  }
  // TRe - TRs: an unbounded request (0) is above any maximum.
  d.granted_validity_s = facts.requested_validity_s;
  if (facts.requested_validity_s == 0 || facts.requested_validity_s > r.max_validity_s) {
    d.granted_validity_s = r.max_validity_s;
    adjust(rule::kValidityClamped);
  }
  // J flag (RFC 6043 §5.3): reuse only within the allowed window.
  if (facts.reuse_requested) {
    if (!r.reuse_allowed || r.max_reuse_window_s == 0) {
      adjust(rule::kReuseDenied);
    } else {
      d.granted_reuse = true;
      if (d.granted_validity_s > r.max_reuse_window_s) {
        d.granted_validity_s = r.max_reuse_window_s;
        adjust(rule::kReuseWindowClamped);
      }
    }
  }
  // I flag (RFC 6043 §5.1.1, §12.4): forking may be forced on, never turned off.
  d.granted_forking = facts.forking_requested || r.forking_required;
  if (r.forking_required && !facts.forking_requested) adjust(rule::kForkingForced);

  if (!d.adjustments.empty()) {
    d.verdict = Verdict::kAdjust;
    d.rule = d.adjustments.front();
    d.k_flag = true;  // spec §11 A25: a value the initiator asked for was changed
  } else {
    d.rule = std::string(rule::kTicketAllow);
  }
  return d;
}

Decision DecideResolve(const EffectivePolicy& responder_policy,
                       const EffectivePolicy* initiator_policy, const ports::ResolveFacts& facts) {
  if (auto deny = CheckSubject(responder_policy, facts.responder)) {
    return Deny(*deny);
  }
  if (RateExceeded(*responder_policy.rules, facts.requests_in_last_minute)) {
    return Deny(rule::kRateExceeded);
  }
  bool named = Contains(facts.ticket_responders, facts.responder);
  for (const std::string& t : facts.ticket_responders) {
    if (named) break;
    named = facts.responder_groups.count(t) != 0;  // RFC 6043 §12.5: member of a group IDRr
  }
  if (!named) return Deny(rule::kResolveNotNamed);
  if (!facts.kms_generated) {
    // Mode 3 (D = 0): the initiator built the ticket; its policy must allow that.
    if (initiator_policy == nullptr || !initiator_policy->user) {
      return Deny(rule::kMode3InitiatorUnknown);
    }
    if (!initiator_policy->user->enabled || !initiator_policy->rules ||
        !initiator_policy->rules->mode3_allowed) {
      return Deny(rule::kMode3NotAllowed);
    }
  }
  Decision d;
  d.verdict = Verdict::kAllow;
  d.rule = std::string(rule::kResolveAllow);
  return d;
}

}  // namespace kms::policy
