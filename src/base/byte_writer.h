// BasicByteWriter<Storage>: builds wire bytes (BoringSSL CBB). Errors are sticky: after an
// overflow or a bad length prefix every further call is ignored and Finish() fails, so a
// builder checks once at the end. Storage is std::vector<uint8_t> for messages or
// SecureBuffer when the output is key material (e.g. a KEMAC plaintext).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

#include "src/base/result.h"
#include "src/base/secure_allocator.h"

namespace kms {

template <typename Storage>
class BasicByteWriter {
 public:
  // A marker returned by Reserve*; filled later by the matching Fill*.
  struct Prefix {
    size_t pos = 0;
    size_t width = 0;
  };

  static constexpr size_t kDefaultMaxSize = 1u << 20;

  explicit BasicByteWriter(size_t max_size = kDefaultMaxSize) : max_size_(max_size) {}

  void U8(uint8_t v) { Append(&v, 1); }
  void U16(uint16_t v) {
    const uint8_t b[2] = {static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v)};
    Append(b, 2);
  }
  void U32(uint32_t v) {
    const uint8_t b[4] = {static_cast<uint8_t>(v >> 24), static_cast<uint8_t>(v >> 16),
                          static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v)};
    Append(b, 4);
  }
  void U64(uint64_t v) {
    U32(static_cast<uint32_t>(v >> 32));
    U32(static_cast<uint32_t>(v));
  }
  void Bytes(std::span<const uint8_t> b) { Append(b.data(), b.size()); }
  void Chars(std::string_view s) {
    Append(reinterpret_cast<const uint8_t*>(s.data()), s.size());
  }

  // Reserve8/16: leaves room for a length prefix to be filled once the data is written.
  Prefix Reserve8() { return Reserve(1); }
  Prefix Reserve16() { return Reserve(2); }
  // Fill: writes the number of bytes written after the prefix into it; a length that does
  // not fit the prefix width makes the writer fail.
  void Fill(Prefix p) {
    if (failed_) {
      return;
    }
    const size_t len = buf_.size() - p.pos - p.width;
    if (p.pos + p.width > buf_.size() || (p.width == 1 && len > 0xff) ||
        (p.width == 2 && len > 0xffff)) {
      failed_ = true;
      return;
    }
    if (p.width == 2) {
      buf_[p.pos] = static_cast<uint8_t>(len >> 8);
      buf_[p.pos + 1] = static_cast<uint8_t>(len);
    } else {
      buf_[p.pos] = static_cast<uint8_t>(len);
    }
  }
  // PatchU8: overwrites one byte already written (e.g. a Next Payload field).
  void PatchU8(size_t pos, uint8_t v) {
    if (failed_ || pos >= buf_.size()) {
      failed_ = true;
      return;
    }
    buf_[pos] = v;
  }

  bool ok() const { return !failed_; }
  size_t size() const { return buf_.size(); }
  // View: the bytes written so far (e.g. to compute a MAC before appending it).
  std::span<const uint8_t> View() const { return buf_; }

  // Finish: the bytes, or kResourceExhausted after an overflow / bad prefix.
  Result<Storage> Finish() && {
    if (failed_) {
      return ResourceExhaustedError("byte writer overflow or invalid length prefix");
    }
    return std::move(buf_);
  }

 private:
  Prefix Reserve(size_t width) {
    Prefix p{buf_.size(), width};
    const uint8_t zeros[2] = {0, 0};
    Append(zeros, width);
    return p;
  }
  void Append(const uint8_t* p, size_t n) {
    if (failed_) {
      return;
    }
    if (n > max_size_ - buf_.size()) {
      failed_ = true;
      return;
    }
    if (n == 0) {
      return;
    }
    // Grow explicitly, then copy: also keeps GCC 12 -O3 from a false -Wstringop-overflow on
    // an inlined vector::insert into a writer it can prove empty.
    const size_t old = buf_.size();
    buf_.resize(old + n);
    std::copy(p, p + n, buf_.begin() + static_cast<std::ptrdiff_t>(old));
  }

  Storage buf_;
  size_t max_size_;
  bool failed_ = false;
};

using ByteWriter = BasicByteWriter<std::vector<uint8_t>>;
using SecretByteWriter = BasicByteWriter<SecureBuffer>;

}  // namespace kms
