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

Result<uint32_t> NewestKeyVersion(hsm::Token& token, policy::PolicyAdmin& admin,
                                  ports::KeyKind kind) {
  uint32_t newest = 0;
  if (auto v = token.ActiveVersion(HsmKind(kind)); v.ok()) newest = *v;
  KMS_ASSIGN_OR_RETURN(std::vector<ports::KeyVersionInfo> all, admin.ListKeyVersions());
  for (const ports::KeyVersionInfo& k : all) {
    if (k.kind == kind) newest = std::max(newest, k.version);
  }
  return newest;
}

Result<uint32_t> RotateKey(hsm::Token& token, policy::PolicyAdmin& admin, ports::KeyKind kind) {
  KMS_ASSIGN_OR_RETURN(const uint32_t newest, NewestKeyVersion(token, admin, kind));
  const uint32_t next = newest + 1;
  hsm::KeyManager km(token);
  KMS_RETURN_IF_ERROR(admin.RotateKey(kind, next, [&] {
    return km.Create({HsmKind(kind), next});
  }));
  return next;
}

}  // namespace kms::daemon
