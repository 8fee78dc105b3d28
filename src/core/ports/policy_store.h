// PolicyStore: the read side of the policy database as the KMS core sees it
// (architecture.md §5, spec §8.2 item 6). Implemented by policy/ (SQLite, the only place
// with sqlite3*); a PostgreSQL or dqlite adapter can implement the same interface later.
// Every method is safe to call from many threads at once and sees committed admin changes
// without a restart. Nothing here carries plaintext key material: credentials are the
// KEK-wrapped blobs that KeyVault::OpenCredential unwraps inside the token.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "src/base/result.h"
#include "src/core/ports/key_vault.h"

namespace kms::ports {

// ---- Stored entities -------------------------------------------------------------------

struct UserInfo {
  int64_t user_id = 0;
  std::string name;                             // operator-facing handle, unique
  std::string private_identity;                 // IMPI, unique
  std::vector<std::string> public_identities;   // IMPUs (sip:, sips:, tel: URIs), sorted
  bool enabled = false;
};

enum class CredentialKind : uint8_t { kUePsk, kMode3TicketKey };
enum class CredentialState : uint8_t { kActive, kRevoked };

struct CredentialInfo {
  int64_t user_id = 0;
  CredentialKind kind = CredentialKind::kUePsk;
  WrappedCredential wrapped;                    // credential_id (e.g. B-TID), KEK version, blob
  std::optional<int64_t> not_before_unix_s;     // absent = unbounded on that side
  std::optional<int64_t> not_after_unix_s;
  CredentialState state = CredentialState::kRevoked;
};

// UsableAt: the credential is active and unix_s lies within [not_before, not_after].
inline bool UsableAt(const CredentialInfo& c, int64_t unix_s) {
  if (c.state != CredentialState::kActive) return false;
  if (c.not_before_unix_s && unix_s < *c.not_before_unix_s) return false;
  if (c.not_after_unix_s && unix_s > *c.not_after_unix_s) return false;
  return true;
}

enum class KeyKind : uint8_t { kTpk, kKek, kAudit };
enum class KeyState : uint8_t { kActive, kRetired, kDestroyed };

struct KeyVersionInfo {
  KeyKind kind = KeyKind::kTpk;
  uint32_t version = 0;
  KeyState state = KeyState::kDestroyed;
  int64_t created_unix_s = 0;
  std::optional<int64_t> retired_unix_s;
  std::optional<int64_t> destroyed_unix_s;
};

struct KmsPeer {
  std::string domain;          // e.g. "example.org": IDRkms / responder domain it serves
  std::string url;             // https:// resolve endpoint
  std::string tls_identity;    // expected TLS identity (SAN) of the peer
  bool allowed = false;
};

// ---- Policy -----------------------------------------------------------------------------

// Crypto suites (RFC 6043 §6.1, spec §11 A22): the 128-bit triple (MIKEY-1 PRF, AES-CM-128,
// HMAC-SHA-1-160) and the 256-bit triple. Stored as a bit mask.
enum class Suite : uint8_t { k128 = 1, k256 = 2 };

enum class ResponderRuleKind : uint8_t {
  kExact,   // the responder identity equals value
  kDomain,  // value "*@example.org" or "*.example.org"-style suffix after '*' (see decision.cc)
  kGroup,   // value is a group identity: matches the group itself or any of its members
};

struct ResponderRule {
  ResponderRuleKind kind = ResponderRuleKind::kExact;
  std::string value;
  friend bool operator==(const ResponderRule&, const ResponderRule&) = default;
};

// PolicyRules: fully resolved rules (per-user values already merged over the system default).
struct PolicyRules {
  bool may_request = false;
  std::vector<ResponderRule> allowed_responders;  // empty: nobody may be named as responder
  uint32_t max_validity_s = 0;                    // upper bound on TRe - TRs
  bool reuse_allowed = false;                     // J flag may be granted
  uint32_t max_reuse_window_s = 0;                // validity cap when J is granted
  bool forking_required = false;                  // I flag forced on
  bool mode3_allowed = false;                     // initiator-created tickets (D = 0)
  uint8_t allowed_suites = 0;                     // bit mask of Suite
  std::vector<std::string> allowed_apps;          // IDRapp values; empty = no restriction
  uint32_t rate_limit_per_min = 0;                // 0 = no limit
};

enum class PolicySource : uint8_t { kNone, kSystemDefault, kUserOverSystemDefault };

// EffectivePolicy: everything a decision needs about one user, read in one snapshot.
// user is absent for an unknown user; rules is absent when no system default exists.
struct EffectivePolicy {
  std::optional<UserInfo> user;
  std::optional<PolicyRules> rules;
  PolicySource source = PolicySource::kNone;
  uint64_t policy_version = 0;  // change counter of the policy data (goes into audit rows)
  // Members of every group that rules->allowed_responders names (group identity -> members).
  std::map<std::string, std::set<std::string>> group_members;
};

// ---- Request facts and decisions (the decision itself is policy/decision.h) -------------

struct TicketRequestFacts {
  std::string initiator;                 // IDRi, already MAC-authenticated with the credential
  std::vector<std::string> responders;   // IDRr payloads of the desired TP (RFC 6043 §6.10)
  uint32_t requested_validity_s = 0;     // TRe - TRs; 0 = no bound requested (unbounded)
  bool reuse_requested = false;          // J
  bool forking_requested = false;        // I
  Suite suite = Suite::k128;
  std::vector<std::string> apps;         // IDRapp; empty = all applications (RFC 6043 §6.10)
  uint32_t requests_in_last_minute = 0;  // counted by the caller, excluding this request
};

struct ResolveFacts {
  std::string responder;                        // authenticated IDRr of the resolving user
  std::vector<std::string> ticket_responders;   // IDRr list in the ticket's TP data
  std::set<std::string> responder_groups;       // group identities the responder belongs to
  bool kms_generated = true;                    // D flag; false = mode 3 ticket
  uint32_t requests_in_last_minute = 0;
};

enum class Verdict : uint8_t { kAllow, kAdjust, kDeny };

// Decision: the verdict, the rule that decided it (stable id, stored in the audit row), and
// the granted values. k_flag follows spec §11 A25: set only when a value the initiator asked
// for was changed.
struct Decision {
  Verdict verdict = Verdict::kDeny;
  std::string rule;                     // e.g. "user.disabled", "validity.clamped"
  std::vector<std::string> adjustments; // every adjusting rule, in evaluation order
  uint32_t granted_validity_s = 0;
  bool granted_reuse = false;
  bool granted_forking = false;
  std::vector<std::string> granted_apps;
  bool k_flag = false;
  bool allowed() const { return verdict != Verdict::kDeny; }
};

class PolicyStore {
 public:
  virtual ~PolicyStore() = default;

