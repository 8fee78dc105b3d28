// OpenSSL KeyOps backend: the UE side (and tests) run the MIKEY PRF over keys held in
// process memory as SecretBytes. The KMS uses a token-backed KeyOps instead (hsm/).
#pragma once

#include <memory>
#include <span>
#include <vector>

#include "src/base/result.h"
#include "src/base/secret_bytes.h"
#include "src/crypto/key_ops.h"

namespace kms::crypto {

// OpenSslHmacKey: a KeyOps over one key held in memory (EVP_MAC "HMAC"). Immutable after
// construction and safe to use from several threads (each Hmac call has its own context).
class OpenSslHmacKey final : public KeyOps {
 public:
  // Create: takes ownership of key; an empty key is kInvalidArgument.
  static Result<std::unique_ptr<OpenSslHmacKey>> Create(SecretBytes key);

  Status Hmac(HmacAlg alg, std::span<const uint8_t> data, std::span<uint8_t> out) const override;
  [[nodiscard]] size_t key_size() const override { return key_.size(); }

 private:
  explicit OpenSslHmacKey(SecretBytes key) : key_(std::move(key)) {}
  SecretBytes key_;
};

// SoftwareInKey: a PRF inkey held in memory, split into the 256-bit blocks s_1..s_n of
// RFC 3830 §4.1.2 (the last block holds the remainder, 1..32 bytes; an inkey that is an
// exact multiple of 32 bytes has no empty trailing block). blocks() is what Prf() and the
// key-derivation helpers take. Move-only; blocks() stays valid across moves.
class SoftwareInKey {
 public:
  // Create: copies inkey; an empty inkey is kInvalidArgument.
  static Result<SoftwareInKey> Create(const SecretBytes& inkey);

  [[nodiscard]] std::span<const KeyOps* const> blocks() const { return views_; }
  [[nodiscard]] size_t size() const { return size_; }

  ~SoftwareInKey() = default;
  SoftwareInKey(SoftwareInKey&&) noexcept = default;
  SoftwareInKey& operator=(SoftwareInKey&&) noexcept = default;
  SoftwareInKey(const SoftwareInKey&) = delete;
  SoftwareInKey& operator=(const SoftwareInKey&) = delete;

 private:
  SoftwareInKey() = default;
  std::vector<std::unique_ptr<OpenSslHmacKey>> owned_;
  std::vector<const KeyOps*> views_;
  size_t size_ = 0;
};

}  // namespace kms::crypto
