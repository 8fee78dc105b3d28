// Adapters that let kms::crypto run on keys held in the token through the KeyVault port:
// the PRF's KeyOps (HMAC under a token key) and the Random source (token RNG). The core
// never sees a long-term key's bytes (architecture.md §3).
#pragma once

#include <cstddef>

#include "src/core/ports/key_vault.h"
#include "src/crypto/key_ops.h"
#include "src/crypto/random.h"

namespace kms::core {

// VaultKeyOps: one PRF inkey block that is a token key (all long-term keys are 256 bits,
// so they are exactly one block). Each Hmac call is one token round-trip.
class VaultKeyOps final : public crypto::KeyOps {
 public:
  VaultKeyOps(ports::KeyVault& vault, ports::KeyRef key, size_t key_size)
      : vault_(vault), key_(key), key_size_(key_size) {}
  Status Hmac(crypto::HmacAlg alg, std::span<const uint8_t> data,
              std::span<uint8_t> out) const override {
    return vault_.Hmac(key_, alg, data, out);
  }
  size_t key_size() const override { return key_size_; }

 private:
  ports::KeyVault& vault_;
  ports::KeyRef key_;
  size_t key_size_;
};

// VaultRandom: the token's RNG. A failure fails the request; nothing falls back to another
// generator (evaluator checklist item 4).
class VaultRandom final : public crypto::Random {
 public:
  explicit VaultRandom(ports::KeyVault& vault) : vault_(vault) {}
  Status Fill(std::span<uint8_t> out) override { return vault_.Random(out); }

 private:
  ports::KeyVault& vault_;
};

}  // namespace kms::core