  // ReadScope: while the object OpenReadScope returned lives, this thread's lookups read one
  // consistent snapshot (one read transaction for a whole message instead of one per call:
  // the decision, its inputs and the policy version audited with it come from the same
  // state). It must be destroyed on the thread that opened it. nullptr: no scope, each call
  // reads its own snapshot (the default).
  class ReadScope {
   public:
    virtual ~ReadScope() = default;
  };
  virtual std::unique_ptr<ReadScope> OpenReadScope() { return nullptr; }

  // FindCredential: the stored (wrapped) credential; kNotFound if unknown. The caller checks
  // UsableAt() and the user's enabled flag.
  virtual Result<CredentialInfo> FindCredential(std::string_view credential_id) = 0;
  // FindUserByIdentity: the user owning a public identity; kNotFound if none.
  virtual Result<UserInfo> FindUserByIdentity(std::string_view public_identity) = 0;
  virtual Result<UserInfo> FindUserById(int64_t user_id) = 0;
  // EffectivePolicyFor: the merged policy of a user (nullopt: no user, system default only).
  // Missing rows are not errors: they produce an EffectivePolicy that denies.
  virtual Result<EffectivePolicy> EffectivePolicyFor(std::optional<int64_t> user_id) = 0;
  // GroupsOf: the group identities that list identity as a member (sorted).
  virtual Result<std::set<std::string>> GroupsOf(std::string_view identity) = 0;
  // KeyVersion: the state of one key version; kNotFound if never registered.
  virtual Result<KeyVersionInfo> KeyVersion(KeyKind kind, uint32_t version) = 0;
  // FindPeer: a KMS peer by domain; kNotFound if unknown (allowed may be false).
  virtual Result<KmsPeer> FindPeer(std::string_view domain) = 0;
  // PolicyVersion: the change counter, bumped by every admin change.
  virtual Result<uint64_t> PolicyVersion() = 0;

  // Authorize*: load the rows for the request (one read snapshot) and apply the pure
  // decision functions of policy/decision.h. Store failures are errors, never "allow".
  virtual Result<Decision> AuthorizeTicketRequest(int64_t user_id,
                                                  const TicketRequestFacts& facts) = 0;
  virtual Result<Decision> AuthorizeResolve(int64_t responder_user_id,
                                            std::optional<int64_t> ticket_initiator_user_id,
                                            const ResolveFacts& facts) = 0;
};

}  // namespace kms::ports
