// kmsctl key rewrap, and the re-wrap step of `key rotate kek` (issue 9 item 3): every stored
// credential under an older KEK version is re-wrapped under the one the database registers
// as active, inside the token (hsm/kek_rewrap.h explains the trusted transient key this needs),
// then the new blobs replace the old ones in the database, one transaction and one audit row per
// credential ("credential.rewrap"), a page of credentials at a time.
//
// Order matters: the SO step runs on the module before the user logs in (PKCS#11 allows one
// role per application). A run that stops half way (token error, ^C) leaves every
// credential usable, each under the KEK version its row names; running `key rewrap` again
// finishes the rest. A credential that cannot be re-wrapped (e.g. under a KEK made before
// trusted re-wrap) is reported and left; the others are still moved and the run exits 1 at
// its end (kmsctl cred remove, then provisioning it again, resolves it). kmsd finds a KEK version
// it has not indexed yet by itself (Token::RefreshKeyIndex), so no restart is needed.
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

// CredentialOnly: a re-wrap error that concerns this credential alone (a KEK made before
// trusted re-wrap, a blob that does not unwrap, a KEK version the token lacks): the run
// goes on with the others. Anything else (token gone, database error) stops it.
bool CredentialOnly(const kms::Status& s) {
  switch (s.code()) {
    case kms::StatusCode::kFailedPrecondition:
    case kms::StatusCode::kInvalidArgument:
    case kms::StatusCode::kNotFound:
      return true;
    default:
      return false;
  }
}

// RewrapAll: pages through credentials below the newest KEK and re-wraps them. A credential
// that cannot be re-wrapped is named on stderr (its id and why; never key bytes) and left
// as it is; every other one is moved, and the run fails at its end if any was left.
kms::Status RewrapAll(kms::hsm::Token& token, const kms::hsm::RewrapKey& key,
                      kms::policy::PolicyAdmin& admin) {
  // The target is the KEK the database registers as active, not the token's highest: a
  // rotation killed between its C_GenerateKey and its commit leaves a higher KEK object
  // that no row lists, and credentials moved under it would name a KEK that key list,
  // key destroy's safety check and backup restore's key check cannot see (checklist 28).
  KMS_ASSIGN_OR_RETURN(uint32_t newest, RegisteredKek(admin));
  if (!token.LongTermKey(kms::hsm::KeyKind::kKek, newest).ok()) {
    return kms::FailedPreconditionError("the token lacks kms-kek-v" + std::to_string(newest) +
                                        ", which the database registers as active");
  }
  size_t moved = 0, skipped = 0, failed = 0;
  std::string after;
  kms::Status stop = kms::Status::Ok();
  while (stop.ok()) {
    KMS_ASSIGN_OR_RETURN(auto page, admin.CredentialsBelowKek(newest, after, kPage));
    if (page.empty()) {
      break;
    }
    after = page.back().credential_id;
    std::vector<std::pair<kms::ports::WrappedCredential, kms::ports::WrappedCredential>> pairs;
    pairs.reserve(page.size());
    for (kms::ports::WrappedCredential& old : page) {
      auto fresh = key.Rewrap(token, old, newest);
      if (fresh.ok()) {
        pairs.emplace_back(std::move(old), std::move(*fresh));
        continue;
      }
      if (!CredentialOnly(fresh.status())) {
        stop = fresh.status();  // commit what this page moved so far, then stop
        break;
      }
      ++failed;
      std::cerr << "kmsctl: not re-wrapped: credential " << EscapeText(old.credential_id)
                << ": " << fresh.status().message() << "\n";
    }
    if (!pairs.empty()) {
      KMS_ASSIGN_OR_RETURN(size_t n, admin.ReplaceWrapped(pairs));
      moved += n;
      skipped += pairs.size() - n;
    }
  }
  std::cout << "re-wrapped " << moved << " credential(s) under KEK v" << newest;
  if (skipped > 0) {
    std::cout << "; " << skipped << " changed meanwhile and were left as they are";
  }
  std::cout << "\n";
  KMS_RETURN_IF_ERROR(stop);
  if (failed > 0) {
    return kms::FailedPreconditionError(
        std::to_string(failed) + " credential(s) could not be re-wrapped (listed above) and "
        "stay under their KEK: remove them (kmsctl cred remove ID) and provision them again");
  }
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
  CK_RV refused = CKR_OK;
  auto key = kms::hsm::RewrapKey::Create(**module, g.token_uri, *so_pin, &refused);
  if (!key.ok()) {
    const kms::Status s = key.status().WithContext("SO step");
    return Fail(refused != CKR_OK ? LoginRefused(g, "so", refused, s) : s);
  }
  auto admin = OpenAdmin(g);
  if (!admin.ok()) return Fail(admin.status());
  // The user logs in on the same module (one role per application, after the SO). The
  // stack is assembled here rather than by TokenStack::Open, which unloads the module it
  // was given when the login fails: the re-wrap key, destroyed later, then called into the
  // unloaded module (SIGSEGV after a right SO PIN and a wrong user PIN). Here a failed
  // login returns with the module still loaded, and locals go in reverse order: the key
  // first, then the module.
  auto token = kms::hsm::Token::Open(**module, std::move(*config), &refused);
  if (!token.ok()) {
    return Fail(refused != CKR_OK ? LoginRefused(g, "user", refused, token.status())
                                  : token.status());
  }
  auto stack = std::make_unique<kms::hsm::TokenStack>();
  stack->module = std::move(*module);
  stack->token = std::move(*token);
  stack->vault = std::make_unique<kms::hsm::TokenKeyVault>(*stack->token);
  // The re-wrap key must go before the stack (and the module) does, hence the inner scope.
  int rc = kExitOk;
  {
    std::unique_ptr<kms::hsm::RewrapKey> k = std::move(*key);
    if (before) {
      rc = before(*stack, *admin);
    }
    if (rc == kExitOk) {
      if (kms::Status s = RewrapAll(*stack->token, *k, *admin); !s.ok()) {
        rc = Fail(s);
      }
    }
  }
  return rc;
}

void AddKeyRewrapCommand(CLI::App& key, Context& ctx) {
  auto o = std::make_shared<RewrapOpts>();
  auto* rewrap = key.add_subcommand(
      "rewrap", "re-wrap every credential under an older KEK under the active one, in the token");
  rewrap->add_option("--so-pin-file", o->so_pin_file,
                     "file holding the token's SO PIN (owner-only), for the trusted re-wrap "
                     "key")
      ->required();
  rewrap->callback([&ctx, o] {
    ctx.action = [&ctx, o] { return RunRewrap(ctx.g, o->so_pin_file, nullptr); };
  });
}

}  // namespace kmsctl
