// kmsctl key list|rotate|retire|destroy (issue 9 item 3).
//
// Versions: kmsd uses the newest version of each kind present in the token for new work
// (tickets, checkpoints, wrapping); older versions stay usable for what they already
// protect: retired TPKs open tickets until they expire, retired audit keys verify old
// checkpoints, retired KEKs unwrap credentials still wrapped under them.
//
// Safety rules (refusals exit 1):
//  - the newest version of a kind can be neither retired nor destroyed (rotate first);
//  - destroy needs a retired version;
//  - tpk: destroy is refused while a ticket sealed under it may still be valid, i.e. while
//    retired_at + the largest policy max_validity_s > now (the decision clamps every
//    ticket's validity to it), unless --force;
//  - kek: refused while any credential is still wrapped under it, unless --force (those
//    credentials would become unusable); `rotate kek --so-pin-file` re-wraps them first
//    (cmd_key_rewrap.cc, docs/security-target.md "KEK rotation");
//  - audit: refused while a checkpoint sealed with it exists, unless --force (audit verify
//    could no longer check those checkpoints).
#include <algorithm>
#include <chrono>
#include <iostream>

#include "hsm/key_manager.h"
#include "src/cli/kmsctl/commands.h"
#include "src/daemon/key_rotation.h"

namespace kmsctl {
namespace {

struct KeyOpts {
  std::string kind;
  uint32_t version = 0;
  bool force = false;
  std::string so_pin_file;  // rotate kek: re-wrap the stored credentials
  bool no_rewrap = false;   // rotate kek: explicitly leave them under the old KEK
};

int64_t NowS() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int List(const Globals& g) {
  return ReadAdmin(g, [&](kms::policy::PolicyAdmin& admin) -> kms::Status {
    auto keys = admin.ListKeyVersions();
    if (!keys.ok()) {
      return keys.status();
    }
    auto opt = [](const std::optional<int64_t>& v) {
      return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
    };
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& k : *keys) {
      arr.push_back({{"kind", KeyKindText(k.kind)},
                     {"version", k.version},
                     {"state", KeyStateText(k.state)},
                     {"created", k.created_unix_s},
                     {"retired", opt(k.retired_unix_s)},
                     {"destroyed", opt(k.destroyed_unix_s)}});
      if (!g.json) {
        std::cout << KeyKindText(k.kind) << "\tv" << k.version << "\t" << KeyStateText(k.state)
                  << "\n";
      }
    }
    if (g.json) {
      PrintJson(arr);
    }
    return kms::Status::Ok();
  });
}

int Rotate(kms::hsm::Token& token, kms::policy::PolicyAdmin& admin, kms::ports::KeyKind kind) {
  // The same version choice and transaction as kmsd's automatic rotation.
  kms::Result<uint32_t> rotated = kms::daemon::RotateKey(token, admin, kind);
  if (!rotated.ok()) return Fail(rotated.status());
  const uint32_t v = *rotated;
  std::cout << "created " << kms::hsm::LongTermKeyLabel(ToHsmKind(kind), v)
            << "; older versions retired\n";
  if (kind == kms::ports::KeyKind::kKek) {
    int64_t old = 0;
    for (uint32_t ov = 1; ov < v; ++ov) {
      if (auto n = admin.CredentialsUnderKek(ov); n.ok()) old += *n;
    }
    std::cout << old << " credential(s) are under older KEK versions\n";
  }
  return kExitOk;
}

// CheckNotNewest: the version is registered, not destroyed, and not the newest one.
kms::Result<kms::ports::KeyVersionInfo> CheckNotNewest(kms::hsm::Token& token,
                                                       kms::policy::PolicyAdmin& admin,
                                                       kms::ports::KeyKind kind,
                                                       uint32_t version) {
  KMS_ASSIGN_OR_RETURN(auto info, admin.GetKeyVersion(kind, version));
  if (info.state == kms::ports::KeyState::kDestroyed) {
    return kms::FailedPreconditionError("that version is already destroyed");
  }
  KMS_ASSIGN_OR_RETURN(const uint32_t newest, kms::daemon::NewestKeyVersion(token, admin, kind));
  if (version >= newest) {
    return kms::FailedPreconditionError(
        "that is the newest version, which kmsd uses: rotate first (kmsctl key rotate)");
  }
  return info;
}

int Retire(kms::hsm::Token& token, kms::policy::PolicyAdmin& admin, kms::ports::KeyKind kind,
           uint32_t version) {
  auto info = CheckNotNewest(token, admin, kind, version);
  if (!info.ok()) return Fail(info.status());
  if (info->state == kms::ports::KeyState::kRetired) {
    return Fail(kms::FailedPreconditionError("that version is already retired"));
  }
  if (kms::Status s = admin.SetKeyVersion(kind, version, kms::ports::KeyState::kRetired);
      !s.ok()) {
    return Fail(s);
  }
  std::cout << KeyKindText(kind) << " v" << version << " retired\n";
  return kExitOk;
}

// DestroySafety: why destroying this retired version is unsafe now, or OK.
kms::Status DestroySafety(kms::policy::PolicyAdmin& admin, const kms::ports::KeyVersionInfo& k) {
  switch (k.kind) {
    case kms::ports::KeyKind::kTpk: {
      KMS_ASSIGN_OR_RETURN(uint32_t max_validity, admin.MaxPolicyValidity());
      const int64_t retired = k.retired_unix_s.value_or(NowS());
      const int64_t safe_at = retired + static_cast<int64_t>(max_validity);
      if (safe_at > NowS()) {
        return kms::FailedPreconditionError(
            "tickets sealed under this TPK may still be valid for " +
            std::to_string(safe_at - NowS()) +
            " s (retired + largest policy max_validity_s); --force destroys it anyway");
      }
      return kms::Status::Ok();
    }
    case kms::ports::KeyKind::kKek: {
      KMS_ASSIGN_OR_RETURN(int64_t n, admin.CredentialsUnderKek(k.version));
      if (n > 0) {
        return kms::FailedPreconditionError(
            std::to_string(n) + " credential(s) are wrapped under this KEK and would become "
            "unusable; re-provision them first or use --force");
      }
      return kms::Status::Ok();
    }
    case kms::ports::KeyKind::kAudit: {
      KMS_ASSIGN_OR_RETURN(int64_t n, admin.CheckpointsUnderAuditKey(k.version));
      if (n > 0) {
        return kms::FailedPreconditionError(
            std::to_string(n) +
            " audit checkpoint(s) or archive(s) are sealed with this key; audit verify "
            "could no longer check them; --force destroys it anyway");
      }
      return kms::Status::Ok();
    }
  }
  return kms::InternalError("unknown key kind");
}

int Destroy(kms::hsm::Token& token, kms::policy::PolicyAdmin& admin, kms::ports::KeyKind kind,
            uint32_t version, bool force) {
  auto info = CheckNotNewest(token, admin, kind, version);
  if (!info.ok()) return Fail(info.status());
  if (info->state != kms::ports::KeyState::kRetired) {
    return Fail(kms::FailedPreconditionError("retire the version before destroying it"));
  }
  if (kms::Status s = DestroySafety(admin, *info); !s.ok()) {
    if (!force) return Fail(s);
    std::cerr << "kmsctl: --force: " << s.message() << "\n";
  }
  kms::hsm::KeyManager km(token);
  kms::Status s = admin.DestroyKeyVersion(kind, version, [&]() -> kms::Status {
    // FCS_CKM.4: the token destroys the object. Already absent (an earlier run destroyed
    // it and then failed to commit) counts as done, so a rerun converges.
    kms::Status d = km.DestroyKey(ToHsmKind(kind), version);
    return d.code() == kms::StatusCode::kNotFound ? kms::Status::Ok() : d;
  });
  if (!s.ok()) return Fail(s);
  std::cout << "destroyed " << kms::hsm::LongTermKeyLabel(ToHsmKind(kind), version) << "\n";
  return kExitOk;
}

// Lifecycle: parses the kind, opens token and database, runs the step. `rotate kek` also
// re-wraps (cmd_key_rewrap.cc) unless --no-rewrap says to leave credentials where they are.
int Lifecycle(const Globals& g, const KeyOpts& o, const char* step) {
  auto kind = ParseKeyKind(o.kind);
  if (!kind.ok()) return Fail(kind.status());
  const std::string_view what(step);
  if (what == "rotate" && *kind == kms::ports::KeyKind::kKek) {
    if (o.no_rewrap == !o.so_pin_file.empty()) {
      return Fail(kms::InvalidArgumentError(
          "rotate kek needs --so-pin-file (re-wrap the stored credentials under the new KEK) "
          "or --no-rewrap (leave them under the old one)"));
    }
    if (!o.no_rewrap) {
      return RunRewrap(g, o.so_pin_file, [&](kms::hsm::TokenStack& t, kms::policy::PolicyAdmin& a) {
        return Rotate(*t.token, a, *kind);
      });
    }
  } else if (!o.so_pin_file.empty() || o.no_rewrap) {
    return Fail(kms::InvalidArgumentError("--so-pin-file and --no-rewrap apply to rotate kek"));
  }
  return WithTokenAndAdmin(g, [&](kms::hsm::TokenStack& t, kms::policy::PolicyAdmin& a) {
    if (what == "rotate") return Rotate(*t.token, a, *kind);
    if (what == "retire") return Retire(*t.token, a, *kind, o.version);
    return Destroy(*t.token, a, *kind, o.version, o.force);
  });
}

}  // namespace

