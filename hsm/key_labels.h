// Long-term key names and versions (architecture.md §3): "kms-tpk-vN" (ticket protection
// key), "kms-kek-vN" (key-encryption key), "kms-audit-vN" (audit sealing key); N is a
// decimal version 1..4294967295 without leading zeros. Per-credential token objects (the
// kTokenObjects storage mode) are "kms-cred-<id>".
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "src/base/result.h"

namespace kms::hsm {

enum class KeyKind : uint8_t { kTicket = 1, kKek = 2, kAudit = 3 };

std::string_view KeyKindName(KeyKind kind);  // "tpk", "kek", "audit"

struct KeyName {
  KeyKind kind = KeyKind::kTicket;
  uint32_t version = 0;
  friend bool operator==(const KeyName&, const KeyName&) = default;
};

// LongTermKeyLabel: "kms-<kind>-v<version>"; version 0 is a programming error.
std::string LongTermKeyLabel(KeyKind kind, uint32_t version);

// ParseLongTermKeyLabel: the inverse; nullopt for any other label (wrong prefix, kind,
// missing or zero version, leading zeros, non-digits, overflow, trailing bytes).
std::optional<KeyName> ParseLongTermKeyLabel(std::string_view label);

// CredentialLabel: "kms-cred-<id>"; the id must be 1..100 printable ASCII bytes without
// spaces (it becomes a CKA_LABEL). kInvalidArgument otherwise.
Result<std::string> CredentialLabel(std::string_view credential_id);

// CKA_ID markers that let the start-up search find long-term keys without touching the
// (possibly many) credential objects.
inline constexpr std::string_view kLongTermKeyId = "kms-long-term";
inline constexpr std::string_view kCredentialKeyId = "kms-credential";

}  // namespace kms::hsm
