// kmsctl cred import (issue 9 item 2): a raw key file (hex, mode 0600) becomes a transient
// session object in the token, is wrapped there under the active KEK and destroyed
// (hsm/credential_store.h); only the wrapped blob reaches the database.
#include <algorithm>
#include <iostream>

#include "hsm/secret_file.h"
#include "src/base/encoding.h"
#include "src/cli/kmsctl/commands.h"

namespace kmsctl {
namespace {

struct CredOpts {
  std::string user, id, key_file;
  bool mode3 = false;
};

int Import(const Globals& g, const CredOpts& o) {
  auto hex = kms::hsm::ReadSecretFile(o.key_file, 4096, true);
  if (!hex.ok()) {
    return Fail(hex.status());
  }
  const std::string text(hex->Reveal().begin(), hex->Reveal().end());
  auto raw = kms::HexDecode(text);
  if (!raw.ok()) {
    return Fail(kms::InvalidArgumentError(o.key_file + ": not a hex key"));
  }
  kms::SecretBytes key_bytes = kms::SecretBytes::CopyFrom(*raw);
  std::fill(raw->begin(), raw->end(), 0);
  auto stack = OpenToken(g);
  if (!stack.ok()) {
    return Fail(stack.status());
  }
  auto wrapped = (*stack)->vault->ImportCredential(o.id, key_bytes);
  if (!wrapped.ok()) {
    return Fail(wrapped.status());
  }
  const auto kind = o.mode3 ? kms::ports::CredentialKind::kMode3TicketKey
                            : kms::ports::CredentialKind::kUePsk;
  const int rc = WithAdmin(g, [&](kms::policy::PolicyAdmin& a) {
    return a.AddCredential(o.user, kind, *wrapped, std::nullopt, std::nullopt);
  });
  if (rc == kExitOk) {
    std::cout << "credential " << o.id << " stored for " << o.user << " (wrapped under KEK v"
              << wrapped->kek_version << ")\n";
  }
  return rc;
}

}  // namespace

void AddCredCommands(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<CredOpts>();
  auto* cred = app.add_subcommand("cred", "credentials")->require_subcommand(1);
  auto* import =
      cred->add_subcommand("import", "import a raw key file (hex), wrapped in the token");
  import->add_option("user", o->user)->required();
  import->add_option("--id", o->id, "credential id, e.g. a B-TID")->required();
  import->add_option("--key-file", o->key_file, "hex key file, mode 0600")->required();
  import->add_flag("--mode3", o->mode3, "a mode-3 ticket key instead of a UE PSK");
  import->callback([&ctx, o] { ctx.action = [&ctx, o] { return Import(ctx.g, *o); }; });
}

}  // namespace kmsctl
