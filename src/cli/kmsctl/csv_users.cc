#include "src/cli/kmsctl/csv_users.h"

#include <algorithm>
#include <charconv>
#include <string_view>
#include <unordered_map>

#include "hsm/key_labels.h"
#include "src/base/encoding.h"

namespace kmsctl {
namespace {

constexpr size_t kMinKeyBytes = 32, kMaxKeyBytes = 64;  // hsm/key_templates.h limits

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (;;) {
    const size_t pos = s.find(sep, start);
    out.push_back(s.substr(start, pos == std::string_view::npos ? pos : pos - start));
    if (pos == std::string_view::npos) return out;
    start = pos + 1;
  }
}

bool Printable(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    return static_cast<unsigned char>(c) >= 0x20 && c != 0x7f;
  });
}

// List: a ';'-separated list; empty items are errors (a stray ';' is a typo).
bool List(std::string_view s, std::vector<std::string>* out) {
  if (s.empty()) return true;
  for (std::string_view item : Split(s, ';')) {
    if (item.empty() || item.size() > 512) return false;
    out->emplace_back(item);
  }
  return true;
}

bool IdentityScheme(std::string_view id) {
  for (std::string_view scheme : {"sip:", "sips:", "tel:"}) {
    if (id.size() > scheme.size() && id.substr(0, scheme.size()) == scheme) return true;
  }
  return false;
}

std::string ParseRow(std::string_view line, CsvUser* u) {
  if (line.find('"') != std::string_view::npos) return "quoted fields are not supported";
  const std::vector<std::string_view> f = Split(line, ',');
  if (f.size() != 6) return "expected 6 fields, found " + std::to_string(f.size());
  if (f[0].empty() || f[0].size() > 256 || !Printable(f[0])) return "name: 1..256 characters";
  if (f[1].empty() || f[1].size() > 512 || !Printable(f[1])) return "impi: 1..512 characters";
  u->name = f[0];
  u->impi = f[1];
  if (f[2].empty() || !List(f[2], &u->identities)) return "identities: at least one, ';'-separated";
  for (const std::string& id : u->identities) {
    if (!IdentityScheme(id) || !Printable(id)) return "identity '" + id + "' is not sip:, sips: or tel:";
  }
  if (f[3].empty() != f[4].empty()) return "credential_id and key must both be set or both empty";
  if (!f[3].empty()) {
    if (auto label = kms::hsm::CredentialLabel(f[3]); !label.ok()) {
      return "credential_id: " + label.status().message();
    }
    u->credential_id = f[3];
    if (std::string err = ParseKeyColumn(f[4], u); !err.empty()) return err;
  }
  if (!List(f[5], &u->groups)) return "groups: ';'-separated group identities";
  return "";
}

}  // namespace

std::string ParseKeyColumn(std::string_view key, CsvUser* u) {
  if (key.substr(0, 4) == "hex:") {
    auto decoded = kms::HexDecodeSecret(key.substr(4));  // never outside a SecretBytes
    if (!decoded.ok()) return "key: not hex";
    kms::SecretBytes k = std::move(decoded).value();
    if (k.size() < kMinKeyBytes || k.size() > kMaxKeyBytes || k.size() % 8 != 0) {
      return "key: raw keys must be 32..64 bytes, a multiple of 8";
    }
    u->raw_key = std::move(k);
    return "";
  }
  if (key.substr(0, 8) == "wrapped:") {
    const std::vector<std::string_view> parts = Split(key.substr(8), ':');
    uint32_t v = 0;
    if (parts.size() != 2 || parts[0].empty() ||
        std::from_chars(parts[0].data(), parts[0].data() + parts[0].size(), v).ptr !=
            parts[0].data() + parts[0].size() ||
        v == 0) {
      return "key: wrapped keys are wrapped:<KEK version>:<base64>";
    }
    auto blob = kms::Base64Decode(parts[1]);
    // RFC 5649 §4.1: n 64-bit blocks of padded key plus one integrity block.
    if (!blob.ok() || blob->size() < kMinKeyBytes + 8 || blob->size() > kMaxKeyBytes + 8 ||
        blob->size() % 8 != 0) {
      return "key: wrapped blob is not base64 of an RFC 5649 wrapped 32..64-byte key";
    }
    u->wrapped = std::move(*blob);
    u->wrapped_kek_version = v;
    return "";
  }
  return "key: must start with hex: or wrapped:";
}

std::vector<CsvUser> ParseUsersCsv(std::span<const uint8_t> file,
                                   std::vector<kms::policy::ImportProblem>* problems) {
  const std::string_view text(reinterpret_cast<const char*>(file.data()), file.size());
  std::vector<CsvUser> out;
  bool header_seen = false;
  // First line of each unique value, to name both lines of a duplicate.
  std::unordered_map<std::string, size_t> names, impis, identities, creds;
  auto unique = [&](std::unordered_map<std::string, size_t>& seen, const std::string& v,
                    size_t line, const char* what) {
    auto [it, fresh] = seen.emplace(v, line);
    if (!fresh) {
      problems->push_back({line, std::string(what) + " '" + v + "' already on line " +
                                     std::to_string(it->second)});
    }
  };
  size_t line_no = 0;
  for (std::string_view line : Split(text, '\n')) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line.front() == '#') continue;
    if (!header_seen) {
      header_seen = true;
      if (line != kUsersCsvHeader) {
        problems->push_back({line_no, std::string("the first line must be the header ") +
                                          kUsersCsvHeader});
        return {};
      }
      continue;
    }
    CsvUser u;
    u.line = line_no;
    if (std::string err = ParseRow(line, &u); !err.empty()) {
      problems->push_back({line_no, err});
      continue;
    }
    unique(names, u.name, line_no, "name");
    unique(impis, u.impi, line_no, "impi");
    for (const std::string& id : u.identities) unique(identities, id, line_no, "identity");
    if (!u.credential_id.empty()) unique(creds, u.credential_id, line_no, "credential_id");
    out.push_back(std::move(u));
  }
  if (!header_seen) {
    problems->push_back({1, std::string("empty file: expected the header ") + kUsersCsvHeader});
  }
  return out;
}

}  // namespace kmsctl
