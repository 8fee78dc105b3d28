// ParseUsersCsv: the user-import file format of `kmsctl user import` (cmd_user_import.cc
// has the grammar). Pure parsing and checks, no token or database: every problem is
// reported with its 1-based line number, duplicates inside the file name both lines.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "policy/admin.h"
#include "src/base/secret_bytes.h"

namespace kmsctl {

inline constexpr char kUsersCsvHeader[] = "name,impi,identities,credential_id,key,groups";

struct CsvUser {
  size_t line = 0;
  std::string name, impi, credential_id;
  std::vector<std::string> identities, groups;
  std::optional<kms::SecretBytes> raw_key;      // "hex:" keys
  std::optional<std::vector<uint8_t>> wrapped;  // "wrapped:" blobs
  uint32_t wrapped_kek_version = 0;
};

// ParseKeyColumn: "hex:<raw key>" into u->raw_key or "wrapped:<KEK version>:<base64>" into
// u->wrapped; "" on success, else the problem (never echoing key text).
std::string ParseKeyColumn(std::string_view key, CsvUser* u);

// ParseUsersCsv: the users of a file; on any problem *problems is filled and the result
// must be ignored. Key text is read in place from `file` (a SecretBytes buffer) and
// decoded straight into SecretBytes.
std::vector<CsvUser> ParseUsersCsv(std::span<const uint8_t> file,
                                   std::vector<kms::policy::ImportProblem>* problems);

}  // namespace kmsctl
