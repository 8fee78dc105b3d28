// FindScope: C_FindObjectsInit ... C_FindObjectsFinal as RAII, so no search is ever left
// open on a session (style.md anti-pattern 4). Used at connect and provisioning time only,
// never on a request path (architecture.md §4).
#pragma once

#include <vector>

#include "hsm/attr_template.h"
#include "hsm/pkcs11.h"
#include "src/base/result.h"

namespace kms::hsm {

// FindAll: every object matching the template, at most max_objects (more is an error).
Result<std::vector<CK_OBJECT_HANDLE>> FindAll(const CK_FUNCTION_LIST* fn,
                                              CK_SESSION_HANDLE session, AttrTemplate& match,
                                              size_t max_objects);

class FindScope {
 public:
  // Begin: C_FindObjectsInit; the scope always calls C_FindObjectsFinal if Begin succeeded.
  static Result<FindScope> Begin(const CK_FUNCTION_LIST* fn, CK_SESSION_HANDLE session,
                                 AttrTemplate& match);
  FindScope(FindScope&& other) noexcept;
  FindScope& operator=(FindScope&&) = delete;
  FindScope(const FindScope&) = delete;
  ~FindScope();

  // Next: up to max handles; an empty vector at the end.
  Result<std::vector<CK_OBJECT_HANDLE>> Next(size_t max);

 private:
  FindScope(const CK_FUNCTION_LIST* fn, CK_SESSION_HANDLE session)
      : fn_(fn), session_(session) {}
  const CK_FUNCTION_LIST* fn_;
  CK_SESSION_HANDLE session_;
  bool active_ = true;
};

}  // namespace kms::hsm
