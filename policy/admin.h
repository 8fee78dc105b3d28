// PolicyAdmin: the write side of the policy store, used by kmsctl (issue 9). Every change
// and its audit row commit in ONE transaction (BEGIN IMMEDIATE), and every change bumps the
// policy version that kmsd's readers see without a restart (architecture.md §5). Only
// prepared statements; nothing is built from input.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policy/audit_archive.h"
#include "policy/audit_chain.h"
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

struct CredentialSummary {
  std::string credential_id;
  ports::CredentialKind kind = ports::CredentialKind::kUePsk;
  uint32_t kek_version = 0;
  std::optional<int64_t> not_before_unix_s, not_after_unix_s;
  bool active = false;
  int64_t created_unix_s = 0;
};

// UserDetail: one user with credentials (never their blobs) and the groups that list one of
// the user's public identities as a member.
struct UserDetail {
  ports::UserInfo user;
  std::vector<CredentialSummary> credentials;
  std::vector<std::string> groups;
};

struct GroupInfo {
  std::string identity, description;
  std::vector<std::string> members;
};

// StoredPolicy: the policy row as stored; a nullopt field of a user row inherits the default.
struct StoredPolicy {
  bool exists = false;
  PolicySpec spec;
  int64_t updated_unix_s = 0;
};

// AuditFilter: every set field must match; time bounds are [since, until).
struct AuditFilter {
  std::optional<int64_t> since_ns, until_ns;
  std::optional<std::string> action;
  std::vector<std::string> subjects;  // empty: any; else actor/initiator/responder in the set
};

// ImportRow: one user of a bulk import (kmsctl user import), with its source line.
struct ImportRow {
  size_t line = 0;
  std::string name, private_identity;
  std::vector<std::string> public_identities;
  std::optional<ports::WrappedCredential> credential;  // already wrapped (no plaintext here)
  ports::CredentialKind kind = ports::CredentialKind::kUePsk;
  std::vector<std::string> groups;  // existing group identities to join
};

struct ImportProblem {
  size_t line = 0;
  std::string message;
};

// AdminAccess: what PolicyAdmin::Open may do to the file.
enum class AdminAccess : uint8_t {
  kCreate,     // create it (mode 0600) if missing, then migrate (kmsctl init, restore)
  kReadWrite,  // it must exist (else kNotFound); migrated if older than this binary
  kReadOnly,   // it must exist at this binary's schema version; the connection is
               // query_only, so nothing is written (kmsctl list/show/verify/export)
  kAuditOnly,  // as kReadOnly but writable: for RecordRefusal only. A refused command
               // neither creates nor migrates the file (kmsctl admin.login_failed rows)
};

class PolicyAdmin {
 public:
  // Open: opens the database as `access` allows; `operator_id` goes into every audit row.
  static Result<PolicyAdmin> Open(const std::string& path, std::string operator_id,
                                  AdminAccess access = AdminAccess::kCreate);

  Result<int64_t> AddUser(const std::string& name, const std::string& private_identity,
                          const std::vector<std::string>& public_identities);
  Status SetUserEnabled(const std::string& name, bool enabled);
  Status AddCredential(const std::string& user_name, ports::CredentialKind kind,
                       const ports::WrappedCredential& wrapped,
                       std::optional<int64_t> not_before_unix_s,
                       std::optional<int64_t> not_after_unix_s);
  // RemoveCredential: deletes a stored credential (the wrapped blob goes with its row) with
  // a "credential.remove" audit row (subject: its user, detail: the id); kNotFound for an
  // unknown id. The id may then be provisioned again, e.g. for a credential that cannot be
  // re-wrapped under a new KEK.
  Status RemoveCredential(const std::string& credential_id);
  // ImportUsers: every row in ONE transaction, one "user.import" audit row per user.
  // Constraint failures (duplicates, unknown group, bad identity) are collected per row
  // with its line; if there is any, everything is rolled back and the problems are
  // returned (an empty vector means committed). progress(n) is called every 1000 rows.
  Result<std::vector<ImportProblem>> ImportUsers(const std::vector<ImportRow>& rows,
                                                 const std::function<void(size_t)>& progress);
  // SetPolicy: the user's policy, or the system default when user_name is empty.
  Status SetPolicy(const std::string& user_name, const PolicySpec& spec);
  Status AddGroup(const std::string& group_identity, const std::string& description);
  Status AddGroupMember(const std::string& group_identity, const std::string& member);
  Status RemoveGroupMember(const std::string& group_identity, const std::string& member);
  Status SetKeyVersion(ports::KeyKind kind, uint32_t version, ports::KeyState state);
  Result<std::vector<ports::KeyVersionInfo>> ListKeyVersions();
  // RotateKey: in ONE transaction marks every active version of kind retired (retired_at =
  // now), registers new_version active, audits "key.rotate", and runs in_token (the token
  // C_GenerateKey) before the commit: a token failure rolls the database back; a failed
  // commit after it leaves an unregistered newer object, which the next rotation skips.
  Status RotateKey(ports::KeyKind kind, uint32_t new_version,
                   const std::function<Status()>& in_token);
  // DestroyKeyVersion: state destroyed + "key.destroy" audit row, with in_token (the token
  // C_DestroyObject) run before the commit. Safety checks are the caller's (kmsctl).
  Status DestroyKeyVersion(ports::KeyKind kind, uint32_t version,
                           const std::function<Status()>& in_token);
  Result<std::vector<UserSummary>> ListUsers();
  Result<std::vector<ports::WrappedCredential>> ListCredentials();

