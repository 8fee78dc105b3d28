// ByteReader: a non-owning, bounds-checked cursor over received bytes (BoringSSL CBS, s2n
// stuffer). Every read either succeeds and advances, or fails and leaves the reader where
// it was. Child readers made by Prefixed*/Sub are bounded by their parent and report
// offsets relative to the outermost buffer, which the MIKEY decoder needs for MAC coverage.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace kms {

class ByteReader {
 public:
  ByteReader() = default;
  explicit ByteReader(std::span<const uint8_t> in, size_t base_offset = 0)
      : in_(in), base_(base_offset) {}

  [[nodiscard]] bool U8(uint8_t* out);
  [[nodiscard]] bool U16(uint16_t* out);  // network byte order
  [[nodiscard]] bool U24(uint32_t* out);
  [[nodiscard]] bool U32(uint32_t* out);
  [[nodiscard]] bool U64(uint64_t* out);
  // Bytes: the next n bytes as a view into the input (valid as long as the input is).
  [[nodiscard]] bool Bytes(size_t n, std::span<const uint8_t>* out);
  [[nodiscard]] bool Skip(size_t n);
  // Sub: a child reader over the next n bytes; the parent advances past them.
  [[nodiscard]] bool Sub(size_t n, ByteReader* out);
  // Prefixed8/16: reads a length prefix, then a child reader over that many bytes.
  [[nodiscard]] bool Prefixed8(ByteReader* out);
  [[nodiscard]] bool Prefixed16(ByteReader* out);
  // PeekU8: the next byte without advancing.
  [[nodiscard]] bool PeekU8(uint8_t* out) const;

  // offset: absolute position of the next unread byte in the outermost buffer.
  size_t offset() const { return base_ + pos_; }
  size_t remaining() const { return in_.size() - pos_; }
  bool empty() const { return pos_ == in_.size(); }
  // Rest: the unread bytes, without advancing.
  std::span<const uint8_t> Rest() const { return in_.subspan(pos_); }

 private:
  bool Take(size_t n, const uint8_t** p);

  std::span<const uint8_t> in_;
  size_t base_ = 0;
  size_t pos_ = 0;
};

}  // namespace kms
