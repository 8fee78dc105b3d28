// kmsctl context: the global options every command shares, the exit codes, and the few
// helpers that open the token and the database. Commands live in one file per group
// (cmd_*.cc) and register themselves on the CLI11 app through commands.h.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "hsm/token_stack.h"
#include "policy/admin.h"
#include "src/base/result.h"

namespace kmsctl {

// Exit codes (documented in `kmsctl --help` and docs/operations.md).
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;       // refused or failed (message on stderr)
inline constexpr int kExitUsage = 2;        // bad usage or bad input
inline constexpr int kExitAuditBroken = 3;  // audit verify: the trail does not verify
inline constexpr int kExitPartial = 4;      // user import: bad rows found, nothing imported

struct Globals {
  std::string db = "/var/lib/kms/policy.db";
  std::string module = "/usr/lib/softhsm/libsofthsm2.so";
  std::string token_uri = "pkcs11:token=kms";
  std::string pin_file;
  std::string op;
  bool json = false;
  std::string command;  // the subcommand path run, e.g. "key rotate" (set by main)
};

// Context: the globals and the action chosen by the parsed subcommand.
struct Context {
  Globals g;
  std::function<int()> action;
};

// OperatorName: --operator, else the login name of the real uid (audit "admin:<name>").
std::string OperatorName(const Globals& g);
// Fail: prints "kmsctl: <message>" on stderr; kExitUsage for kInvalidArgument, else
// kExitFailed. Messages never carry key bytes or PINs (the layers below guarantee it).
int Fail(const kms::Status& s);
// OpenToken: the token named by --token with the PIN from --pin-file (required). A PIN the
// token refuses is recorded (LoginRefused) before the error is returned.
kms::Result<std::unique_ptr<kms::hsm::TokenStack>> OpenToken(const Globals& g);
// TokenConfigFor: the TokenConfig OpenToken uses (kInvalidArgument without --pin-file).
kms::Result<kms::hsm::TokenConfig> TokenConfigFor(const Globals& g);
// LoginRefused: the token refused the PIN of `role` ("user" or "so") with `rv` (a code for
// which kms::hsm::IsPinRefusal holds) and `s` is the error. Appends one audit row (action
// admin.login_failed, outcome denied, actor admin:<operator>, subject the command, detail
// "role=<role> reason=<CKR name>"; never the PIN) through a short write connection that
// neither creates nor migrates the database (docs/security-target.md "Administrator
// authentication"), and returns s with a message saying so, or why nothing could be
// recorded (no database yet, another schema version, database locked). The code stays
// kPermissionDenied (exit 1): the command fails either way.
kms::Status LoginRefused(const Globals& g, std::string_view role, CK_RV rv, const kms::Status& s);
// OpenAdmin: the policy database. Only `init` creates it (kCreate); change commands need
// it to exist and migrate it (kReadWrite); read commands (list, show, verify, export) open
// it kReadOnly and write nothing. A missing file is kNotFound (exit 1), creating nothing.
kms::Result<kms::policy::PolicyAdmin> OpenAdmin(
    const Globals& g, kms::policy::AdminAccess access = kms::policy::AdminAccess::kReadWrite);
// WithAdmin: opens the database and runs fn; Fail() on any error, kExitOk otherwise.
int WithAdmin(const Globals& g, const std::function<kms::Status(kms::policy::PolicyAdmin&)>& fn,
              kms::policy::AdminAccess access = kms::policy::AdminAccess::kReadWrite);
// ReadAdmin: WithAdmin for read commands (kReadOnly).
int ReadAdmin(const Globals& g, const std::function<kms::Status(kms::policy::PolicyAdmin&)>& fn);
// ParseTime: unix seconds ("1700000000") or RFC 3339 UTC ("2026-11-29T02:00:00Z"), in
// nanoseconds since the epoch (the unit of audit_log.time_ns); kInvalidArgument otherwise,
// also for a time before 1970 or after 2262-04-11T23:47:16Z (the end of int64_t ns).
kms::Result<int64_t> ParseTime(const std::string& text);
// WithTokenAndAdmin: opens the token, runs before_database on it (if given; a refusal is
// Fail()ed before the database is opened, so nothing is created), then opens the database,
// applies UseRegisteredKek and runs fn (which returns the exit code); Fail() if either cannot
// be opened.
int WithTokenAndAdmin(
    const Globals& g,
    const std::function<int(kms::hsm::TokenStack&, kms::policy::PolicyAdmin&)>& fn,
    kms::policy::AdminAccess access = kms::policy::AdminAccess::kReadWrite,
    const std::function<kms::Status(kms::hsm::TokenStack&)>& before_database = nullptr);
// RegisteredKek: the KEK version the database registers as active (the newest if, against
// the rules, several are); kNotFound if none is (kmsctl init registers one).
kms::Result<uint32_t> RegisteredKek(kms::policy::PolicyAdmin& admin);
// UseRegisteredKek: new credentials are wrapped under RegisteredKek, never under a higher
// KEK object the database does not list (one left by a rotation killed before its commit;
// checklist 28). OK and no change while the database registers no KEK yet (init).
kms::Status UseRegisteredKek(kms::hsm::TokenStack& stack, kms::policy::PolicyAdmin& admin);
// PrintJson: pretty JSON on stdout (DumpJson with indent 2).
void PrintJson(const nlohmann::json& j);
// DumpJson: j as JSON text; never throws. A string that is not valid UTF-8 (audit rows carry
// identities and credential ids exactly as clients sent them) has each invalid byte
// replaced by U+FFFD instead of making nlohmann::json throw type_error.316.
std::string DumpJson(const nlohmann::json& j, int indent = -1);
// PutText: j[key] = text when text is valid UTF-8. Otherwise j[key] is text with every
// invalid byte replaced by U+FFFD and j[key + "_hex"] the lowercase hex of the bytes as
// stored, so the exact value stays recoverable (docs/operations.md "Output of stored text").
void PutText(nlohmann::json& j, const std::string& key, const std::string& text);
// EscapeText: text for one tab-separated, one-line field: backslash, tab, newline and
// carriage return become \\, \t, \n, \r and every other control byte (0x00-0x1f, 0x7f)
// \xHH, so a stored value can neither start a line nor a field of its own. Reversible;
// bytes from 0x80 on (UTF-8 or not) are kept as they are.
std::string EscapeText(std::string_view text);

const char* KeyKindText(kms::ports::KeyKind k);
const char* KeyStateText(kms::ports::KeyState s);
// ParseKeyKind: "tpk", "kek" or "audit"; kInvalidArgument otherwise.
kms::Result<kms::ports::KeyKind> ParseKeyKind(const std::string& text);
kms::hsm::KeyKind ToHsmKind(kms::ports::KeyKind k);

}  // namespace kmsctl
