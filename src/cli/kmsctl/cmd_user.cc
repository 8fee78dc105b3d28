// kmsctl user add|list|show|disable (issue 9 item 2).
#include <iostream>

#include "src/cli/kmsctl/commands.h"

namespace kmsctl {
namespace {

struct UserOpts {
  std::string name, impi;
  std::vector<std::string> identities;
};

int List(const Globals& g) {
  return ReadAdmin(g, [&](kms::policy::PolicyAdmin& admin) -> kms::Status {
    auto users = admin.ListUsers();
    if (!users.ok()) {
      return users.status();
    }
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& u : *users) {
      arr.push_back({{"name", u.user.name}, {"private_identity", u.user.private_identity},
                     {"public_identities", u.user.public_identities},
                     {"enabled", u.user.enabled}, {"credentials", u.credential_ids}});
      if (!g.json) {
        // Escaped: one line per user, one field per tab, whatever the stored names hold.
        std::cout << EscapeText(u.user.name) << (u.user.enabled ? "" : " (disabled)") << "\t"
                  << EscapeText(u.user.private_identity) << "\t";
        for (const auto& i : u.user.public_identities) {
          std::cout << EscapeText(i) << " ";
        }
        std::cout << "\t" << u.credential_ids.size() << " credential(s)\n";
      }
    }
    if (g.json) {
      PrintJson(arr);
    }
    return kms::Status::Ok();
  });
}

int Show(const Globals& g, const std::string& name) {
  return ReadAdmin(g, [&](kms::policy::PolicyAdmin& admin) -> kms::Status {
    auto u = admin.GetUser(name);
    if (!u.ok()) {
      return u.status();
    }
    auto pol = admin.GetPolicy(name);
    if (!pol.ok()) {
      return pol.status();
    }
    nlohmann::json creds = nlohmann::json::array();
    for (const auto& c : u->credentials) {
      // Only metadata: the wrapped blob is not shown (it is useless without the token, but
      // an operator never needs it either).
      creds.push_back(
          {{"id", c.credential_id},
           {"kind", c.kind == kms::ports::CredentialKind::kUePsk ? "ue_psk" : "mode3_ticket_key"},
           {"kek_version", c.kek_version},
           {"not_before", c.not_before_unix_s ? nlohmann::json(*c.not_before_unix_s) : nullptr},
           {"not_after", c.not_after_unix_s ? nlohmann::json(*c.not_after_unix_s) : nullptr},
           {"state", c.active ? "active" : "revoked"},
           {"created", c.created_unix_s}});
    }
    nlohmann::json j{{"name", u->user.name},
                     {"private_identity", u->user.private_identity},
                     {"public_identities", u->user.public_identities},
                     {"enabled", u->user.enabled},
                     {"credentials", creds},
                     {"groups", u->groups},
                     {"policy", pol->exists ? PolicyToJson(pol->spec) : nullptr}};
    if (g.json) {
      PrintJson(j);
      return kms::Status::Ok();
    }
    std::cout << "name:              " << EscapeText(u->user.name)
              << (u->user.enabled ? "" : " (disabled)")
              << "\nprivate identity:  " << EscapeText(u->user.private_identity)
              << "\npublic identities:";
    for (const auto& i : u->user.public_identities) {
      std::cout << " " << EscapeText(i);
    }
    std::cout << "\ngroups:           ";
    for (const auto& gr : u->groups) {
      std::cout << " " << EscapeText(gr);
    }
    std::cout << "\ncredentials:       " << u->credentials.size() << "\n";
    for (const auto& c : creds) {
      std::cout << "  " << EscapeText(c["id"].get<std::string>()) << "	"
                << c["kind"].get<std::string>() << "	KEK v" << c["kek_version"] << "	"
                << c["state"].get<std::string>() << "\n";
    }
    std::cout << "policy:            "
              << (pol->exists ? "own row (kmsctl policy show --user " + name + ")"
                              : std::string("system default"))
              << "\n";
    return kms::Status::Ok();
  });
}

}  // namespace

void AddUserCommands(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<UserOpts>();
  auto* user = app.add_subcommand("user", "users")->require_subcommand(1);
  auto* add = user->add_subcommand("add", "add a user");
  add->add_option("name", o->name)->required();
  add->add_option("--impi", o->impi, "private identity")->required();
  add->add_option("--identity", o->identities, "public identity (sip:, sips:, tel:)")->required();
  add->callback([&ctx, o] {
    ctx.action = [&ctx, o] {
      return WithAdmin(ctx.g, [&](kms::policy::PolicyAdmin& admin) -> kms::Status {
        auto id = admin.AddUser(o->name, o->impi, o->identities);
        if (id.ok()) {
          std::cout << "user " << o->name << " added (id " << *id << ")\n";
        }
        return id.ok() ? kms::Status::Ok() : id.status();
      });
    };
  });
  user->add_subcommand("list", "list users")->callback([&ctx] {
    ctx.action = [&ctx] { return List(ctx.g); };
  });
  auto* show = user->add_subcommand("show", "one user: identities, credentials, groups, policy");
  show->add_option("name", o->name)->required();
  show->callback([&ctx, o] { ctx.action = [&ctx, o] { return Show(ctx.g, o->name); }; });
  AddUserImportCommand(*user, ctx);
  auto* disable = user->add_subcommand("disable", "disable a user");
  disable->add_option("name", o->name)->required();
  disable->callback([&ctx, o] {
    ctx.action = [&ctx, o] {
      return WithAdmin(ctx.g, [&](kms::policy::PolicyAdmin& admin) {
        return admin.SetUserEnabled(o->name, false);
      });
    };
  });
}

}  // namespace kmsctl
