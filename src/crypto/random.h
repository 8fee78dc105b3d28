// Random: the source of RANDs and fresh keys (MPK, TGK, RANDRkms ...). The KMS plugs in the
// token RNG (KeyVault::Random); the UE and tools use OpenSslRandom; tests use a
// deterministic fake. An implementation never falls back to another source on failure.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "src/base/result.h"
#include "src/base/secret_bytes.h"

namespace kms::crypto {

class Random {
 public:
  Random() = default;
  virtual ~Random() = default;
  Random(const Random&) = delete;
  Random& operator=(const Random&) = delete;
  Random(Random&&) = delete;
  Random& operator=(Random&&) = delete;

  // Fill: fills out with random bytes; on failure out holds no usable value.
  virtual Status Fill(std::span<uint8_t> out) = 0;
};

// OpenSslRandom: RAND_bytes from the default OpenSSL DRBG. Thread-safe.
class OpenSslRandom final : public Random {
 public:
  Status Fill(std::span<uint8_t> out) override;
};

// kMaxRandomRequest: the largest single request accepted by the helpers below.
inline constexpr size_t kMaxRandomRequest = 4096;

// RandomBytes: n public random bytes (RAND payload values); n ≤ kMaxRandomRequest.
Result<std::vector<uint8_t>> RandomBytes(Random& rng, size_t n);
// RandomSecret: n random bytes as key material (MPK, TGK); n ≤ kMaxRandomRequest.
Result<SecretBytes> RandomSecret(Random& rng, size_t n);

}  // namespace kms::crypto
