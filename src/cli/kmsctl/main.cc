// kmsctl: administration of the KMS appliance (issue 9): token keys, users, credentials,
// groups, policy, audit verification. Every change is audited with the operator identity,
// in the same transaction as the change (policy/admin.h).
//
// Exit codes: 0 success; 1 the operation was refused or failed (message on stderr);
// 2 bad usage or input; 3 the audit trail does not verify (audit verify).
#include <pwd.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "hsm/key_manager.h"
#include "hsm/secret_file.h"
#include "hsm/token_stack.h"
#include "policy/admin.h"
#include "policy/audit_verify.h"
#include "src/base/encoding.h"

namespace {

using kms::Result;
using kms::Status;

constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;
constexpr int kExitAuditBroken = 3;

struct Globals {
  std::string db = "/var/lib/kms/policy.db";
  std::string module = "/usr/lib/softhsm/libsofthsm2.so";
  std::string token_uri = "pkcs11:token=kms";
  std::string pin_file;
  std::string op;
  bool json = false;
};

std::string OperatorName(const Globals& g) {
  if (!g.op.empty()) {
    return g.op;
  }
  const passwd* pw = getpwuid(getuid());
  return pw != nullptr ? pw->pw_name : "uid-" + std::to_string(getuid());
}

int Fail(const Status& s) {
  std::cerr << "kmsctl: " << s.message() << "\n";
  return s.code() == kms::StatusCode::kInvalidArgument ? kExitUsage : kExitFailed;
}

Result<std::unique_ptr<kms::hsm::TokenStack>> OpenToken(const Globals& g) {
  if (g.pin_file.empty()) {
    return kms::InvalidArgumentError("--pin-file is required for this command");
  }
  kms::hsm::TokenConfig c;
  c.token_uri = g.token_uri;
  c.pin.kind = kms::hsm::PinSource::Kind::kFile;
  c.pin.location = g.pin_file;
  c.pool_size = 2;
  return kms::hsm::TokenStack::Open(g.module, std::move(c));
}

Result<kms::policy::PolicyAdmin> OpenAdmin(const Globals& g) {
  return kms::policy::PolicyAdmin::Open(g.db, OperatorName(g));
}

// init: creates TPK, KEK and audit key version 1 in the token if absent and registers them.
int Init(const Globals& g, bool force) {
  auto stack = OpenToken(g);
  if (!stack.ok()) {
    return Fail(stack.status());
  }
  auto admin = OpenAdmin(g);
  if (!admin.ok()) {
    return Fail(admin.status());
  }
  kms::hsm::KeyManager km(*(*stack)->token);
  const auto existing = km.ListKeys();
  using K = kms::hsm::KeyKind;
  for (K kind : {K::kTicket, K::kKek, K::kAudit}) {
    uint32_t newest = 0;
    for (const auto& n : existing) {
      if (n.kind == kind) {
        newest = std::max(newest, n.version);
      }
    }
    if (newest != 0 && !force) {
      std::cout << kms::hsm::KeyKindName(kind) << " key version " << newest
                << " already exists (kept; --force creates a new version)\n";
      continue;
    }
    const uint32_t v = newest + 1;
    if (Status s = km.Create({kind, v}); !s.ok()) {
      return Fail(s);
    }
    const auto pkind = kind == K::kTicket ? kms::ports::KeyKind::kTpk
                       : kind == K::kKek  ? kms::ports::KeyKind::kKek
                                          : kms::ports::KeyKind::kAudit;
    if (newest != 0) {
      if (Status s = admin->SetKeyVersion(pkind, newest, kms::ports::KeyState::kRetired); !s.ok()) {
        return Fail(s);
      }
    }
    if (Status s = admin->SetKeyVersion(pkind, v, kms::ports::KeyState::kActive); !s.ok()) {
      return Fail(s);
    }
    std::cout << "created " << kms::hsm::LongTermKeyLabel(kind, v) << " in the token\n";
  }
  std::cout << "database ready: " << g.db << "\n";
  return 0;
}

std::optional<std::vector<kms::ports::ResponderRule>> ParseResponders(
    const std::vector<std::string>& in, std::string* err) {
  if (in.empty()) {
    return std::nullopt;
  }
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
      *err = "responder rule '" + r + "' must be exact:<id>, domain:<*@domain> or group:<id>";
      return std::nullopt;
    }
    if (value.empty()) {
      *err = "responder rule '" + r + "' has no value";
      return std::nullopt;
    }
    rule.value = value;
    out.push_back(rule);
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"kmsctl: administration of the MIKEY-TICKET KMS appliance\n"
               "Exit codes: 0 ok, 1 refused/failed, 2 bad usage or input, 3 audit trail broken"};
  Globals g;
  app.add_option("--db", g.db, "policy database (SQLite)");
  app.add_option("--module", g.module, "PKCS#11 module path");
  app.add_option("--token", g.token_uri, "PKCS#11 URI of the token (RFC 7512)");
  app.add_option("--pin-file", g.pin_file, "file holding the token user PIN (mode 0600)");
  app.add_option("--operator", g.op, "operator identity for the audit trail (default: login)");
  app.add_flag("--json", g.json, "machine-readable output for read commands");
  app.require_subcommand(1);

  bool force = false;
  auto* init = app.add_subcommand("init", "create the token keys and the database (idempotent)");
  init->add_flag("--force", force, "create new key versions even if keys exist");

  auto* user = app.add_subcommand("user", "users")->require_subcommand(1);
  std::string name, impi;
  std::vector<std::string> identities;
  auto* user_add = user->add_subcommand("add", "add a user");
  user_add->add_option("name", name)->required();
  user_add->add_option("--impi", impi, "private identity")->required();
  user_add->add_option("--identity", identities, "public identity (sip:, sips:, tel:)")->required();
  auto* user_list = user->add_subcommand("list", "list users");
  auto* user_disable = user->add_subcommand("disable", "disable a user");
  user_disable->add_option("name", name)->required();

  auto* cred = app.add_subcommand("cred", "credentials")->require_subcommand(1);
  std::string cred_user, cred_id, key_file;
  bool mode3 = false;
  auto* cred_import = cred->add_subcommand("import", "import a raw key file (hex), wrapped in the token");
  cred_import->add_option("user", cred_user)->required();
  cred_import->add_option("--id", cred_id, "credential id, e.g. a B-TID")->required();
  cred_import->add_option("--key-file", key_file, "hex key file, mode 0600")->required();
  cred_import->add_flag("--mode3", mode3, "a mode-3 ticket key instead of a UE PSK");

  auto* group = app.add_subcommand("group", "groups")->require_subcommand(1);
  std::string group_id, member;
  auto* group_add = group->add_subcommand("add", "add a group");
  group_add->add_option("group", group_id)->required();
  auto* member_add = group->add_subcommand("member-add", "add a member");
  member_add->add_option("group", group_id)->required();
  member_add->add_option("member", member)->required();
  auto* member_remove = group->add_subcommand("member-remove", "remove a member");
  member_remove->add_option("group", group_id)->required();
  member_remove->add_option("member", member)->required();

  auto* policy = app.add_subcommand("policy", "policy")->require_subcommand(1);
  auto* policy_set = policy->add_subcommand("set", "set a user's policy or the system default");
  std::string policy_user;
  kms::policy::PolicySpec spec;
  bool may_request = false, reuse = false, forking = false, allow_mode3 = false;
  uint32_t max_validity = 0, reuse_window = 0, rate = 0;
  std::vector<std::string> responders, apps, suites;
  policy_set->add_option("--user", policy_user, "user name (default: the system default)");
  policy_set->add_flag("--may-request", may_request);
  policy_set->add_option("--max-validity", max_validity, "seconds");
  policy_set->add_flag("--reuse", reuse, "ticket reuse (J flag) allowed");
  policy_set->add_option("--reuse-window", reuse_window, "seconds");
  policy_set->add_flag("--forking-required", forking);
  policy_set->add_flag("--mode3", allow_mode3, "initiator-created tickets allowed");
  policy_set->add_option("--suite", suites, "128 and/or 256")->check(CLI::IsMember({"128", "256"}));
  policy_set->add_option("--rate", rate, "requests per minute (0: unlimited)");
  policy_set->add_option("--responder", responders, "exact:<id> | domain:<*@domain> | group:<id>");
  policy_set->add_option("--app", apps, "allowed application (IDRapp)");

  auto* key = app.add_subcommand("key", "token keys")->require_subcommand(1);
  auto* key_list = key->add_subcommand("list", "list key versions");
  auto* audit = app.add_subcommand("audit", "audit trail")->require_subcommand(1);
  auto* audit_verify = audit->add_subcommand("verify", "verify the hash chain and sealed checkpoints");

  CLI11_PARSE(app, argc, argv);

  if (*init) {
    return Init(g, force);
  }
  if (*audit_verify) {
    auto stack = OpenToken(g);
    if (!stack.ok()) {
      return Fail(stack.status());
    }
    auto admin = OpenAdmin(g);
    if (!admin.ok()) {
      return Fail(admin.status());
    }
    auto report = kms::policy::VerifyAudit(admin->db(), *(*stack)->vault);
    if (!report.ok()) {
      return Fail(report.status());
    }
    if (g.json) {
      std::cout << nlohmann::json{{"intact", report->intact()},
                                  {"problem", std::string(kms::policy::AuditProblemName(report->problem))},
                                  {"first_bad_row", report->first_bad_row},
                                  {"rows", report->rows},
                                  {"checkpoints", report->checkpoints},
                                  {"unsealed_rows", report->unsealed_rows}}
                       .dump()
                << "\n";
    } else if (report->intact()) {
      std::cout << "audit trail intact: " << report->rows << " rows, " << report->checkpoints
                << " checkpoints, " << report->unsealed_rows << " rows after the last checkpoint "
                << "(unsealed)\n";
    } else {
      std::cout << "audit trail BROKEN: " << kms::policy::AuditProblemName(report->problem)
                << " at row " << report->first_bad_row << ": " << report->detail << "\n";
    }
    return report->intact() ? 0 : kExitAuditBroken;
  }
  if (*cred_import) {
    auto hex = kms::hsm::ReadSecretFile(key_file, 4096, true);
    if (!hex.ok()) {
      return Fail(hex.status());
    }
    const std::string text(hex->Reveal().begin(), hex->Reveal().end());
    auto raw = kms::HexDecode(text);
    if (!raw.ok()) {
      return Fail(kms::InvalidArgumentError(key_file + ": not a hex key"));
    }
    kms::SecretBytes key_bytes = kms::SecretBytes::CopyFrom(*raw);
    std::fill(raw->begin(), raw->end(), 0);
    auto stack = OpenToken(g);
    if (!stack.ok()) {
      return Fail(stack.status());
    }
    auto wrapped = (*stack)->vault->ImportCredential(cred_id, key_bytes);
    if (!wrapped.ok()) {
      return Fail(wrapped.status());
    }
    auto admin = OpenAdmin(g);
    if (!admin.ok()) {
      return Fail(admin.status());
    }
    const auto kind = mode3 ? kms::ports::CredentialKind::kMode3TicketKey
                            : kms::ports::CredentialKind::kUePsk;
    if (Status s = admin->AddCredential(cred_user, kind, *wrapped, std::nullopt, std::nullopt);
        !s.ok()) {
      return Fail(s);
    }
    std::cout << "credential " << cred_id << " stored for " << cred_user
              << " (wrapped under KEK v" << wrapped->kek_version << ")\n";
    return 0;
  }

  auto admin = OpenAdmin(g);
  if (!admin.ok()) {
    return Fail(admin.status());
  }
  Status s;
  if (*user_add) {
    auto id = admin->AddUser(name, impi, identities);
    s = id.status();
    if (s.ok()) {
      std::cout << "user " << name << " added (id " << *id << ")\n";
    }
  } else if (*user_disable) {
    s = admin->SetUserEnabled(name, false);
  } else if (*user_list) {
    auto users = admin->ListUsers();
    if (!users.ok()) {
      return Fail(users.status());
    }
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& u : *users) {
      arr.push_back({{"name", u.user.name}, {"private_identity", u.user.private_identity},
                     {"public_identities", u.user.public_identities},
                     {"enabled", u.user.enabled}, {"credentials", u.credential_ids}});
      if (!g.json) {
        std::cout << u.user.name << (u.user.enabled ? "" : " (disabled)") << "\t"
                  << u.user.private_identity << "\t";
        for (const auto& i : u.user.public_identities) {
          std::cout << i << " ";
        }
        std::cout << "\t" << u.credential_ids.size() << " credential(s)\n";
      }
    }
    if (g.json) {
      std::cout << arr.dump(2) << "\n";
    }
  } else if (*group_add) {
    s = admin->AddGroup(group_id, "");
  } else if (*member_add) {
    s = admin->AddGroupMember(group_id, member);
  } else if (*member_remove) {
    s = admin->RemoveGroupMember(group_id, member);
  } else if (*policy_set) {
    std::string err;
    spec.responders = ParseResponders(responders, &err);
    if (!err.empty()) {
      return Fail(kms::InvalidArgumentError(err));
    }
    if (!apps.empty()) {
      spec.apps = apps;
    }
    const bool is_default = policy_user.empty();
    auto flag = [&](bool set, const char* opt) -> std::optional<bool> {
      if (set) {
        return true;
      }
      return (is_default || policy_set->count(opt) > 0) ? std::optional<bool>(false) : std::nullopt;
    };
    spec.may_request = is_default || may_request ? std::optional<bool>(may_request) : std::nullopt;
    spec.reuse_allowed = flag(reuse, "--reuse");
    spec.forking_required = flag(forking, "--forking-required");
    spec.mode3_allowed = flag(allow_mode3, "--mode3");
    if (is_default || policy_set->count("--max-validity") > 0) spec.max_validity_s = max_validity;
    if (is_default || policy_set->count("--reuse-window") > 0) spec.max_reuse_window_s = reuse_window;
    if (is_default || policy_set->count("--rate") > 0) spec.rate_limit_per_min = rate;
    if (is_default || !suites.empty()) {
      uint8_t mask = 0;
      for (const auto& su : suites) {
        mask = static_cast<uint8_t>(mask | (su == "128" ? 1 : 2));
      }
      spec.allowed_suites = suites.empty() ? uint8_t{1} : mask;
    }
    s = admin->SetPolicy(policy_user, spec);
  } else if (*key_list) {
    auto keys = admin->ListKeyVersions();
    if (!keys.ok()) {
      return Fail(keys.status());
    }
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& k : *keys) {
      const char* kind = k.kind == kms::ports::KeyKind::kTpk   ? "tpk"
                         : k.kind == kms::ports::KeyKind::kKek ? "kek" : "audit";
      const char* state = k.state == kms::ports::KeyState::kActive    ? "active"
                          : k.state == kms::ports::KeyState::kRetired ? "retired" : "destroyed";
      arr.push_back({{"kind", kind}, {"version", k.version}, {"state", state}});
      if (!g.json) {
        std::cout << kind << "\tv" << k.version << "\t" << state << "\n";
      }
    }
    if (g.json) {
      std::cout << arr.dump(2) << "\n";
    }
  }
  if (!s.ok()) {
    return Fail(s);
  }
  return 0;
}
