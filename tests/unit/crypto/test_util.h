// Small helpers shared by the kms::crypto unit tests.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "src/base/encoding.h"
#include "src/base/result.h"
#include "src/base/secret_bytes.h"

namespace kms::crypto::test {

inline std::vector<uint8_t> FromHex(std::string_view hex) {
  auto r = HexDecode(hex);
  if (!r.ok()) {
    ADD_FAILURE() << "bad hex in test: " << hex;
    return {};
  }
  return std::move(r).value();
}

inline SecretBytes SecretFromHex(std::string_view hex) {
  return SecretBytes::CopyFrom(FromHex(hex));
}

inline std::string Hex(std::span<const uint8_t> b) { return HexEncode(b); }
inline std::string Hex(const SecretBytes& b) { return HexEncode(b.Reveal()); }

// Sub: bytes [off, off+len) of v; an out-of-range request fails the test and yields {}.
inline std::span<const uint8_t> Sub(std::span<const uint8_t> v, size_t off, size_t len) {
  if (off > v.size() || len > v.size() - off) {
    ADD_FAILURE() << "range " << off << "+" << len << " outside " << v.size() << " bytes";
    return {};
  }
  return v.subspan(off, len);
}

inline uint16_t U16At(std::span<const uint8_t> v, size_t off) {
  auto b = Sub(v, off, 2);
  return b.empty() ? 0 : static_cast<uint16_t>((b[0] << 8) | b[1]);
}

inline uint32_t U32At(std::span<const uint8_t> v, size_t off) {
  auto b = Sub(v, off, 4);
  uint32_t x = 0;
  for (uint8_t c : b) {
    x = (x << 8) | c;
  }
  return x;
}

inline uint64_t U64At(std::span<const uint8_t> v, size_t off) {
  return (static_cast<uint64_t>(U32At(v, off)) << 32) | U32At(v, off + 4);
}

inline std::vector<uint8_t> Concat(std::initializer_list<std::span<const uint8_t>> parts) {
  std::vector<uint8_t> out;
  for (auto p : parts) {
    out.insert(out.end(), p.begin(), p.end());
  }
  return out;
}

}  // namespace kms::crypto::test
