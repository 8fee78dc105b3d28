// kmsctl init: creates TPK, KEK and audit key version 1 in the token if absent and
// registers them in the database (issue 9 item 1), as well as every version the token
// already holds and the database does not list (the newest becomes the one active version).
// Idempotent; --force creates new versions and retires the old ones. The only command that creates
// the database file.
#include <algorithm>
#include <iostream>
#include <vector>

#include "hsm/key_manager.h"
#include "hsm/token_profile.h"
#include "src/cli/kmsctl/commands.h"

namespace kmsctl {
namespace {

// RegisterExisting: every version of kind the token holds but the database does not list
// (an interrupted first init, or a new --db against a token in use) is registered: the
// newest active (kmsd uses it), the older ones retired now (kmsd no longer uses them for
// new work; their destroy checks run from now). Without a row kmsd refuses every ticket
// sealed under the version (ticket.tpk_destroyed) and key retire/destroy cannot name it.
kms::Status RegisterExisting(kms::policy::PolicyAdmin& a, kms::ports::KeyKind kind,
                             std::vector<uint32_t> versions) {
  KMS_ASSIGN_OR_RETURN(auto known, a.ListKeyVersions());
  std::sort(versions.begin(), versions.end());
  for (const uint32_t v : versions) {
    const bool listed = std::any_of(known.begin(), known.end(), [&](const auto& k) {
      return k.kind == kind && k.version == v;
    });
    if (listed) {
      continue;
    }
    const auto state =
        v == versions.back() ? kms::ports::KeyState::kActive : kms::ports::KeyState::kRetired;
    KMS_RETURN_IF_ERROR(a.SetKeyVersion(kind, v, state));
    std::cout << "registered " << kms::hsm::LongTermKeyLabel(ToHsmKind(kind), v)
              << " found in the token (" << KeyStateText(state) << ")\n";
    if (state != kms::ports::KeyState::kActive) {
      continue;
    }
    // One active version per kind: a newer object the database did not list (e.g. left
    // by a rotation killed before its commit, checklist 28) takes over from the version
    // that was active, which is retired now, as a rotation would have done.
    for (const auto& k : known) {
      if (k.kind == kind && k.state == kms::ports::KeyState::kActive && k.version < v) {
        KMS_RETURN_IF_ERROR(a.SetKeyVersion(kind, k.version, kms::ports::KeyState::kRetired));
        std::cout << "retired " << kms::hsm::LongTermKeyLabel(ToHsmKind(kind), k.version) << "\n";
      }
    }
  }
  return kms::Status::Ok();
}

int Init(const Globals& g, kms::hsm::TokenStack& stack, kms::policy::PolicyAdmin& a,
         bool force) {
  // The token profile was checked before the database was opened (AddInitCommand).
  kms::hsm::KeyManager km(*stack.token);
  const auto existing = km.ListKeys();
  using kms::ports::KeyKind;
  for (KeyKind kind : {KeyKind::kTpk, KeyKind::kKek, KeyKind::kAudit}) {
    std::vector<uint32_t> versions;
    for (const auto& n : existing) {
      if (n.kind == ToHsmKind(kind)) {
        versions.push_back(n.version);
      }
    }
    if (kms::Status s = RegisterExisting(a, kind, versions); !s.ok()) {
      return Fail(s);
    }
    const uint32_t newest =
        versions.empty() ? 0 : *std::max_element(versions.begin(), versions.end());
    if (newest != 0 && !force) {
      std::cout << KeyKindText(kind) << " key version " << newest
                << " already exists (kept; --force creates a new version)\n";
      continue;
    }
    const uint32_t v = newest + 1;
    if (kms::Status s = km.Create({ToHsmKind(kind), v}); !s.ok()) {
      return Fail(s);
    }
    if (newest != 0) {
      if (kms::Status s = a.SetKeyVersion(kind, newest, kms::ports::KeyState::kRetired);
          !s.ok()) {
        return Fail(s);
      }
    }
    if (kms::Status s = a.SetKeyVersion(kind, v, kms::ports::KeyState::kActive); !s.ok()) {
      return Fail(s);
    }
    std::cout << "created " << kms::hsm::LongTermKeyLabel(ToHsmKind(kind), v)
              << " in the token\n";
  }
  std::cout << "database ready: " << g.db << "\n";
  return kExitOk;
}

}  // namespace

void AddInitCommand(CLI::App& app, Context& ctx) {
  auto force = std::make_shared<bool>(false);
  auto* init = app.add_subcommand("init", "create the token keys and the database (idempotent)");
  init->add_flag("--force", *force, "create new key versions even if keys exist");
  init->callback([&ctx, force] {
    ctx.action = [&ctx, force] {
      return WithTokenAndAdmin(
          ctx.g,
          [&](kms::hsm::TokenStack& t, kms::policy::PolicyAdmin& a) {
            return Init(ctx.g, t, a, *force);
          },
          kms::policy::AdminAccess::kCreate,  // the only command that creates the database
          // Before any key and before the database: a token that cannot hold them all is
          // refused as a whole, with every missing mechanism and attribute named
          // (hsm/token_profile.h), and leaves nothing behind.
          [](kms::hsm::TokenStack& t) {
            return kms::hsm::CheckTokenProfile(*t.token, kms::hsm::FullProfile());
          });
    };
  });
}

}  // namespace kmsctl
