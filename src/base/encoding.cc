#include "src/base/encoding.h"

#include <array>

namespace kms {
namespace {

constexpr char kHexDigits[] = "0123456789abcdef";
constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr std::array<int8_t, 256> MakeB64Table() {
  std::array<int8_t, 256> t{};
  for (auto& v : t) {
    v = -1;
  }
  for (int i = 0; i < 64; ++i) {
    t[static_cast<uint8_t>(kB64[i])] = static_cast<int8_t>(i);
  }
  return t;
}
constexpr std::array<int8_t, 256> kB64Table = MakeB64Table();

}  // namespace

int HexDigitValue(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

std::string HexEncode(std::span<const uint8_t> bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (uint8_t b : bytes) {
    out.push_back(kHexDigits[b >> 4]);
    out.push_back(kHexDigits[b & 0x0f]);
  }
  return out;
}

namespace {

// HexDecodeInto: decodes `hex` into `out` (hex.size() / 2 bytes, checked by the callers).
Status HexDecodeInto(std::string_view hex, std::span<uint8_t> out) {
  for (size_t i = 0; i < out.size(); ++i) {
    const int hi = HexDigitValue(hex[2 * i]);
    const int lo = HexDigitValue(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      return InvalidArgumentError("invalid hex character at offset " + std::to_string(2 * i));
    }
    out[i] = static_cast<uint8_t>((hi << 4) | lo);
  }
  return Status::Ok();
}

Status CheckHexLength(std::string_view hex) {
  return hex.size() % 2 != 0 ? InvalidArgumentError("hex string has odd length") : Status::Ok();
}

}  // namespace

Result<std::vector<uint8_t>> HexDecode(std::string_view hex) {
  KMS_RETURN_IF_ERROR(CheckHexLength(hex));
  std::vector<uint8_t> out(hex.size() / 2);
  KMS_RETURN_IF_ERROR(HexDecodeInto(hex, out));
  return out;
}

Result<SecretBytes> HexDecodeSecret(std::string_view hex) {
  KMS_RETURN_IF_ERROR(CheckHexLength(hex));
  SecretBytes out(hex.size() / 2);
  KMS_RETURN_IF_ERROR(HexDecodeInto(hex, out.RevealMutable()));  // `out` scrubs itself
  return out;
}

std::string Base64Encode(std::span<const uint8_t> bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const uint32_t v = (uint32_t{bytes[i]} << 16) | (uint32_t{bytes[i + 1]} << 8) | bytes[i + 2];
    out.push_back(kB64[(v >> 18) & 63]);
    out.push_back(kB64[(v >> 12) & 63]);
    out.push_back(kB64[(v >> 6) & 63]);
    out.push_back(kB64[v & 63]);
  }
  const size_t rest = bytes.size() - i;
  if (rest == 1) {
    const uint32_t v = uint32_t{bytes[i]} << 16;
    out.push_back(kB64[(v >> 18) & 63]);
    out.push_back(kB64[(v >> 12) & 63]);
    out.append("==");
  } else if (rest == 2) {
    const uint32_t v = (uint32_t{bytes[i]} << 16) | (uint32_t{bytes[i + 1]} << 8);
    out.push_back(kB64[(v >> 18) & 63]);
    out.push_back(kB64[(v >> 12) & 63]);
    out.push_back(kB64[(v >> 6) & 63]);
    out.push_back('=');
  }
  return out;
}

Result<std::vector<uint8_t>> Base64Decode(std::string_view b64) {
  if (b64.size() % 4 != 0) {
    return InvalidArgumentError("base64 length is not a multiple of 4");
  }
  std::vector<uint8_t> out;
  out.reserve(b64.size() / 4 * 3);
  for (size_t i = 0; i < b64.size(); i += 4) {
    const bool last = i + 4 == b64.size();
    size_t pad = 0;
    if (last) {
      pad = (b64[i + 3] == '=') ? (b64[i + 2] == '=' ? 2 : 1) : 0;
    }
    uint32_t v = 0;
    for (size_t j = 0; j < 4; ++j) {
      const char c = b64[i + j];
      int8_t d = 0;
      if (j >= 4 - pad) {
        d = 0;  // padding position, checked above
      } else {
        d = kB64Table[static_cast<uint8_t>(c)];
        if (d < 0) {
          return InvalidArgumentError("invalid base64 character at offset " +
                                      std::to_string(i + j));
        }
      }
      v = (v << 6) | static_cast<uint32_t>(d);
    }
    out.push_back(static_cast<uint8_t>(v >> 16));
    if (pad < 2) {
      out.push_back(static_cast<uint8_t>(v >> 8));
    }
    if (pad < 1) {
      out.push_back(static_cast<uint8_t>(v));
    }
    // Non-canonical encodings (non-zero bits under the padding) are rejected.
    if ((pad == 1 && (v & 0xff) != 0) || (pad == 2 && (v & 0xffff) != 0)) {
      return InvalidArgumentError("non-canonical base64 padding");
    }
  }
  return out;
}

}  // namespace kms
