#include "src/daemon/timing_decoy.h"

#include <string>

#include "hsm/key_labels.h"
#include "src/base/encoding.h"

namespace kms::daemon {

Result<ports::WrappedCredential> MakeTimingDecoy(ports::KeyVault& vault, crypto::Random& random,
                                                 bool token_objects) {
  constexpr size_t kKeyBytes = 32;  // a GBA Ks_NAF (spec §3)
  if (!token_objects) {
    uint8_t tag[8];
    KMS_RETURN_IF_ERROR(random.Fill(tag));
    return vault.GenerateCredential("kms-timing-decoy-" + HexEncode(tag), kKeyBytes);
  }
  const std::string id = "kms-timing-decoy";
  Result<ports::WrappedCredential> made = vault.GenerateCredential(id, kKeyBytes);
  if (made.ok() || made.status().code() != StatusCode::kAlreadyExists) return made;
  // Made by an earlier start: the token-object form names the object by its label.
  KMS_ASSIGN_OR_RETURN(std::string label, hsm::CredentialLabel(id));
  return ports::WrappedCredential{id, 0, std::vector<uint8_t>(label.begin(), label.end())};
}

}  // namespace kms::daemon
