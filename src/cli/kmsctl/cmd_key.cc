// kmsctl key list (issue 9 item 3).
#include <iostream>

#include "src/cli/kmsctl/commands.h"

namespace kmsctl {
namespace {

int List(const Globals& g) {
  return WithAdmin(g, [&](kms::policy::PolicyAdmin& admin) -> kms::Status {
    auto keys = admin.ListKeyVersions();
    if (!keys.ok()) {
      return keys.status();
    }
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& k : *keys) {
      arr.push_back({{"kind", KeyKindText(k.kind)},
                     {"version", k.version},
                     {"state", KeyStateText(k.state)}});
      if (!g.json) {
        std::cout << KeyKindText(k.kind) << "\tv" << k.version << "\t" << KeyStateText(k.state)
                  << "\n";
      }
    }
    if (g.json) {
      PrintJson(arr);
    }
    return kms::Status::Ok();
  });
}

}  // namespace

void AddKeyCommands(CLI::App& app, Context& ctx) {
  auto* key = app.add_subcommand("key", "token keys")->require_subcommand(1);
  key->add_subcommand("list", "list key versions")->callback([&ctx] {
    ctx.action = [&ctx] { return List(ctx.g); };
  });
}

}  // namespace kmsctl
