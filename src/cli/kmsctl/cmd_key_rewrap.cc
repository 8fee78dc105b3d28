// kmsctl key rewrap, and the re-wrap step of `key rotate kek` (issue 9 item 3): every stored
// credential under an older KEK version is re-wrapped under the newest one inside the
// token (hsm/kek_rewrap.h explains the trusted transient key this needs), then the new
// blobs replace the old ones in the database, one transaction and one audit row per
// credential ("credential.rewrap"), a page of credentials at a time.
//
// Order matters: the SO step runs on the module before the user logs in (PKCS#11 allows one
// role per application). A run that stops half way (token error, ^C) leaves every
// credential usable, each under the KEK version its row names; running `key rewrap` again
// finishes the rest. kmsd finds a KEK version it has not indexed yet by itself
// (Token::RefreshKeyIndex), so no restart is needed.
#include <iostream>
#include <utility>

#include "hsm/kek_rewrap.h"
#include "src/cli/kmsctl/commands.h"

namespace kmsctl {
namespace {

constexpr size_t kPage = 1000;  // credentials per database transaction

struct RewrapOpts {
  std::string so_pin_file;
};

// RewrapAll: pages through credentials below the newest KEK and re-wraps them.
kms::Status RewrapAll(kms::hsm::Token& token, const kms::hsm::RewrapKey& key,
                      kms::policy::PolicyAdmin& admin) {
  KMS_ASSIGN_OR_RETURN(uint32_t newest, token.ActiveVersion(kms::hsm::KeyKind::kKek));
  size_t moved = 0, skipped = 0;
  std::string after;
  for (;;) {
    KMS_ASSIGN_OR_RETURN(auto page, admin.CredentialsBelowKek(newest, after, kPage));
    if (page.empty()) {
      break;
    }
    after = page.back().credential_id;
    std::vector<std::pair<kms::ports::WrappedCredential, kms::ports::WrappedCredential>> pairs;
    pairs.reserve(page.size());
    for (kms::ports::WrappedCredential& old : page) {
      KMS_ASSIGN_OR_RETURN(kms::ports::WrappedCredential fresh, key.Rewrap(token, old, newest));
      pairs.emplace_back(std::move(old), std::move(fresh));
    }
    KMS_ASSIGN_OR_RETURN(size_t n, admin.ReplaceWrapped(pairs));
    moved += n;
    skipped += pairs.size() - n;
  }
  std::cout << "re-wrapped " << moved << " credential(s) under KEK v" << newest;
  if (skipped > 0) {
    std::cout << "; " << skipped << " changed meanwhile and were left as they are";
  }
  std::cout << "\n";
  return kms::Status::Ok();
}

}  // namespace

int RunRewrap(const Globals& g, const std::string& so_pin_file,
              const std::function<int(kms::hsm::TokenStack&, kms::policy::PolicyAdmin&)>&
                  before) {
  if (so_pin_file.empty()) {
    return Fail(kms::InvalidArgumentError("--so-pin-file is required to re-wrap"));
  }
  auto config = TokenConfigFor(g);
  if (!config.ok()) return Fail(config.status());
  kms::hsm::PinSource so{kms::hsm::PinSource::Kind::kFile, so_pin_file};
  auto so_pin = so.Read();
  if (!so_pin.ok()) return Fail(so_pin.status().WithContext("SO PIN"));
  auto module = kms::hsm::P11Module::Open(g.module);
  if (!module.ok()) return Fail(module.status());
  auto key = kms::hsm::RewrapKey::Create(**module, g.token_uri, *so_pin);
  if (!key.ok()) return Fail(key.status().WithContext("SO step"));
  auto admin = OpenAdmin(g);
  if (!admin.ok()) return Fail(admin.status());
  // The module moves into the stack; the re-wrap key must go before the stack (and the
  // module) does, hence the inner scope.
  auto stack = kms::hsm::TokenStack::Open(std::move(*module), std::move(*config));
  if (!stack.ok()) return Fail(stack.status());
  int rc = kExitOk;
  {
    std::unique_ptr<kms::hsm::RewrapKey> k = std::move(*key);
    if (before) {
      rc = before(**stack, *admin);
    }
    if (rc == kExitOk) {
      if (kms::Status s = RewrapAll(*(*stack)->token, *k, *admin); !s.ok()) {
        rc = Fail(s);
      }
    }
  }
  return rc;
}

void AddKeyRewrapCommand(CLI::App& key, Context& ctx) {
  auto o = std::make_shared<RewrapOpts>();
  auto* rewrap = key.add_subcommand(
      "rewrap", "re-wrap every credential under an older KEK under the newest, in the token");
  rewrap->add_option("--so-pin-file", o->so_pin_file,
                     "file holding the token's SO PIN (owner-only), for the trusted re-wrap "
                     "key")
      ->required();
  rewrap->callback([&ctx, o] {
    ctx.action = [&ctx, o] { return RunRewrap(ctx.g, o->so_pin_file, nullptr); };
  });
}

}  // namespace kmsctl