void AddKeyCommands(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<KeyOpts>();
  auto* key = app.add_subcommand("key", "token keys")->require_subcommand(1);
  key->add_subcommand("list", "list key versions")->callback([&ctx] {
    ctx.action = [&ctx] { return List(ctx.g); };
  });
  auto* rotate = key->add_subcommand("rotate", "create a new version; retire the old ones");
  rotate->add_option("kind", o->kind, "tpk, kek or audit")->required();
  rotate->add_option("--so-pin-file", o->so_pin_file,
                     "kek: SO PIN file; re-wrap every stored credential under the new KEK "
                     "inside the token");
  rotate->add_flag("--no-rewrap", o->no_rewrap,
                   "kek: leave stored credentials under the old KEK (kmsctl key rewrap later)");
  rotate->callback([&ctx, o] {
    ctx.action = [&ctx, o] { return Lifecycle(ctx.g, *o, "rotate"); };
  });
  AddKeyRewrapCommand(*key, ctx);
  auto* retire = key->add_subcommand("retire", "stop using an older version for new work");
  retire->add_option("kind", o->kind, "tpk, kek or audit")->required();
  retire->add_option("version", o->version)->required()->check(CLI::PositiveNumber);
  retire->callback([&ctx, o] {
    ctx.action = [&ctx, o] { return Lifecycle(ctx.g, *o, "retire"); };
  });
  auto* destroy = key->add_subcommand("destroy", "destroy a retired version in the token");
  destroy->add_option("kind", o->kind, "tpk, kek or audit")->required();
  destroy->add_option("version", o->version)->required()->check(CLI::PositiveNumber);
  destroy->add_flag("--force", o->force, "skip the safety check (tickets, credentials, "
                    "checkpoints that still need the key)");
  destroy->callback([&ctx, o] {
    ctx.action = [&ctx, o] { return Lifecycle(ctx.g, *o, "destroy"); };
  });
}

}  // namespace kmsctl
