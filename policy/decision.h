// Policy decisions (spec §8.2 item 6; RFC 6043 §4.2.1.4/§7.1 step 7: the KMS authorizes the
// initiator and may adjust the desired ticket policy, setting K). Pure functions of the
// policy rows and the request facts: no I/O, no clock, no globals, so every rule is unit
// tested in a table. The deciding rule id is stable: it is stored in audit rows.
#pragma once

#include <optional>
#include <string_view>

#include "src/core/ports/policy_store.h"

namespace kms::policy {

// Stable rule ids. Deny rules first (evaluation order), then adjustments, then allow.
namespace rule {
inline constexpr std::string_view kUserUnknown = "user.unknown";
inline constexpr std::string_view kUserDisabled = "user.disabled";
inline constexpr std::string_view kPolicyNone = "policy.none";
inline constexpr std::string_view kIdentityNotOwned = "identity.not_owned";
inline constexpr std::string_view kRequestNotAllowed = "request.not_allowed";
inline constexpr std::string_view kRateExceeded = "rate.exceeded";
inline constexpr std::string_view kResponderMissing = "responder.missing";
inline constexpr std::string_view kResponderNotAllowed = "responder.not_allowed";
inline constexpr std::string_view kSuiteNotAllowed = "suite.not_allowed";
inline constexpr std::string_view kAppNotAllowed = "app.not_allowed";
inline constexpr std::string_view kValidityZero = "validity.zero_allowed";
// Adjustments (K = 1, spec §11 A25).
inline constexpr std::string_view kAppsRestricted = "apps.restricted";
inline constexpr std::string_view kValidityClamped = "validity.clamped";
inline constexpr std::string_view kReuseDenied = "reuse.denied";
inline constexpr std::string_view kReuseWindowClamped = "reuse.window_clamped";
inline constexpr std::string_view kForkingForced = "forking.forced";
inline constexpr std::string_view kTicketAllow = "ticket.allow";
// Resolve.
inline constexpr std::string_view kResolveNotNamed = "resolve.not_named";
inline constexpr std::string_view kMode3InitiatorUnknown = "mode3.initiator_unknown";
inline constexpr std::string_view kMode3NotAllowed = "mode3.not_allowed";
inline constexpr std::string_view kResolveAllow = "resolve.allow";
}  // namespace rule

// ResponderAllowed: whether one responder identity matches one of the rules. Domain rules:
// "*@example.org" matches identities whose part after the last '@' (scheme stripped) equals
// "example.org"; "*.example.org" matches hosts that end in ".example.org". Matching is exact
// and case-sensitive except for the domain part, which compares case-insensitively.
bool ResponderAllowed(const ports::EffectivePolicy& policy, std::string_view responder);

// ValidDomainPattern: "*@<domain>" or "*.<suffix>" with a non-empty domain holding no '*',
// '@' or blank; any other domain rule would match nothing (kmsctl refuses it).
bool ValidDomainPattern(std::string_view pattern);

// DecideTicketRequest: may policy.user obtain a ticket with the desired policy in facts?
// Deny rules (first match wins): no user, disabled user, no rules (no system default),
// IDRi not one of the user's identities, may_request off, rate limit reached, no responder,
// a responder not allowed, suite not allowed, a named IDRapp not allowed, max validity 0.
// Then adjustments (all that apply, K = 1): unrestricted apps narrowed to the allowed list,
// validity clamped (an unbounded request counts as above the maximum), J removed when
// reuse is not allowed, validity clamped to the reuse window when J is granted, I forced
// when forking is required. Otherwise "ticket.allow".
ports::Decision DecideTicketRequest(const ports::EffectivePolicy& policy,
                                    const ports::TicketRequestFacts& facts);

// DecideResolve: may the resolving user obtain the keys of this ticket? responder_policy is
// the resolving user's; initiator_policy is the ticket requester's, consulted only for a
// mode-3 ticket (D = 0), where it must allow initiator-created tickets (nullptr = unknown).
// RFC 6043 §4.2.3.3 / spec §7.2 step 8: the responder must be named in the ticket, directly
// or through a group identity it belongs to.
ports::Decision DecideResolve(const ports::EffectivePolicy& responder_policy,
                              const ports::EffectivePolicy* initiator_policy,
                              const ports::ResolveFacts& facts);

}  // namespace kms::policy
