#include "src/cli/kmsctl/context.h"

#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <limits>

#include "hsm/ck_rv.h"
#include "src/base/encoding.h"

namespace kmsctl {

std::string OperatorName(const Globals& g) {
  if (!g.op.empty()) {
    return g.op;
  }
  const passwd* pw = getpwuid(getuid());
  return pw != nullptr ? pw->pw_name : "uid-" + std::to_string(getuid());
}

int Fail(const kms::Status& s) {
  std::cerr << "kmsctl: " << s.message() << "\n";
  return s.code() == kms::StatusCode::kInvalidArgument ? kExitUsage : kExitFailed;
}

kms::Result<kms::hsm::TokenConfig> TokenConfigFor(const Globals& g) {
  if (g.pin_file.empty()) {
    return kms::InvalidArgumentError("--pin-file is required for this command");
  }
  kms::hsm::TokenConfig c;
  c.token_uri = g.token_uri;
  c.pin.kind = kms::hsm::PinSource::Kind::kFile;
  c.pin.location = g.pin_file;
  c.pool_size = 2;
  return c;
}

kms::Result<std::unique_ptr<kms::hsm::TokenStack>> OpenToken(const Globals& g) {
  KMS_ASSIGN_OR_RETURN(kms::hsm::TokenConfig c, TokenConfigFor(g));
  CK_RV refused = CKR_OK;
  auto stack = kms::hsm::TokenStack::Open(g.module, std::move(c), &refused);
  if (!stack.ok() && refused != CKR_OK) {
    return LoginRefused(g, "user", refused, stack.status());
  }
  return stack;
}

kms::Status LoginRefused(const Globals& g, std::string_view role, CK_RV rv, const kms::Status& s) {
  // FAU_GEN.1 / checklist 20: a failed administrator authentication is recorded. The token
  // has already refused the PIN, so the database is opened only now and only to append
  // this row: kAuditOnly never creates (init with a wrong PIN leaves no file) nor migrates
  // it, and a read command (audit verify) records the failure too, the one write a read
  // command makes (docs/operations.md "Database file").
  const std::string reason = kms::hsm::CkRvName(rv);
  std::string recorded;
  auto admin = OpenAdmin(g, kms::policy::AdminAccess::kAuditOnly);
  kms::Status w = admin.ok()
                      ? admin->RecordRefusal("admin.login_failed", g.command, "token.pin_refused",
                                             "role=" + std::string(role) + " reason=" + reason)
                      : admin.status();
  if (w.ok()) {
    recorded = "recorded in the audit trail as admin.login_failed";
  } else if (w.code() == kms::StatusCode::kNotFound) {
    recorded = "not audited: no policy database at " + g.db + " yet";
  } else {
    recorded = "NOT audited: " + w.message();
  }
  // CKR_PIN_LOCKED: the token's retry counter ran out (FIA_AFL.1 lives in the token); only
  // the SO (user PIN) or the token's own recovery (SO PIN) can lift it.
  const std::string locked =
      rv == CKR_PIN_LOCKED ? (role == "so" ? "; the SO PIN is locked: see the token's recovery "
                                             "procedure"
                                           : "; the user PIN is locked: the SO must reset it")
                           : "";
  std::string role_text = role == "so" ? "SO" : std::string(role);
  return kms::PermissionDeniedError("the token refused the " + role_text + " PIN (" + s.message() +
                                    ")" + locked + "; login not retried; " + recorded);
}

kms::Result<kms::policy::PolicyAdmin> OpenAdmin(const Globals& g,
                                                kms::policy::AdminAccess access) {
  return kms::policy::PolicyAdmin::Open(g.db, OperatorName(g), access);
}

int WithAdmin(const Globals& g, const std::function<kms::Status(kms::policy::PolicyAdmin&)>& fn,
              kms::policy::AdminAccess access) {
  auto admin = OpenAdmin(g, access);
  if (!admin.ok()) {
    return Fail(admin.status());
  }
  if (kms::Status s = fn(*admin); !s.ok()) {
    return Fail(s);
  }
  return kExitOk;
}

int ReadAdmin(const Globals& g, const std::function<kms::Status(kms::policy::PolicyAdmin&)>& fn) {
  return WithAdmin(g, fn, kms::policy::AdminAccess::kReadOnly);
}

kms::Result<int64_t> ParseTime(const std::string& text) {
  constexpr int64_t kNsPerS = 1000000000;
  // The result is nanoseconds in an int64_t (audit_log.time_ns), which ends at
  // 2262-04-11T23:47:16Z; a later time used to wrap (9999-12-31 became 1816). Times before
  // the epoch mean nothing here either. Both are refused, never clamped silently.
  constexpr int64_t kMaxS = std::numeric_limits<int64_t>::max() / kNsPerS;
  const auto in_range = [&](int64_t s) -> kms::Result<int64_t> {
    if (s < 0 || s > kMaxS) {
      return kms::InvalidArgumentError(
          "time '" + text + "' is outside 1970-01-01T00:00:00Z..2262-04-11T23:47:16Z "
          "(a credential without --not-after never expires)");
    }
    return s * kNsPerS;
  };
  if (!text.empty() && text.size() <= 11 &&
      text.find_first_not_of("0123456789") == std::string::npos) {
    return in_range(std::stoll(text));
  }
  std::tm tm{};
  const char* end = strptime(text.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm);
  if (end == nullptr || *end != '\0') {
    return kms::InvalidArgumentError("time '" + text +
                                     "' must be unix seconds or YYYY-MM-DDTHH:MM:SSZ");
  }
  return in_range(static_cast<int64_t>(timegm(&tm)));
}

int WithTokenAndAdmin(
    const Globals& g,
    const std::function<int(kms::hsm::TokenStack&, kms::policy::PolicyAdmin&)>& fn,
    kms::policy::AdminAccess access,
    const std::function<kms::Status(kms::hsm::TokenStack&)>& before_database) {
  // The token first: init with a wrong PIN, or on a token that cannot hold the keys, creates
  // no database.
  auto stack = OpenToken(g);
  if (!stack.ok()) {
    return Fail(stack.status());
  }
  if (before_database) {
    if (kms::Status s = before_database(**stack); !s.ok()) {
      return Fail(s);
    }
  }
  auto admin = OpenAdmin(g, access);
  if (!admin.ok()) {
    return Fail(admin.status());
  }
  if (kms::Status s = UseRegisteredKek(**stack, *admin); !s.ok()) {
    return Fail(s);
  }
  return fn(**stack, *admin);
}

kms::Result<uint32_t> RegisteredKek(kms::policy::PolicyAdmin& admin) {
  KMS_ASSIGN_OR_RETURN(auto keys, admin.ListKeyVersions());
  uint32_t active = 0;
  for (const auto& k : keys) {
    if (k.kind == kms::ports::KeyKind::kKek && k.state == kms::ports::KeyState::kActive) {
      active = std::max(active, k.version);
    }
  }
  if (active == 0) {
    return kms::NotFoundError("the database registers no active KEK (kmsctl init)");
  }
  return active;
}

kms::Status UseRegisteredKek(kms::hsm::TokenStack& stack, kms::policy::PolicyAdmin& admin) {
  auto kek = RegisteredKek(admin);
  if (!kek.ok()) {
    return kek.status().code() == kms::StatusCode::kNotFound ? kms::Status::Ok() : kek.status();
  }
  stack.vault->credentials().SetWrapKek(*kek);
  return kms::Status::Ok();
}

void PrintJson(const nlohmann::json& j) { std::cout << DumpJson(j, 2) << "\n"; }

std::string DumpJson(const nlohmann::json& j, int indent) {
  return j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

void PutText(nlohmann::json& j, const std::string& key, const std::string& text) {
  // nlohmann::json is the UTF-8 check: its strict dump throws type_error.316 on the first
  // invalid byte (RFC 8259 §8.1 requires UTF-8), its replacing dump yields U+FFFD instead.
  const nlohmann::json value(text);
  try {
    (void)value.dump();
    j[key] = text;
  } catch (const nlohmann::json::type_error&) {
    j[key] = nlohmann::json::parse(DumpJson(value));
    j[key + "_hex"] = kms::HexEncode(kms::AsBytes(text));
  }
}

std::string EscapeText(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    const auto b = static_cast<unsigned char>(c);
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '\t': out += "\\t"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      default:
        if (b < 0x20 || b == 0x7f) {
          char hex[5];
          std::snprintf(hex, sizeof(hex), "\\x%02x", b);
          out += hex;
        } else {
          out += c;
        }
    }
  }
  return out;
}