  // Reads for kmsctl's show/list commands (kNotFound for an unknown user).
  Result<UserDetail> GetUser(const std::string& name);
  Result<std::vector<GroupInfo>> ListGroups();
  Result<StoredPolicy> GetPolicy(const std::string& user_name);  // empty: system default
  Result<ports::KeyVersionInfo> GetKeyVersion(ports::KeyKind kind, uint32_t version);
  // MaxPolicyValidity: the largest max_validity_s of any policy row (0 if none): no ticket
  // issued under the current policies is valid for longer (policy/decision.cc clamps).
  Result<uint32_t> MaxPolicyValidity();
  // CredentialsUnderKek: how many stored credentials are wrapped under that KEK version.
  Result<int64_t> CredentialsUnderKek(uint32_t kek_version);
  // CredentialsBelowKek: up to `limit` KEK-wrapped credentials under a version older than
  // newest_kek, in credential_id order after `after` (paging for kmsctl key rewrap).
  Result<std::vector<ports::WrappedCredential>> CredentialsBelowKek(uint32_t newest_kek,
                                                                    const std::string& after,
                                                                    size_t limit);
  // ReplaceWrapped: in ONE transaction, each (old, new) pair replaces the stored blob and
  // KEK version of old.credential_id, but only where the row still holds old's blob and
  // version (a credential re-provisioned meanwhile keeps its new key); one
  // "credential.rewrap" audit row per replaced credential. Returns how many were replaced.
  Result<size_t> ReplaceWrapped(
      const std::vector<std::pair<ports::WrappedCredential, ports::WrappedCredential>>& pairs);
  // CheckpointsUnderAuditKey: how many audit checkpoints and archive records that audit key
  // version sealed.
  Result<int64_t> CheckpointsUnderAuditKey(uint32_t version);

  // KMS peers (RFC 6043 §10 inter-KMS resolution; table kms_peers of 0001_policy.sql).
  // AddPeer: kAlreadyExists for a known domain; RemovePeer: kNotFound for an unknown one.
  Status AddPeer(const ports::KmsPeer& peer);
  Status RemovePeer(const std::string& domain);
  Result<std::vector<ports::KmsPeer>> ListPeers();

  // RecordEvent: an audit row for an operator action that changes no policy row (backup
  // create/restore), in its own transaction.
  Status RecordEvent(const std::string& action, const std::string& subject,
                     const std::string& detail);
  // RecordRestore: the "backup.restore" row, and in the same transaction a mark of lost
  // replay state (ports::kReplayStateLost, now): the next kmsd refuses every message sent
  // before the restore (spec §9.1; what was answered after the backup is unknown).
  Status RecordRestore(const std::string& subject, const std::string& detail);
  // RecordRefusal: an audit row (outcome denied, actor admin:<operator>) for an operator
  // attempt that was refused before it could change anything, e.g. the token refusing
  // the PIN (action "admin.login_failed", rule "token.pin_refused"). Its own IMMEDIATE
  // transaction; the policy version is not bumped (nothing changed). detail must not
  // hold secrets: the caller passes the role and the PKCS#11 code name, never the PIN.
  Status RecordRefusal(const std::string& action, const std::string& subject,
                       const std::string& rule, const std::string& detail);
  // SnapshotTo: a consistent copy of the whole database into a new file (VACUUM INTO; the
  // path is bound, never spliced into SQL). Fails if path exists.
  Status SnapshotTo(const std::string& path);

  // RecordAuditArchive: RecordArchive (policy/audit_archive.h) with this operator's
  // "audit.archive" row (detail: the range, checkpoint, file name and its SHA-256).
  Result<ArchiveRecord> RecordAuditArchive(ports::KeyVault& vault, const ArchivePlan& plan,
                                           const Hash32& file_sha256, const std::string& file_name);

  // ExportAudit: audit rows matching the filter, in chain order (hashes included).
  Result<std::vector<AuditRow>> ExportAudit(const AuditFilter& filter);

  Db& db() { return db_; }

 private:
  // AdminRecord: the audit row of one admin change by this operator, now (actor
  // "admin:<operator>", outcome ok, rule "admin").
  ports::AuditRecord AdminRecord(const std::string& action, const std::string& subject,
                                 uint64_t policy_version, const std::string& detail) const;
  PolicyAdmin(Db db, std::string op) : db_(std::move(db)), operator_(std::move(op)) {}
  // InChange: runs fn in BEGIN IMMEDIATE, bumps the policy version, appends the audit row
  // (action, subject, detail) and commits all of it or nothing.
  template <typename Fn>
  Status InChange(const std::string& action, const std::string& subject, const std::string& detail,
                  Fn&& fn);
  Result<int64_t> UserId(const std::string& name);
  // CountWithVersion: a fixed "SELECT count(*) ... = ?1" query bound to version.
  Result<int64_t> CountWithVersion(std::string_view sql, uint32_t version);

  Db db_;
  std::string operator_;
};

}  // namespace kms::policy
