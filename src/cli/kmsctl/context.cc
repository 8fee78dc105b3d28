#include "src/cli/kmsctl/context.h"

#include <pwd.h>
#include <unistd.h>

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

kms::Result<std::unique_ptr<kms::hsm::TokenStack>> OpenToken(const Globals& g) {
  if (g.pin_file.empty()) {
    return kms::InvalidArgumentError("--pin-file is required for this command");
  }
  kms::hsm::TokenConfig c;
  c.token_uri = g.token_uri;
  c.pin.kind = kms::hsm::PinSource::Kind::kFile;
  c.pin.location = g.pin_file;
  c.pool_size = 2;
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
