#include <iostream>
#include <memory>

#include "src/cli/kms_client/commands.h"
#include "src/cli/kms_client/inputs.h"

namespace kms::cli {
namespace {

// KmsLink: the HTTPS transport with every failure of the exchange itself (connection, TLS,
// timeout, an HTTP status other than 200, a Content-Type other than application/mikey, an
// oversized body) reported as kUnavailable, whatever code HttpsTransport gives it, so that
// ExitFor maps all of them to kExitTransport (4) as --help documents. The KMS uses HTTP
// statuses only for transport problems (429, 503 with Retry-After...) and answers every
// protocol outcome with 200 and a MIKEY message (docs/api.md, spec §8.2 item 1): a script
// may retry on 4, while a MIKEY Error or a failed verification after a 200 stays 5.
class KmsLink final : public client::KmsTransport {
 public:
  explicit KmsLink(std::unique_ptr<client::HttpsTransport> https) : https_(std::move(https)) {}
  Result<std::vector<uint8_t>> Exchange(std::span<const uint8_t> mikey_request) override {
    auto r = https_->Exchange(mikey_request);
    if (!r.ok() && r.status().code() != StatusCode::kUnavailable) {
      return UnavailableError(r.status().message());
    }
    return r;
  }

 private:
  std::unique_ptr<client::HttpsTransport> https_;
};

}  // namespace

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

Result<std::unique_ptr<client::KmsTransport>> KmsOptions::Transport() const {
  client::HttpsOptions o;
  o.url = url;
  o.ca_file = ca_file;
  o.pinned_pubkey = pin;
  o.total_timeout = std::chrono::milliseconds(timeout_ms);
  KMS_ASSIGN_OR_RETURN(std::unique_ptr<client::HttpsTransport> https,
                       client::HttpsTransport::Create(std::move(o)));
  std::unique_ptr<client::KmsTransport> link = std::make_unique<KmsLink>(std::move(https));
  return link;
}

std::string KmsOptions::Identity() const { return id.empty() ? url : id; }

}  // namespace kms::cli
