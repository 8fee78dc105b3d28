#include "src/crypto/digest.h"

#include <openssl/evp.h>

#include "src/base/check.h"
#include "src/crypto/openssl_util.h"

namespace kms::crypto {

Sha256Digest Sha256(std::span<const uint8_t> data) {
  Sha256Digest out{};
  unsigned int len = 0;
  const int ok = EVP_Digest(data.data(), data.size(), out.data(), &len, EVP_sha256(), nullptr);
  KMS_CHECK(ok == 1 && len == out.size());
  return out;
}

struct Sha256Stream::Ctx {
  std::unique_ptr<EVP_MD_CTX, FnDeleter<&EVP_MD_CTX_free>> md;
};

Sha256Stream::Sha256Stream(std::unique_ptr<Ctx> ctx) : ctx_(std::move(ctx)) {}
Sha256Stream::Sha256Stream(Sha256Stream&&) noexcept = default;
Sha256Stream& Sha256Stream::operator=(Sha256Stream&&) noexcept = default;
Sha256Stream::~Sha256Stream() = default;

Result<Sha256Stream> Sha256Stream::Create() {
  auto ctx = std::make_unique<Ctx>();
  ctx->md.reset(EVP_MD_CTX_new());
  if (!ctx->md || EVP_DigestInit_ex2(ctx->md.get(), EVP_sha256(), nullptr) != 1) {
    return OsslError("SHA-256 init");
  }
  return Sha256Stream(std::move(ctx));
}

Status Sha256Stream::Update(std::span<const uint8_t> data) {
  if (EVP_DigestUpdate(ctx_->md.get(), data.data(), data.size()) != 1) {
    return OsslError("SHA-256 update");
  }
  return Status::Ok();
}

Result<Sha256Digest> Sha256Stream::Finish() {
  Sha256Digest out{};
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx_->md.get(), out.data(), &len) != 1 || len != out.size()) {
    return OsslError("SHA-256 final");
  }
  return out;
}

}  // namespace kms::crypto
