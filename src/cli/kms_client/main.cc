// kms-client: the UE side of MIKEY-TICKET from the command line (issue 8): decode
// messages, run the Ticket Request / Transfer / Resolve steps against a KMS, or a whole
// call with SRTP media over loopback.
#include <CLI/CLI.hpp>

#include "src/cli/kms_client/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"kms-client: MIKEY-TICKET (RFC 6043) user equipment tool"};
  app.require_subcommand(1);
  app.footer(
      "Exit codes: 0 success; 1 bad command line; 2 bad input (undecodable message, SDP, "
      "state file or replay cache file); 3 missing or unsafe credential or replay cache "
      "files; 4 KMS unreachable, TLS failure, "
      "HTTP status other than 200 (e.g. 429 or 503: worth a retry) or a reply that is not "
      "application/mikey or is over the size limit; 5 authentication failed, policy refused "
      "or MIKEY Error received; 6 SRTP media check failed.\n"
      "Credentials: --cred-dir DIR reads DIR/identity (URI), DIR/btid (B-TID) and DIR/psk "
      "(PSK as hex, mode 0600).\n"
      "Replay cache: resolve and respond keep the TRANSFER_INITs a device accepted (MACs and "
      "expiry only) in --replay-cache FILE, default DIR/replay-cache (mode 0600, owned by "
      "you); resolve refuses a replayed one with exit 5.\n");
  int exit_code = kms::cli::kExitOk;
  kms::cli::AddDecodeCommand(app, &exit_code);
  kms::cli::AddFlowCommands(app, &exit_code);
  kms::cli::AddCallCommand(app, &exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kms::cli::kExitUsage;
  }
  return exit_code;
}
