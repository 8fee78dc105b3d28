// SecretBytes: owned key material in process memory (per-message keys, MPK, TGK; never a
// long-term key, which stays in the token). Move-only, scrubbed on destruction, no
// printing, no implicit conversion, constant-time equality. Read access goes through the
// greppable Reveal() (Tink's secret access idea).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "src/base/secure_allocator.h"

namespace kms {

class SecretBytes {
 public:
  SecretBytes() = default;
  // SecretBytes(n): n zero bytes, e.g. as the output buffer of a derivation.
  explicit SecretBytes(size_t n) : buf_(n, 0) {}
  explicit SecretBytes(SecureBuffer buf) : buf_(std::move(buf)) {}
  // CopyFrom: copies bytes that are already secret elsewhere (the caller scrubs its copy).
  static SecretBytes CopyFrom(std::span<const uint8_t> bytes);

  SecretBytes(SecretBytes&& other) noexcept = default;
  SecretBytes& operator=(SecretBytes&& other) noexcept = default;
  SecretBytes(const SecretBytes&) = delete;
  SecretBytes& operator=(const SecretBytes&) = delete;
  ~SecretBytes() = default;  // SecureAllocator scrubs the block

  SecretBytes Clone() const { return CopyFrom(buf_); }

  size_t size() const { return buf_.size(); }
  bool empty() const { return buf_.empty(); }

  // Reveal: read access to the key bytes. Every call site is a place a reviewer checks.
  std::span<const uint8_t> Reveal() const { return buf_; }
  // RevealMutable: write access, e.g. for a cipher or PRF writing its output in place.
  std::span<uint8_t> RevealMutable() { return buf_; }

  // Truncate: keeps the first n bytes (n <= size()); the dropped tail is scrubbed.
  void Truncate(size_t n);

  // ConstantTimeEqual: equal lengths and equal bytes, in time independent of the contents.
  bool ConstantTimeEqual(const SecretBytes& other) const;
  bool ConstantTimeEqual(std::span<const uint8_t> other) const;

 private:
  SecureBuffer buf_;
};

// ConstantTimeEquals: byte spans of possibly different lengths (length is not secret).
bool ConstantTimeEquals(std::span<const uint8_t> a, std::span<const uint8_t> b);

}  // namespace kms
