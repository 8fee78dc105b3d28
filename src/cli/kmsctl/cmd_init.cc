// kmsctl init: creates TPK, KEK and audit key version 1 in the token if absent and
// registers them in the database (issue 9 item 1). Idempotent; --force creates new versions
// and retires the old ones.
#include <algorithm>
#include <iostream>

#include "hsm/key_manager.h"
#include "src/cli/kmsctl/commands.h"

namespace kmsctl {
namespace {

int Init(const Globals& g, kms::hsm::TokenStack& stack, kms::policy::PolicyAdmin& a,
         bool force) {
  kms::hsm::KeyManager km(*stack.token);
  const auto existing = km.ListKeys();
  using kms::ports::KeyKind;
  for (KeyKind kind : {KeyKind::kTpk, KeyKind::kKek, KeyKind::kAudit}) {
    uint32_t newest = 0;
    for (const auto& n : existing) {
      if (n.kind == ToHsmKind(kind)) {
        newest = std::max(newest, n.version);
      }
    }
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
  init->callback([&ctx, force] { ctx.action = [&ctx, force] {
      return WithTokenAndAdmin(ctx.g, [&](kms::hsm::TokenStack& t, kms::policy::PolicyAdmin& a) {
        return Init(ctx.g, t, a, *force);
      });
    }; });
}

}  // namespace kmsctl
