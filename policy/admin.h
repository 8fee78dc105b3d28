// PolicyAdmin: the write side of the policy store, used by kmsctl (issue 9). Every change
// and its audit row commit in ONE transaction (BEGIN IMMEDIATE), and every change bumps the
// policy version that kmsd's readers see without a restart (architecture.md §5). Only
// prepared statements; nothing is built from input.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "policy/sqlite_db.h"
#include "src/core/ports/policy_store.h"

namespace kms::policy {

// PolicySpec: values to set; nullopt leaves a per-user value inherited from the default
// (the system default must have all of them).
struct PolicySpec {
  std::optional<bool> may_request;
  std::optional<uint32_t> max_validity_s;
  std::optional<bool> reuse_allowed;
  std::optional<uint32_t> max_reuse_window_s;
  std::optional<bool> forking_required;
  std::optional<bool> mode3_allowed;
  std::optional<uint8_t> allowed_suites;  // bit mask of ports::Suite
  std::optional<uint32_t> rate_limit_per_min;
  std::optional<std::vector<ports::ResponderRule>> responders;  // set: replaces the list
  std::optional<std::vector<std::string>> apps;
};

struct UserSummary {
  ports::UserInfo user;
  std::vector<std::string> credential_ids;
};

class PolicyAdmin {
 public:
  // Open: opens (and migrates) the database; `operator_id` goes into every audit row.
  static Result<PolicyAdmin> Open(const std::string& path, std::string operator_id);

  Result<int64_t> AddUser(const std::string& name, const std::string& private_identity,
                          const std::vector<std::string>& public_identities);
  Status SetUserEnabled(const std::string& name, bool enabled);
  Status AddCredential(const std::string& user_name, ports::CredentialKind kind,
                       const ports::WrappedCredential& wrapped,
                       std::optional<int64_t> not_before_unix_s,
                       std::optional<int64_t> not_after_unix_s);
  // SetPolicy: the user's policy, or the system default when user_name is empty.
  Status SetPolicy(const std::string& user_name, const PolicySpec& spec);
  Status AddGroup(const std::string& group_identity, const std::string& description);
  Status AddGroupMember(const std::string& group_identity, const std::string& member);
  Status RemoveGroupMember(const std::string& group_identity, const std::string& member);
  Status SetKeyVersion(ports::KeyKind kind, uint32_t version, ports::KeyState state);
  Result<std::vector<ports::KeyVersionInfo>> ListKeyVersions();
  Result<std::vector<UserSummary>> ListUsers();
  Result<std::vector<ports::WrappedCredential>> ListCredentials();

  Db& db() { return db_; }

 private:
  PolicyAdmin(Db db, std::string op) : db_(std::move(db)), operator_(std::move(op)) {}
  // InChange: runs fn in BEGIN IMMEDIATE, bumps the policy version, appends the audit row
  // (action, subject, detail) and commits all of it or nothing.
  template <typename Fn>
  Status InChange(const std::string& action, const std::string& subject, const std::string& detail,
                  Fn&& fn);
  Result<int64_t> UserId(const std::string& name);

  Db db_;
  std::string operator_;
};

}  // namespace kms::policy
