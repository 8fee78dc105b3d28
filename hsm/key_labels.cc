#include "hsm/key_labels.h"

#include "src/base/check.h"

namespace kms::hsm {

std::string_view KeyKindName(KeyKind kind) {
  switch (kind) {
    case KeyKind::kTicket:
      return "tpk";
    case KeyKind::kKek:
      return "kek";
    case KeyKind::kAudit:
      return "audit";
  }
  return "unknown";
}

std::string LongTermKeyLabel(KeyKind kind, uint32_t version) {
  KMS_CHECK(version != 0);
  std::string out = "kms-";
  out += KeyKindName(kind);
  out += "-v";
  out += std::to_string(version);
  return out;
}

std::optional<KeyName> ParseLongTermKeyLabel(std::string_view label) {
  constexpr std::string_view kPrefix = "kms-";
  if (label.substr(0, kPrefix.size()) != kPrefix) {
    return std::nullopt;
  }
  label.remove_prefix(kPrefix.size());
  KeyName out;
  bool matched = false;
  for (KeyKind k : {KeyKind::kTicket, KeyKind::kKek, KeyKind::kAudit}) {
    std::string head(KeyKindName(k));
    head += "-v";
    if (label.substr(0, head.size()) == head) {
      out.kind = k;
      label.remove_prefix(head.size());
      matched = true;
      break;
    }
  }
  if (!matched || label.empty() || label.size() > 10 || label.front() == '0') {
    return std::nullopt;
  }
  uint64_t v = 0;
  for (char c : label) {
    if (c < '0' || c > '9') {
      return std::nullopt;
    }
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  if (v > UINT32_MAX) {
    return std::nullopt;
  }
  out.version = static_cast<uint32_t>(v);
  return out;
}

Result<std::string> CredentialLabel(std::string_view credential_id) {
  if (credential_id.empty() || credential_id.size() > 100) {
    return InvalidArgumentError("credential id must be 1..100 bytes");
  }
  for (char c : credential_id) {
    if (c <= ' ' || c > '~') {
      return InvalidArgumentError("credential id must be printable ASCII without spaces");
    }
  }
  return "kms-cred-" + std::string(credential_id);
}

}  // namespace kms::hsm
