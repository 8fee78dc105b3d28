// Provisioning for kms-bench through the project's own administration APIs, the way
// kmsctl does it (src/cli/kmsctl): KeyManager for TPK/KEK/audit key v1, PolicyAdmin for key
// versions and the system default policy, PolicyAdmin::ImportUsers for users and their
// credentials, TokenKeyVault::ImportCredential to wrap each PSK under the KEK in the token.
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "hsm/token_stack.h"
#include "src/base/result.h"
#include "src/client/common.h"

namespace kms::bench {

struct ProvisionOptions {
  size_t users = 1000;
  // Distinct PSKs imported into the token; user i gets key i % distinct_keys (same wrapped
  // blob, own credential id). Equal to `users` for the load run; small for the 1M run,
  // where one token import per user would dominate (see docs/performance.md).
  size_t distinct_keys = 1000;
  // Users whose UE side (identity, B-TID, raw PSK) is kept to build requests later: the
  // first min(users, ue_credentials) users.
  size_t ue_credentials = SIZE_MAX;
  bool progress = false;  // a line on stderr per import chunk (50,000 users)
};

struct ProvisionStats {
  size_t users = 0;
  double keys_s = 0;    // TPK, KEK, audit key generated in the token + key versions
  double import_s = 0;  // ImportCredential (C_CreateObject + C_WrapKey + C_DestroyObject)
  double rows_s = 0;    // PolicyAdmin::ImportUsers, 50,000 users per transaction
  double total_s = 0;
};
nlohmann::json ToJson(const ProvisionStats& s);

// UserIdentity / UserPskId: the public identity and B-TID of bench user i.
std::string UserIdentity(size_t i);
std::string UserPskId(size_t i);

// Provision: keys, default policy (anyone may request for *@example.org, forking required,
// 128-bit suite, 1 h, no per-user rate limit) and users 0..n-1. On success out_users (if
// kept) holds user i's UE credentials at index i.
Result<ProvisionStats> Provision(hsm::TokenStack& stack, const std::string& db_path,
                                 const ProvisionOptions& options,
                                 std::vector<client::Credentials>* out_users);

}  // namespace kms::bench
