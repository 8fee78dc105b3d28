// kmsctl: administration of the KMS appliance (issue 9): token keys, users, credentials,
// groups, policy, peers, audit. Every change is audited with the operator identity in the
// same transaction as the change (policy/admin.h). This file only wires the command groups
// (cmd_*.cc) onto CLI11 and maps parse errors onto the documented exit codes.
#include <CLI/CLI.hpp>
#include <exception>
#include <iostream>

#include "src/cli/kmsctl/commands.h"
#include "src/cli/kmsctl/context.h"

namespace {

constexpr const char* kFooter =
    "Exit codes:\n"
    "  0  success\n"
    "  1  refused or failed (unknown user, duplicate, wrong PIN, token or database error)\n"
    "  2  bad usage or bad input (unknown option, malformed value or file)\n"
    "  3  audit verify: the audit trail or a sealed checkpoint does not verify\n"
    "  4  user import: bad rows were found; they are listed and nothing was imported\n"
    "Every change is audited as admin:<operator> (--operator, default the login name).";

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"kmsctl: administration of the MIKEY-TICKET KMS appliance"};
  app.footer(kFooter);
  kmsctl::Context ctx;
  kmsctl::Globals& g = ctx.g;
  app.add_option("--db", g.db, "policy database (SQLite)");
  app.add_option("--module", g.module, "PKCS#11 module path");
  app.add_option("--token", g.token_uri, "PKCS#11 URI of the token (RFC 7512)");
  app.add_option("--pin-file", g.pin_file, "file holding the token user PIN (mode 0600)");
  app.add_option("--operator", g.op, "operator identity for the audit trail (default: login)");
  app.add_flag("--json", g.json, "machine-readable output for read commands");
  app.require_subcommand(1);

  kmsctl::AddInitCommand(app, ctx);
  kmsctl::AddUserCommands(app, ctx);
  kmsctl::AddCredCommands(app, ctx);
  kmsctl::AddGroupCommands(app, ctx);
  kmsctl::AddPolicyCommands(app, ctx);
  kmsctl::AddPeerCommands(app, ctx);
  kmsctl::AddKeyCommands(app, ctx);
  kmsctl::AddAuditCommands(app, ctx);
  kmsctl::AddBackupCommands(app, ctx);
  kmsctl::AddTokenCommands(app, ctx);

  // CLI11 reports problems by exception; they stop here. Help is success, every other parse
  // problem is bad usage (exit 2), whatever CLI11's own numbering.
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    (void)app.exit(e);
    return kmsctl::kExitUsage;
  }
  // The command path for audit rows about this run (admin.login_failed names it).
  for (const CLI::App* sub = &app; !sub->get_subcommands().empty();) {
    sub = sub->get_subcommands().front();
    g.command += (g.command.empty() ? "" : " ") + sub->get_name();
  }
  if (!ctx.action) {
    std::cerr << "kmsctl: no command given\n" << app.help();
    return kmsctl::kExitUsage;
  }
  // A command reports its failures as Status; an exception escaping one (a library that
  // throws, e.g. on text it cannot encode, or std::bad_alloc) would otherwise end in
  // std::terminate and SIGABRT. It ends here with one line and exit 1 instead.
  try {
    return ctx.action();
  } catch (const std::exception& e) {
    std::cerr << "kmsctl: internal error: " << e.what() << "\n";
  } catch (...) {
    std::cerr << "kmsctl: internal error\n";
  }
  return kmsctl::kExitFailed;
}
