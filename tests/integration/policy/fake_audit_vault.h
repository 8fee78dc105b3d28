// FakeAuditVault: a KeyVault for the policy integration tests that holds one audit key
// version in memory and computes HMAC-SHA-256 with OpenSSL (kms::crypto::OpenSslHmacKey).
// Only the audit-key methods work; every other method is kFailedPrecondition. Thread-safe: the
// key is immutable after construction and OpenSslHmacKey::Hmac uses a context per call.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "src/base/secret_bytes.h"
#include "src/core/ports/key_vault.h"
#include "src/crypto/openssl_key_ops.h"

namespace kms::policy::testing {

class FakeAuditVault final : public ports::KeyVault {
 public:
  static constexpr uint32_t kVersion = 1;
  static constexpr uint64_t kKeyId = 7;

  // fill: the (test-only) key byte, repeated 32 times.
  explicit FakeAuditVault(uint8_t fill = 0xa1) {
    const std::vector<uint8_t> raw(32, fill);
    auto key = crypto::OpenSslHmacKey::Create(SecretBytes::CopyFrom(raw));
    if (key.ok()) key_ = std::move(*key);
  }

  Status Hmac(ports::KeyRef key, crypto::HmacAlg alg, std::span<const uint8_t> data,
              std::span<uint8_t> out) override {
    if (key_ == nullptr) return InternalError("fake audit key not created");
    if (key.id != kKeyId) return NotFoundError("unknown key reference");
    return key_->Hmac(alg, data, out);
  }
  Status Random(std::span<uint8_t>) override { return Unimplemented(); }
  Result<size_t> KeySize(ports::KeyRef key) override {
    if (key.id != kKeyId || key_ == nullptr) return NotFoundError("unknown key reference");
    return key_->key_size();
  }
  Result<uint32_t> ActiveTicketKeyVersion() override { return Unimplemented(); }
  Result<ports::KeyRef> TicketKey(uint32_t) override { return Unimplemented(); }
  Result<uint32_t> ActiveAuditKeyVersion() override { return kVersion; }
  Result<ports::KeyRef> AuditKey(uint32_t version) override {
    if (version != kVersion) return NotFoundError("unknown audit key version");
    return ports::KeyRef{kKeyId};
  }
  Result<ports::KeyRef> OpenCredential(const ports::WrappedCredential&) override {
    return Unimplemented();
  }
  Result<ports::WrappedCredential> GenerateCredential(const std::string&, size_t) override {
    return Unimplemented();
  }
  Result<ports::WrappedCredential> ImportCredential(const std::string&,
                                                    const SecretBytes&) override {
    return Unimplemented();
  }

 private:
  static Status Unimplemented() { return FailedPreconditionError("not used by the policy tests"); }
  std::unique_ptr<crypto::OpenSslHmacKey> key_;
};

}  // namespace kms::policy::testing
