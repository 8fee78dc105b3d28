#include "hsm/find_scope.h"

#include "hsm/ck_rv.h"

namespace kms::hsm {

Result<FindScope> FindScope::Begin(SessionLease& lease, AttrTemplate& match) {
  KMS_RETURN_IF_ERROR(
      lease.Check(lease.fn()->C_FindObjectsInit(lease.handle(), match.data(), match.size()),
                  "C_FindObjectsInit"));
  return FindScope(lease);
}

FindScope::FindScope(FindScope&& other) noexcept : lease_(other.lease_), active_(other.active_) {
  other.active_ = false;
}

FindScope::~FindScope() {
  if (active_) {
    // A search that cannot be finalised would make the session's next C_FindObjectsInit
    // fail with CKR_OPERATION_ACTIVE: the session is not pooled again.
    if (lease_->fn()->C_FindObjectsFinal(lease_->handle()) != CKR_OK) {
      lease_->MarkBroken();
    }
  }
}

Result<std::vector<CK_OBJECT_HANDLE>> FindScope::Next(size_t max) {
  std::vector<CK_OBJECT_HANDLE> out(max);
  CK_ULONG got = 0;
  KMS_RETURN_IF_ERROR(lease_->Check(
      lease_->fn()->C_FindObjects(lease_->handle(), out.data(), checked_ulong_cast(max), &got),
      "C_FindObjects"));
  out.resize(got);
  return out;
}

Result<std::vector<CK_OBJECT_HANDLE>> FindAll(SessionLease& lease, AttrTemplate& match,
                                              size_t max_objects) {
  KMS_ASSIGN_OR_RETURN(FindScope scope, FindScope::Begin(lease, match));
  std::vector<CK_OBJECT_HANDLE> all;
  while (true) {
    KMS_ASSIGN_OR_RETURN(std::vector<CK_OBJECT_HANDLE> batch, scope.Next(64));
    if (batch.empty()) {
      break;
    }
    all.insert(all.end(), batch.begin(), batch.end());
    if (all.size() > max_objects) {
      return ResourceExhaustedError("C_FindObjects: more matching objects than expected");
    }
  }
  return all;
}

}  // namespace kms::hsm
