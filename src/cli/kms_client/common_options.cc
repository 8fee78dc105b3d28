#include <iostream>

#include "src/cli/kms_client/commands.h"
#include "src/cli/kms_client/inputs.h"

namespace kms::cli {

int Fail(int code, std::string_view context, const Status& s) {
  std::string msg = s.message();
  for (char& c : msg) {
    if (c == '\n' || c == '\r') c = ' ';  // always one line
  }
  std::cerr << "kms-client: " << context << ": " << msg << "\n";
  return code;
}

int ExitFor(const Status& s) {
  switch (s.code()) {
    case StatusCode::kDecodeError:
    case StatusCode::kInvalidArgument:
      return kExitBadInput;
    case StatusCode::kUnavailable:
      return kExitTransport;
    default:
      return kExitRefused;
  }
}

void CredentialOptions::Add(CLI::App* app, const std::string& prefix) {
  app->add_option("--" + prefix + "cred-dir", dir,
                  "directory with identity, btid and psk (hex, mode 0600) files");
  app->add_option("--" + prefix + "identity-file", identity_file, "file with the identity URI");
  app->add_option("--" + prefix + "btid-file", btid_file, "file with the B-TID (IDRpsk)");
  app->add_option("--" + prefix + "psk-file", psk_file, "PSK as hex, readable only by owner");
}

Result<client::Credentials> CredentialOptions::Load() const {
  const std::string base = dir.empty() ? "" : dir + "/";
  const std::string id = identity_file.empty() ? base + "identity" : identity_file;
  const std::string bt = btid_file.empty() ? base + "btid" : btid_file;
  const std::string pk = psk_file.empty() ? base + "psk" : psk_file;
  if (dir.empty() && (identity_file.empty() || btid_file.empty() || psk_file.empty())) {
    return InvalidArgumentError("give --cred-dir or all of --identity-file/--btid-file/--psk-file");
  }
  return LoadCredentials(id, bt, pk);
}

void KmsOptions::Add(CLI::App* app) {
  app->add_option("--kms-url", url, "KMS URL (https://...)")->required();
  app->add_option("--kms-id", id, "KMS identity (IDRkms); default: the URL");
  app->add_option("--ca-file", ca_file, "PEM CA bundle trusted for the KMS certificate");
  app->add_option("--pin", pin, "public key pin sha256//<base64>");
  app->add_option("--timeout-ms", timeout_ms, "total HTTPS timeout");
}

Result<std::unique_ptr<client::HttpsTransport>> KmsOptions::Transport() const {
  client::HttpsOptions o;
  o.url = url;
  o.ca_file = ca_file;
  o.pinned_pubkey = pin;
  o.total_timeout = std::chrono::milliseconds(timeout_ms);
  return client::HttpsTransport::Create(std::move(o));
}

std::string KmsOptions::Identity() const { return id.empty() ? url : id; }

}  // namespace kms::cli
