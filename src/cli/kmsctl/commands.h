// One registration function per command group; each adds its subcommands to the app and,
// when one of them is chosen, stores the work in ctx.action (run by main after parsing).
#pragma once

#include <CLI/CLI.hpp>

#include "src/cli/kmsctl/context.h"

namespace kmsctl {

void AddInitCommand(CLI::App& app, Context& ctx);
void AddUserCommands(CLI::App& app, Context& ctx);
void AddCredCommands(CLI::App& app, Context& ctx);
void AddGroupCommands(CLI::App& app, Context& ctx);
void AddPolicyCommands(CLI::App& app, Context& ctx);
void AddKeyCommands(CLI::App& app, Context& ctx);
void AddAuditCommands(CLI::App& app, Context& ctx);

}  // namespace kmsctl
