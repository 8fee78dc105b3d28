// KmsOptions: the KMS core's settings (filled by kmsd from its config file). Every value
// has one explicit default here.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "src/mikey/decoder.h"

namespace kms::core {

struct KmsOptions {
  // The KMS identity: IDRkms in responses and granted policies, Identity_kms in MAC inputs
  // (RFC 6043 §5.5; spec §11 A4: always sent).
  std::string kms_identity = "https://kms.example.org";
  // Accepted clock skew either way and replay-cache window (RFC 3830 §5.4; spec §11 A21).
  std::chrono::seconds replay_window{300};
  // Validity granted when the desired policy asks for none and policy allows unbounded
  // tickets is still capped here (a KMS should not mint eternal tickets).
  uint32_t default_validity_s = 3600;
  mikey::DecodeLimits decode_limits{};
  // Per-user request counting for the policy's rate limit: users remembered at most.
  size_t rate_counter_users = 100'000;
};

}  // namespace kms::core
