// FindScope: C_FindObjectsInit ... C_FindObjectsFinal as RAII, so no search is ever left
// open on a session (style.md anti-pattern 4). Used at connect and provisioning time only,
// never on a request path (architecture.md §4). Every search call goes through the lease's
// Check, like any other token call: a session- or token-loss code from C_FindObjectsInit or
// C_FindObjects marks the lease broken (never pooled again) and the token lost.
#pragma once

#include <vector>

#include "hsm/attr_template.h"
#include "hsm/pkcs11.h"
#include "hsm/token.h"
#include "src/base/result.h"

namespace kms::hsm {

// FindAll: every object matching the template, at most max_objects (more is an error).
Result<std::vector<CK_OBJECT_HANDLE>> FindAll(SessionLease& lease, AttrTemplate& match,
                                              size_t max_objects);

class FindScope {
 public:
  // Begin: C_FindObjectsInit; the scope always calls C_FindObjectsFinal if Begin succeeded.
  static Result<FindScope> Begin(SessionLease& lease, AttrTemplate& match);
  FindScope(FindScope&& other) noexcept;
  FindScope& operator=(FindScope&&) = delete;
  FindScope(const FindScope&) = delete;
  ~FindScope();

  // Next: up to max handles; an empty vector at the end.
  Result<std::vector<CK_OBJECT_HANDLE>> Next(size_t max);

 private:
  explicit FindScope(SessionLease& lease) : lease_(&lease) {}
  SessionLease* lease_;
  bool active_ = true;
};

}  // namespace kms::hsm
