#include "src/base/byte_reader.h"

namespace kms {

bool ByteReader::Take(size_t n, const uint8_t** p) {
  // The only bounds check: written so that it cannot overflow.
  if (n > in_.size() - pos_) {
    return false;
  }
  *p = in_.data() + pos_;
  pos_ += n;
  return true;
}

bool ByteReader::U8(uint8_t* out) {
  const uint8_t* p = nullptr;
  if (!Take(1, &p)) {
    return false;
  }
  *out = p[0];
  return true;
}

bool ByteReader::U16(uint16_t* out) {
  const uint8_t* p = nullptr;
  if (!Take(2, &p)) {
    return false;
  }
  *out = static_cast<uint16_t>((p[0] << 8) | p[1]);
  return true;
}

bool ByteReader::U24(uint32_t* out) {
  const uint8_t* p = nullptr;
  if (!Take(3, &p)) {
    return false;
  }
  *out = (uint32_t{p[0]} << 16) | (uint32_t{p[1]} << 8) | p[2];
  return true;
}

bool ByteReader::U32(uint32_t* out) {
  const uint8_t* p = nullptr;
  if (!Take(4, &p)) {
    return false;
  }
  *out = (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
  return true;
}

bool ByteReader::U64(uint64_t* out) {
  const uint8_t* p = nullptr;
  if (!Take(8, &p)) {
    return false;
  }
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) {
    v = (v << 8) | p[i];
  }
  *out = v;
  return true;
}

bool ByteReader::Bytes(size_t n, std::span<const uint8_t>* out) {
  const uint8_t* p = nullptr;
  if (!Take(n, &p)) {
    return false;
  }
  *out = std::span<const uint8_t>(p, n);
  return true;
}

bool ByteReader::Skip(size_t n) {
  const uint8_t* p = nullptr;
  return Take(n, &p);
}

bool ByteReader::Sub(size_t n, ByteReader* out) {
  const size_t child_base = offset();
  std::span<const uint8_t> bytes;
  if (!Bytes(n, &bytes)) {
    return false;
  }
  *out = ByteReader(bytes, child_base);
  return true;
}

bool ByteReader::Prefixed8(ByteReader* out) {
  const size_t saved = pos_;
  uint8_t len = 0;
  if (!U8(&len) || !Sub(len, out)) {
    pos_ = saved;
    return false;
  }
  return true;
}

bool ByteReader::Prefixed16(ByteReader* out) {
  const size_t saved = pos_;
  uint16_t len = 0;
  if (!U16(&len) || !Sub(len, out)) {
    pos_ = saved;
    return false;
  }
  return true;
}

bool ByteReader::PeekU8(uint8_t* out) const {
  if (empty()) {
    return false;
  }
  *out = in_[pos_];
  return true;
}

}  // namespace kms
