// kmsctl user add|list|disable (issue 9 item 2).
#include <iostream>

#include "src/cli/kmsctl/commands.h"

namespace kmsctl {
namespace {

struct UserOpts {
  std::string name, impi;
  std::vector<std::string> identities;
};

int List(const Globals& g) {
  return WithAdmin(g, [&](kms::policy::PolicyAdmin& admin) -> kms::Status {
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
        std::cout << u.user.name << (u.user.enabled ? "" : " (disabled)") << "\t"
                  << u.user.private_identity << "\t";
        for (const auto& i : u.user.public_identities) {
          std::cout << i << " ";
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
