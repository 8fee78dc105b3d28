#include "hsm/token_key_ops.h"

namespace kms::hsm {

Result<TokenKeyOps> TokenKeyOps::Create(ports::KeyVault& vault, ports::KeyRef key) {
  KMS_ASSIGN_OR_RETURN(size_t size, vault.KeySize(key));
  return TokenKeyOps(vault, key, size);
}

Status TokenKeyOps::Hmac(crypto::HmacAlg alg, std::span<const uint8_t> data,
                         std::span<uint8_t> out) const {
  // KeyOps::Hmac is const (the key does not change); the vault call is a token operation.
  return vault_->Hmac(key_, alg, data, out);
}

}  // namespace kms::hsm
