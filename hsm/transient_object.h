// TransientObject: C_DestroyObject of a session object on every path out of a scope (the
// transient extractable copies of hsm/credential_store.cc and hsm/kek_rewrap.cc).
#pragma once

#include "hsm/pkcs11.h"
#include "hsm/token.h"

namespace kms::hsm {

class TransientObject {
 public:
  TransientObject(SessionLease& lease, CK_OBJECT_HANDLE h) : lease_(lease), h_(h) {}
  ~TransientObject() {
    // If this fails the object still dies with the session (session objects never
    // outlive the login session); there is nothing better to do with the error.
    lease_.fn()->C_DestroyObject(lease_.handle(), h_);
  }
  TransientObject(const TransientObject&) = delete;
  TransientObject& operator=(const TransientObject&) = delete;

 private:
  SessionLease& lease_;
  CK_OBJECT_HANDLE h_;
};

}  // namespace kms::hsm
