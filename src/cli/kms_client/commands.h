// kms-client subcommands (registered on a CLI11 app by main.cc). Each Run* returns the
// process exit code; failures print one line "kms-client: <reason>" on stderr.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "src/base/status.h"
#include "src/client/common.h"
#include "src/client/https_transport.h"

namespace kms::cli {

// Exit codes (documented in --help).
enum ExitCode : int {
  kExitOk = 0,
  kExitUsage = 1,        // bad command line
  kExitBadInput = 2,     // undecodable message / SDP / state file / replay cache file
  kExitCredentials = 3,  // missing or unsafe credential files (replay cache file included)
  kExitTransport = 4,    // KMS unreachable, TLS failure, HTTP status != 200, or a 200
                         // reply that is not application/mikey or is over the size cap
  kExitRefused = 5,      // authentication failed, policy refused, MIKEY Error received
  kExitMedia = 6,        // SRTP media check failed
};

// Fail: prints "kms-client: <context>: <message>" (one line) and returns `code`.
int Fail(int code, std::string_view context, const Status& s);

// ExitFor: the exit code for a protocol-step Status (kUnavailable: the KMS link failed).
int ExitFor(const Status& s);

// CredentialOptions: --cred-dir DIR (DIR/identity, DIR/btid, DIR/psk) or the three files.
struct CredentialOptions {
  std::string dir, identity_file, btid_file, psk_file;
  void Add(CLI::App* app, const std::string& prefix = "");
  Result<client::Credentials> Load() const;
};

// KmsOptions: --kms-url, --kms-id, --ca-file, --pin, --timeout-ms.
struct KmsOptions {
  std::string url, id = "", ca_file, pin;
  int timeout_ms = 15000;
  void Add(CLI::App* app);
  // Transport: the KMS link; every failure of an exchange is kUnavailable (exit 4).
  Result<std::unique_ptr<client::KmsTransport>> Transport() const;
  std::string Identity() const;  // --kms-id, else the URL
};

void AddDecodeCommand(CLI::App& app, int* exit_code);
void AddFlowCommands(CLI::App& app, int* exit_code);  // request, transfer, resolve, respond
void AddCallCommand(CLI::App& app, int* exit_code);

}  // namespace kms::cli
