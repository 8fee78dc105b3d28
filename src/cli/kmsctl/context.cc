#include "src/cli/kmsctl/context.h"

#include <pwd.h>
#include <unistd.h>

#include <ctime>
#include <iostream>

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
  return kms::hsm::TokenStack::Open(g.module, std::move(c));
}

kms::Result<kms::policy::PolicyAdmin> OpenAdmin(const Globals& g) {
  return kms::policy::PolicyAdmin::Open(g.db, OperatorName(g));
}

int WithAdmin(const Globals& g,
              const std::function<kms::Status(kms::policy::PolicyAdmin&)>& fn) {
  auto admin = OpenAdmin(g);
  if (!admin.ok()) {
    return Fail(admin.status());
  }
  if (kms::Status s = fn(*admin); !s.ok()) {
    return Fail(s);
  }
  return kExitOk;
}

kms::Result<int64_t> ParseTime(const std::string& text) {
  constexpr int64_t kNsPerS = 1000000000;
  constexpr int64_t kMaxS = 9200000000;  // keeps s * 1e9 inside int64_t
  if (!text.empty() && text.size() <= 11 &&
      text.find_first_not_of("0123456789") == std::string::npos) {
    const int64_t s = std::stoll(text);
    if (s <= kMaxS) {
      return s * kNsPerS;
    }
  }
  std::tm tm{};
  const char* end = strptime(text.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm);
  if (end == nullptr || *end != '\0') {
    return kms::InvalidArgumentError("time '" + text +
                                     "' must be unix seconds or YYYY-MM-DDTHH:MM:SSZ");
  }
  return static_cast<int64_t>(timegm(&tm)) * kNsPerS;
}

int WithTokenAndAdmin(
    const Globals& g,
    const std::function<int(kms::hsm::TokenStack&, kms::policy::PolicyAdmin&)>& fn) {
  auto stack = OpenToken(g);
  if (!stack.ok()) {
    return Fail(stack.status());
  }
  auto admin = OpenAdmin(g);
  if (!admin.ok()) {
    return Fail(admin.status());
  }
  return fn(**stack, *admin);
}

void PrintJson(const nlohmann::json& j) { std::cout << j.dump(2) << "\n"; }

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
