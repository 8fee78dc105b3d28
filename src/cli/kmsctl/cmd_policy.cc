// kmsctl policy set|show (issue 9 item 2): a user's policy or the system default (the user row
// inherits every value it leaves unset; the system default must set all of them).
#include <iostream>
#include <optional>

#include "policy/decision.h"
#include "src/cli/kmsctl/commands.h"

namespace kmsctl {
namespace {

struct PolicyOpts {
  std::string user;
  bool may_request = false, reuse = false, forking = false, mode3 = false;
  uint32_t max_validity = 0, reuse_window = 0, rate = 0;
  std::vector<std::string> responders, apps, suites;
};

// ParseResponders: "exact:<id>", "domain:<*@domain>" or "group:<id>" (policy/decision.h).
kms::Result<std::vector<kms::ports::ResponderRule>> ParseResponders(
    const std::vector<std::string>& in) {
  std::vector<kms::ports::ResponderRule> out;
  for (const std::string& r : in) {
    const size_t colon = r.find(':');
    const std::string kind = r.substr(0, colon);
    const std::string value = colon == std::string::npos ? "" : r.substr(colon + 1);
    kms::ports::ResponderRule rule;
    if (kind == "exact") {
      rule.kind = kms::ports::ResponderRuleKind::kExact;
    } else if (kind == "domain") {
      rule.kind = kms::ports::ResponderRuleKind::kDomain;
    } else if (kind == "group") {
      rule.kind = kms::ports::ResponderRuleKind::kGroup;
    } else {
      return kms::InvalidArgumentError("responder rule '" + r +
                                       "' must be exact:<id>, domain:<*@domain> or group:<id>");
    }
    if (value.empty()) {
      return kms::InvalidArgumentError("responder rule '" + r + "' has no value");
    }
    if (rule.kind == kms::ports::ResponderRuleKind::kDomain &&
        !kms::policy::ValidDomainPattern(value)) {
      // "domain:example.org" used to be stored and then matched nothing.
      return kms::InvalidArgumentError(
          "responder rule '" + r + "': a domain rule is *@<domain> (identities in that domain) "
          "or *.<domain> (in its subdomains), e.g. domain:*@" + value);
    }
    rule.value = value;
    out.push_back(rule);
  }
  return out;
}

int Set(const Globals& g, const PolicyOpts& o, const CLI::App& cmd) {
  kms::policy::PolicySpec spec;
  if (!o.responders.empty()) {
    auto rules = ParseResponders(o.responders);
    if (!rules.ok()) {
      return Fail(rules.status());
    }
    spec.responders = *rules;
  }
  if (!o.apps.empty()) {
    spec.apps = o.apps;
  }
  const bool is_default = o.user.empty();
  auto given = [&](const char* opt) { return is_default || cmd.count(opt) > 0; };
  auto flag = [&](bool set, const char* opt) -> std::optional<bool> {
    if (set) {
      return true;
    }
    return given(opt) ? std::optional<bool>(false) : std::nullopt;
  };
  spec.may_request = flag(o.may_request, "--may-request");
  spec.reuse_allowed = flag(o.reuse, "--reuse");
  spec.forking_required = flag(o.forking, "--forking-required");
  spec.mode3_allowed = flag(o.mode3, "--mode3");
  if (given("--max-validity")) spec.max_validity_s = o.max_validity;
  if (given("--reuse-window")) spec.max_reuse_window_s = o.reuse_window;
  if (given("--rate")) spec.rate_limit_per_min = o.rate;
  if (is_default || !o.suites.empty()) {
    uint8_t mask = 0;
    for (const auto& su : o.suites) {
      mask = static_cast<uint8_t>(mask | (su == "128" ? 1 : 2));
    }
    spec.allowed_suites = o.suites.empty() ? uint8_t{1} : mask;
  }
  return WithAdmin(g, [&](kms::policy::PolicyAdmin& a) { return a.SetPolicy(o.user, spec); });
}

const char* RuleKindText(kms::ports::ResponderRuleKind k) {
  switch (k) {
    case kms::ports::ResponderRuleKind::kExact: return "exact";
    case kms::ports::ResponderRuleKind::kDomain: return "domain";
    case kms::ports::ResponderRuleKind::kGroup: return "group";
  }
  return "exact";
}

template <typename T>
nlohmann::json Opt(const std::optional<T>& v) {
  return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
}

// Merge: the user's row over the system default (the same rule as the policy store).
kms::policy::PolicySpec Merge(const kms::policy::PolicySpec& u,
                              const kms::policy::PolicySpec& d) {
  kms::policy::PolicySpec m;
  m.may_request = u.may_request ? u.may_request : d.may_request;
  m.max_validity_s = u.max_validity_s ? u.max_validity_s : d.max_validity_s;
  m.reuse_allowed = u.reuse_allowed ? u.reuse_allowed : d.reuse_allowed;
  m.max_reuse_window_s = u.max_reuse_window_s ? u.max_reuse_window_s : d.max_reuse_window_s;
  m.forking_required = u.forking_required ? u.forking_required : d.forking_required;
  m.mode3_allowed = u.mode3_allowed ? u.mode3_allowed : d.mode3_allowed;
  m.allowed_suites = u.allowed_suites ? u.allowed_suites : d.allowed_suites;
  m.rate_limit_per_min = u.rate_limit_per_min ? u.rate_limit_per_min : d.rate_limit_per_min;
  m.responders = u.responders ? u.responders : d.responders;
  m.apps = u.apps ? u.apps : d.apps;
  return m;
}

int Show(const Globals& g, const std::string& user) {
  return ReadAdmin(g, [&](kms::policy::PolicyAdmin& a) -> kms::Status {
    auto def = a.GetPolicy("");
    if (!def.ok()) {
      return def.status();
    }
    nlohmann::json j;
    if (user.empty()) {
      j = {{"scope", "system default"},
           {"policy", def->exists ? PolicyToJson(def->spec) : nullptr}};
    } else {
      auto own = a.GetPolicy(user);
      if (!own.ok()) {
        return own.status();
      }
      const kms::policy::PolicySpec none;
      j = {{"scope", "user"},
           {"user", user},
           {"own", own->exists ? PolicyToJson(own->spec) : nullptr},
           {"effective", def->exists ? PolicyToJson(Merge(own->exists ? own->spec : none,
                                                          def->spec))
                                     : nullptr}};
    }
    if (g.json) {
      PrintJson(j);
      return kms::Status::Ok();
    }
    const nlohmann::json& shown = user.empty() ? j["policy"] : j["effective"];
    if (shown.is_null()) {
      std::cout << "no system default policy: every request is denied\n";
      return kms::Status::Ok();
    }
    std::cout << (user.empty() ? "system default" : "effective policy of " + user +
                  (j["own"].is_null() ? " (system default only)" : " (own row over default)"))
              << "\n";
    for (const auto& [k, v] : shown.items()) {
      std::cout << "  " << k << ": " << DumpJson(v) << "\n";
    }
    return kms::Status::Ok();
  });
}

}  // namespace

nlohmann::json PolicyToJson(const kms::policy::PolicySpec& p) {
  nlohmann::json suites = nullptr;
  if (p.allowed_suites) {
    suites = nlohmann::json::array();
    if ((*p.allowed_suites & 1) != 0) suites.push_back(128);
    if ((*p.allowed_suites & 2) != 0) suites.push_back(256);
  }
  nlohmann::json responders = nullptr;
  if (p.responders) {
    responders = nlohmann::json::array();
    for (const auto& r : *p.responders) {
      responders.push_back(std::string(RuleKindText(r.kind)) + ":" + r.value);
    }
  }
  return {{"may_request", Opt(p.may_request)},
          {"max_validity_s", Opt(p.max_validity_s)},
          {"reuse_allowed", Opt(p.reuse_allowed)},
          {"max_reuse_window_s", Opt(p.max_reuse_window_s)},
          {"forking_required", Opt(p.forking_required)},
          {"mode3_allowed", Opt(p.mode3_allowed)},
          {"suites", suites},
          {"rate_limit_per_min", Opt(p.rate_limit_per_min)},
          {"responders", responders},
          {"apps", Opt(p.apps)}};
}

void AddPolicyCommands(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<PolicyOpts>();
  auto* policy = app.add_subcommand("policy", "policy")->require_subcommand(1);
  auto* set = policy->add_subcommand("set", "set a user's policy or the system default");
  set->add_option("--user", o->user, "user name (default: the system default)");
  set->add_flag("--may-request", o->may_request);
  set->add_option("--max-validity", o->max_validity, "seconds");
  set->add_flag("--reuse", o->reuse, "ticket reuse (J flag) allowed");
  set->add_option("--reuse-window", o->reuse_window, "seconds");
  set->add_flag("--forking-required", o->forking);
  set->add_flag("--mode3", o->mode3, "initiator-created tickets allowed");
  set->add_option("--suite", o->suites, "128 and/or 256")->check(CLI::IsMember({"128", "256"}));
  set->add_option("--rate", o->rate, "requests per minute (0: unlimited)");
  set->add_option("--responder", o->responders, "exact:<id> | domain:<*@domain> | group:<id>");
  set->add_option("--app", o->apps, "allowed application (IDRapp)");
  auto* show = policy->add_subcommand("show", "a user's own and effective policy, or the default");
  show->add_option("--user", o->user, "user name (default: the system default)");
  show->callback([&ctx, o] { ctx.action = [&ctx, o] { return Show(ctx.g, o->user); }; });
  set->callback([&ctx, o, set] { ctx.action = [&ctx, o, set] { return Set(ctx.g, *o, *set); }; });
}

}  // namespace kmsctl
