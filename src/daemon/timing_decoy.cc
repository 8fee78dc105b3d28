#include "src/daemon/timing_decoy.h"

#include <string>

#include "hsm/key_labels.h"
#include "src/core/ticket_service.h"

namespace kms::daemon {

Result<ports::WrappedCredential> MakeTimingDecoy(ports::KeyVault& vault, crypto::Random& random,
                                                 bool token_objects) {
  if (!token_objects) return core::GenerateWrappedDecoy(vault, random);
  const std::string id = "kms-timing-decoy";
  Result<ports::WrappedCredential> made = vault.GenerateCredential(id, 32);  // a Ks_NAF's size
  if (made.ok() || made.status().code() != StatusCode::kAlreadyExists) return made;
  // Made by an earlier start: the token-object form names the object by its label.
  KMS_ASSIGN_OR_RETURN(std::string label, hsm::CredentialLabel(id));
  return ports::WrappedCredential{id, 0, std::vector<uint8_t>(label.begin(), label.end())};
}

}  // namespace kms::daemon
