#include "hsm/find_scope.h"

#include "hsm/ck_rv.h"

namespace kms::hsm {

Result<FindScope> FindScope::Begin(const CK_FUNCTION_LIST* fn, CK_SESSION_HANDLE session,
                                   AttrTemplate& match) {
  CK_RV rv = fn->C_FindObjectsInit(session, match.data(), match.size());
  if (rv != CKR_OK) {
    return FromCkRv(rv, "C_FindObjectsInit");
  }
  return FindScope(fn, session);
}

FindScope::FindScope(FindScope&& other) noexcept
    : fn_(other.fn_), session_(other.session_), active_(other.active_) {
  other.active_ = false;
}

FindScope::~FindScope() {
  if (active_) {
    // Nothing useful can be done with a failure here: the session is closed by the caller
    // if the search could not be finalised (the next C_FindObjectsInit would say so).
    fn_->C_FindObjectsFinal(session_);
  }
}

Result<std::vector<CK_OBJECT_HANDLE>> FindScope::Next(size_t max) {
  std::vector<CK_OBJECT_HANDLE> out(max);
  CK_ULONG got = 0;
  CK_RV rv = fn_->C_FindObjects(session_, out.data(), checked_ulong_cast(max), &got);
  if (rv != CKR_OK) {
    return FromCkRv(rv, "C_FindObjects");
  }
  out.resize(got);
  return out;
}

Result<std::vector<CK_OBJECT_HANDLE>> FindAll(const CK_FUNCTION_LIST* fn,
                                              CK_SESSION_HANDLE session, AttrTemplate& match,
                                              size_t max_objects) {
  KMS_ASSIGN_OR_RETURN(FindScope scope, FindScope::Begin(fn, session, match));
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
