// SHA-256 for identifiers that must not reveal what they identify: replay-cache keys and
// ticket ids in audit rows (never used as a MAC or a key derivation).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>

#include "src/base/result.h"

namespace kms::crypto {

using Sha256Digest = std::array<uint8_t, 32>;

// Sha256: the SHA-256 of data (OpenSSL's one-shot EVP_Digest; cannot fail for SHA-256 with
// the default provider, and a failure would be a broken installation: KMS_CHECK).
Sha256Digest Sha256(std::span<const uint8_t> data);

// Sha256Stream: SHA-256 of data fed in pieces (kmsd's integrity test hashes its own
// executable in 64 KiB reads: memory may be locked with mlockall, so no whole-file buffer).
// Create fails only on a broken OpenSSL installation (kInternal).
class Sha256Stream {
 public:
  static Result<Sha256Stream> Create();
  Sha256Stream(Sha256Stream&&) noexcept;
  Sha256Stream& operator=(Sha256Stream&&) noexcept;
  ~Sha256Stream();
  // Update: kInternal on an OpenSSL failure (the stream is then unusable).
  Status Update(std::span<const uint8_t> data);
  // Finish: the digest; the stream cannot be updated afterwards.
  Result<Sha256Digest> Finish();

 private:
  struct Ctx;
  explicit Sha256Stream(std::unique_ptr<Ctx> ctx);
  std::unique_ptr<Ctx> ctx_;
};

}  // namespace kms::crypto
