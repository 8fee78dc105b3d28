// TokenKeyOps: the crypto::KeyOps interface over one key in the token, so the MIKEY PRF
// (src/crypto/prf.h) runs its HMAC blocks inside the token (architecture.md §2-3).
#pragma once

#include "hsm/token_key_vault.h"
#include "src/crypto/key_ops.h"

namespace kms::hsm {

class TokenKeyOps final : public crypto::KeyOps {
 public:
  // Create: reads the key size once (no token call per PRF block for it). The vault must
  // outlive the object; a stale key later yields kNotFound/kUnavailable from Hmac.
  static Result<TokenKeyOps> Create(ports::KeyVault& vault, ports::KeyRef key);

  Status Hmac(crypto::HmacAlg alg, std::span<const uint8_t> data,
              std::span<uint8_t> out) const override;
  size_t key_size() const override { return key_size_; }
  ports::KeyRef key() const { return key_; }

 private:
  TokenKeyOps(ports::KeyVault& vault, ports::KeyRef key, size_t key_size)
      : vault_(&vault), key_(key), key_size_(key_size) {}

  ports::KeyVault* vault_;
  ports::KeyRef key_;
  size_t key_size_;
};

}  // namespace kms::hsm
