// One registration function per command group; each adds its subcommands to the app and,
// when one of them is chosen, stores the work in ctx.action (run by main after parsing).
#pragma once

#include <CLI/CLI.hpp>

#include "src/cli/kmsctl/context.h"

namespace kmsctl {

void AddInitCommand(CLI::App& app, Context& ctx);
void AddUserCommands(CLI::App& app, Context& ctx);
void AddUserImportCommand(CLI::App& user, Context& ctx);  // cmd_user_import.cc
void AddCredCommands(CLI::App& app, Context& ctx);
void AddGroupCommands(CLI::App& app, Context& ctx);
void AddPolicyCommands(CLI::App& app, Context& ctx);
void AddPeerCommands(CLI::App& app, Context& ctx);
void AddKeyCommands(CLI::App& app, Context& ctx);
void AddKeyRewrapCommand(CLI::App& key, Context& ctx);  // cmd_key_rewrap.cc
// RunRewrap: the SO step, then the token (user) and database; runs `before` (may be empty;
// e.g. the KEK rotation), then re-wraps every credential below the registered active KEK.
int RunRewrap(const Globals& g, const std::string& so_pin_file,
              const std::function<int(kms::hsm::TokenStack&, kms::policy::PolicyAdmin&)>&
                  before);
void AddAuditCommands(CLI::App& app, Context& ctx);
void AddAuditArchiveCommands(CLI::App& audit, Context& ctx);  // cmd_audit_archive.cc
void AddBackupCommands(CLI::App& app, Context& ctx);
void AddTokenCommands(CLI::App& app, Context& ctx);  // cmd_token.cc

// PolicyToJson: a stored policy row; null marks a value a user row inherits (cmd_policy.cc).
nlohmann::json PolicyToJson(const kms::policy::PolicySpec& spec);

}  // namespace kmsctl
