// kmsctl token check: does this token offer what the appliance will ask of it
// (hsm/token_profile.h)? For an operator trying a token or module before `kmsctl init`
// (which runs the same check and refuses): it logs in, asks, generates and destroys one
// session key, and touches no stored key. It opens no database (a PIN the token refuses
// is still recorded as admin.login_failed where a database exists, as for every command).
#include <iostream>

#include "hsm/token_profile.h"
#include "src/cli/kmsctl/commands.h"

namespace kmsctl {
namespace {

int Check(const Globals& g) {
  auto stack = OpenToken(g);
  if (!stack.ok()) return Fail(stack.status());
  auto report = kms::hsm::ReadTokenProfile(*(*stack)->token, kms::hsm::FullProfile());
  if (!report.ok()) return Fail(report.status());
  if (g.json) {
    nlohmann::json j;
    j["token"] = g.token_uri;
    j["ok"] = report->ok();
    j["mechanisms_checked"] = nlohmann::json::array();
    for (const auto& m : report->checked) j["mechanisms_checked"].push_back(std::string(m.name));
    j["missing"] = report->missing;
    j["attributes_probed"] = report->attributes_probed;
    j["refused_attributes"] = report->refused;
    PrintJson(j);
  } else {
    for (size_t i = 0; i < report->checked.size(); ++i) {
      const auto& m = report->checked[i];
      std::cout << (report->met[i] ? "ok      " : "MISSING ") << m.name << " (" << m.use << ")\n";
    }
    if (!report->attributes_probed) {
      std::cout << "not probed: key attributes (no CKM_GENERIC_SECRET_KEY_GEN)\n";
    } else if (report->refused.empty()) {
      std::cout << "ok      key attributes CKA_ALLOWED_MECHANISMS, CKA_COPYABLE, "
                   "CKA_DESTROYABLE, CKA_WRAP_WITH_TRUSTED\n";
    } else {
      for (const auto& a : report->refused) std::cout << "REFUSED " << a << "\n";
    }
  }
  if (report->ok()) return kExitOk;
  return Fail(kms::hsm::ProfileStatus(*report, g.token_uri));
}

}  // namespace

void AddTokenCommands(CLI::App& app, Context& ctx) {
  auto* token = app.add_subcommand("token", "the PKCS#11 token itself");
  token->require_subcommand(1);
  auto* check = token->add_subcommand(
      "check", "can this token hold the KMS's keys? (mechanisms, key attributes; no change)");
  check->callback([&ctx] { ctx.action = [&ctx] { return Check(ctx.g); }; });
}

}  // namespace kmsctl
