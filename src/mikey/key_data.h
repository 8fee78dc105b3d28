// Key data sub-payload chains (KEMAC plaintext): RFC 3830 §6.13; RFC 6043 §6.2.1; spec
// mikey-ticket.md §4.11. Key bytes and salts live in kms::SecretBytes only.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "src/base/result.h"
#include "src/base/secret_bytes.h"
#include "src/mikey/constants.h"
#include "src/mikey/payloads.h"

namespace kms::mikey {

// KeyData: one Key data sub-payload (type 20). Move-only (it owns secrets).
struct KeyData {
  KeyDataType type = KeyDataType::kTgk;
  KvType kv_type = KvType::kSpi;  // spec §11 A8: we give an SPI for every key
  SecretBytes key;                // at most 0xffff bytes
  // salt: present iff KeyDataHasSalt(type) (TGK+SALT, TEK+SALT, GTGK+SALT).
  std::optional<SecretBytes> salt;
  Bytes spi;         // KV = SPI: the SPI / SRTP MKI (at most 255 bytes)
  Bytes valid_from;  // KV = Interval: VF (e.g. 6-byte SRTP index), at most 255 bytes
  Bytes valid_to;    // KV = Interval: VT

  // Clone: an explicit deep copy (secrets included).
  KeyData Clone() const;
};

// DecodeKeyDataChain: parses a decrypted KEMAC plaintext (or a NULL-encrypted TP KEMAC's
// data): Key data sub-payloads linked by Next Payload 20, last = 0, no trailing bytes, at
// most `max_keys` entries. Errors: kDecodeError detail 13 (a garbled plaintext after a
// wrong key also lands here; the error never contains key bytes). Key bytes are copied
// into SecretBytes; the caller still owns (and scrubs) `plaintext`.
Result<std::vector<KeyData>> DecodeKeyDataChain(std::span<const uint8_t> plaintext,
                                                size_t max_keys = 64);

// EncodeKeyDataChain: the plaintext to encrypt into a KEMAC, written with SecretByteWriter
// so no copy of the keys escapes into ordinary memory. kInvalidArgument if a field does
// not fit, if the salt presence contradicts the type, or if KV data does not match kv_type;
// an empty list is invalid.
Result<SecretBytes> EncodeKeyDataChain(const std::vector<KeyData>& keys);

}  // namespace kms::mikey