const char* KeyKindText(kms::ports::KeyKind k) {
  switch (k) {
    case kms::ports::KeyKind::kTpk: return "tpk";
    case kms::ports::KeyKind::kKek: return "kek";
    case kms::ports::KeyKind::kAudit: return "audit";
  }
  return "tpk";
}

const char* KeyStateText(kms::ports::KeyState s) {
  switch (s) {
    case kms::ports::KeyState::kActive: return "active";
    case kms::ports::KeyState::kRetired: return "retired";
    case kms::ports::KeyState::kDestroyed: return "destroyed";
  }
  return "destroyed";
}

kms::Result<kms::ports::KeyKind> ParseKeyKind(const std::string& text) {
  if (text == "tpk") return kms::ports::KeyKind::kTpk;
  if (text == "kek") return kms::ports::KeyKind::kKek;
  if (text == "audit") return kms::ports::KeyKind::kAudit;
  return kms::InvalidArgumentError("key kind must be tpk, kek or audit");
}

kms::hsm::KeyKind ToHsmKind(kms::ports::KeyKind k) {
  switch (k) {
    case kms::ports::KeyKind::kTpk: return kms::hsm::KeyKind::kTicket;
    case kms::ports::KeyKind::kKek: return kms::hsm::KeyKind::kKek;
    case kms::ports::KeyKind::kAudit: return kms::hsm::KeyKind::kAudit;
  }
  return kms::hsm::KeyKind::kTicket;
}

}  // namespace kmsctl
