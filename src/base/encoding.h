// Hex and base64 (RFC 4648 §4) for test vectors, CLI input/output and SDP a=key-mgmt
// lines. Decoders are strict: any character outside the alphabet, a wrong length or bad
// padding is an error. Never use these on key material that will be logged.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "src/base/result.h"
#include "src/base/secret_bytes.h"

namespace kms {

// HexDigitValue: 0-15 for one hex digit of either case, -1 for anything else.
int HexDigitValue(char c);

// HexEncode: lowercase hex.
std::string HexEncode(std::span<const uint8_t> bytes);
// HexDecode: accepts upper and lower case; an odd length or non-hex character fails.
Result<std::vector<uint8_t>> HexDecode(std::string_view hex);
// HexDecodeSecret: HexDecode for key material (PSK files, key columns): the bytes are only
// ever in a SecretBytes, so they are scrubbed on every path, the error path included. The
// error text names the offset, never a byte.
Result<SecretBytes> HexDecodeSecret(std::string_view hex);

// Base64Encode: standard alphabet with '=' padding.
std::string Base64Encode(std::span<const uint8_t> bytes);
// Base64Decode: standard alphabet; length a multiple of 4; padding only at the end; the
// unused bits of the last symbol must be zero (so every input has one encoding).
Result<std::vector<uint8_t>> Base64Decode(std::string_view b64);

// AsBytes: the bytes of a string (identities, labels), without copying.
inline std::span<const uint8_t> AsBytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

}  // namespace kms
