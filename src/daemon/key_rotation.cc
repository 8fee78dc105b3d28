#include "src/daemon/key_rotation.h"

#include <algorithm>

#include "hsm/key_manager.h"

namespace kms::daemon {
namespace {

hsm::KeyKind HsmKind(ports::KeyKind k) {
  switch (k) {
    case ports::KeyKind::kTpk:
      return hsm::KeyKind::kTicket;
    case ports::KeyKind::kKek:
      return hsm::KeyKind::kKek;
    case ports::KeyKind::kAudit:
      return hsm::KeyKind::kAudit;
  }
  return hsm::KeyKind::kTicket;
}

}  // namespace

Status RotateKey(hsm::Token& token, policy::PolicyAdmin& admin, ports::KeyKind kind) {
  if (kind == ports::KeyKind::kKek) {
    // A KEK rotation re-wraps every credential with the SO's help (kmsctl only).
    return InvalidArgumentError("kmsd does not rotate KEKs");
  }
  uint32_t newest = 0;
  if (auto v = token.ActiveVersion(HsmKind(kind)); v.ok()) newest = *v;
  KMS_ASSIGN_OR_RETURN(std::vector<ports::KeyVersionInfo> all, admin.ListKeyVersions());
  for (const ports::KeyVersionInfo& k : all) {
    if (k.kind == kind) newest = std::max(newest, k.version);
  }
  const uint32_t next = newest + 1;
  hsm::KeyManager km(token);
  return admin.RotateKey(kind, next, [&] { return km.Create({HsmKind(kind), next}); });
}

}  // namespace kms::daemon
